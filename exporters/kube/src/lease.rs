//! Leader election with a `coordination.k8s.io/v1` Lease: the holder renews it every
//! third of its duration; another candidate takes it over once it has not been renewed
//! for the whole duration. Conflicting writes lose through the resource version.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::PostParams;
use kube::{Api, Client};

use crate::Error;

/// What a candidate does with the lease it read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// No lease exists: create it.
    Create,
    /// We hold it: renew.
    Renew,
    /// Its holder let it expire (or there is none): take it over.
    TakeOver,
    /// Someone else holds it.
    Follow,
}

/// Decides from the lease's spec (`None`: no lease) for candidate `me` at `now`.
pub fn decide(lease: Option<&LeaseSpec>, me: &str, now: Timestamp) -> Decision {
    let Some(spec) = lease else {
        return Decision::Create;
    };
    let holder = spec.holder_identity.as_deref().unwrap_or("");
    if holder == me {
        return Decision::Renew;
    }
    let secs = spec.lease_duration_seconds.unwrap_or(0).max(0) as i64;
    let expired = match &spec.renew_time {
        Some(t) => t.0.as_second() + secs <= now.as_second(),
        None => true,
    };
    if holder.is_empty() || expired {
        Decision::TakeOver
    } else {
        Decision::Follow
    }
}

/// A named lease in a namespace that candidates compete for.
pub struct LeaseLock {
    api: Api<Lease>,
    name: String,
    identity: String,
    duration: Duration,
}

impl LeaseLock {
    /// The lease `namespace/name`, held as `identity` for `duration` per renewal.
    pub fn new(
        client: Client,
        namespace: &str,
        name: &str,
        identity: &str,
        duration: Duration,
    ) -> LeaseLock {
        LeaseLock {
            api: Api::namespaced(client, namespace),
            name: name.to_string(),
            identity: identity.to_string(),
            duration,
        }
    }

    /// Reads the lease and creates, renews or takes it over as [`decide`] says; true when
    /// this candidate holds it afterwards. A write that loses a race (409) is `false`.
    pub async fn try_acquire_or_renew(&self) -> Result<bool, Error> {
        let now = Timestamp::now();
        let current = self.api.get_opt(&self.name).await?;
        let decision = decide(
            current.as_ref().and_then(|l| l.spec.as_ref()),
            &self.identity,
            now,
        );
        let stamp = Some(MicroTime(now));
        let result = match (decision, current) {
            (Decision::Follow, _) => return Ok(false),
            (Decision::Create, _) | (_, None) => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.name.clone()),
                        ..Default::default()
                    },
                    spec: Some(LeaseSpec {
                        holder_identity: Some(self.identity.clone()),
                        lease_duration_seconds: Some(self.duration.as_secs() as i32),
                        acquire_time: stamp.clone(),
                        renew_time: stamp,
                        lease_transitions: Some(0),
                        ..Default::default()
                    }),
                };
                self.api.create(&PostParams::default(), &lease).await
            }
            (d, Some(mut lease)) => {
                let spec = lease.spec.get_or_insert_with(Default::default);
                if d == Decision::TakeOver {
                    spec.holder_identity = Some(self.identity.clone());
                    spec.acquire_time = stamp.clone();
                    spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
                }
                spec.lease_duration_seconds = Some(self.duration.as_secs() as i32);
                spec.renew_time = stamp;
                self.api
                    .replace(&self.name, &PostParams::default(), &lease)
                    .await
            }
        };
        match result {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Competes for the lease forever, keeping `leader` true while this candidate holds
    /// it; retries every third of the duration. A failed request drops leadership.
    pub async fn run(self, leader: Arc<AtomicBool>) {
        let every = (self.duration / 3).max(Duration::from_millis(100));
        loop {
            let held = match self.try_acquire_or_renew().await {
                Ok(held) => held,
                Err(e) => {
                    tracing::warn!(error = %e, lease = %self.name, "leader election failed");
                    false
                }
            };
            if held != leader.swap(held, Ordering::SeqCst) {
                tracing::info!(lease = %self.name, leader = held, "leadership changed");
            }
            tokio::time::sleep(every).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(holder: &str, renewed: i64, secs: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.into()),
            renew_time: Some(MicroTime(Timestamp::from_second(renewed).unwrap())),
            lease_duration_seconds: Some(secs),
            ..Default::default()
        }
    }

    #[test]
    fn decisions() {
        let now = Timestamp::from_second(1_000).unwrap();
        assert_eq!(decide(None, "a", now), Decision::Create);
        assert_eq!(decide(Some(&spec("a", 990, 15)), "a", now), Decision::Renew);
        assert_eq!(
            decide(Some(&spec("b", 990, 15)), "a", now),
            Decision::Follow
        );
        assert_eq!(
            decide(Some(&spec("b", 985, 15)), "a", now),
            Decision::TakeOver
        );
        assert_eq!(
            decide(Some(&spec("", 999, 15)), "a", now),
            Decision::TakeOver
        );
        assert_eq!(
            decide(Some(&LeaseSpec::default()), "a", now),
            Decision::TakeOver
        );
    }
}
