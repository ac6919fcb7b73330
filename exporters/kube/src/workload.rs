//! Workload metrics: deployments, daemonsets, statefulsets, replicasets, jobs,
//! horizontal pod autoscalers and pod disruption budgets.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::{add_condition, add_owners, fam, gauge, s, secs, Metric, Out};

/// Adds `(metric, value)` pairs with labels `base`, skipping absent values.
pub(crate) fn gauges(set: &mut Out, base: &[(&str, &str)], values: &[(&Metric, Option<f64>)]) {
    for (m, v) in values {
        if let Some(v) = v {
            fam(set, m).add(base, *v);
        }
    }
}

/// `[(kind label, name), ("namespace", ns)]` of an object.
pub(crate) fn ident<'a>(label: &'a str, m: &'a ObjectMeta) -> [(&'a str, &'a str); 2] {
    [("namespace", s(&m.namespace)), (label, s(&m.name))]
}

/// An `i32` as a sample value.
fn f(v: i32) -> Option<f64> {
    Some(v as f64)
}

/// An optional `i32` / `i64` as a sample value.
fn of<T: Into<f64>>(v: Option<T>) -> Option<f64> {
    v.map(Into::into)
}

/// An optional `i64` as a sample value.
fn of64(v: Option<i64>) -> Option<f64> {
    v.map(|v| v as f64)
}

const DEP_SPEC_REPLICAS: Metric = gauge(
    "kube_deployment_spec_replicas",
    "Number of desired pods for a deployment.",
);
const DEP_REPLICAS: Metric = gauge(
    "kube_deployment_status_replicas",
    "The number of replicas per deployment.",
);
const DEP_AVAILABLE: Metric = gauge(
    "kube_deployment_status_replicas_available",
    "The number of available replicas per deployment.",
);
const DEP_UNAVAILABLE: Metric = gauge(
    "kube_deployment_status_replicas_unavailable",
    "The number of unavailable replicas per deployment.",
);
const DEP_UPDATED: Metric = gauge(
    "kube_deployment_status_replicas_updated",
    "The number of updated replicas per deployment.",
);
const DEP_READY: Metric = gauge(
    "kube_deployment_status_replicas_ready",
    "The number of ready replicas per deployment.",
);
const DEP_GENERATION: Metric = gauge(
    "kube_deployment_metadata_generation",
    "Sequence number representing a specific generation of the desired state.",
);
const DEP_OBSERVED: Metric = gauge(
    "kube_deployment_status_observed_generation",
    "The generation observed by the deployment controller.",
);
const DEP_CONDITION: Metric = gauge(
    "kube_deployment_status_condition",
    "The current status conditions of a deployment.",
);

/// Renders one deployment.
pub(crate) fn deployment(d: &Deployment, set: &mut Out) {
    let base = ident("deployment", &d.metadata);
    crate::meta::render(set, "deployments", &base, &d.metadata);
    let st = d.status.clone().unwrap_or_default();
    gauges(
        set,
        &base,
        &[
            (
                &DEP_SPEC_REPLICAS,
                of(d.spec.as_ref().and_then(|sp| sp.replicas)),
            ),
            (&DEP_REPLICAS, f(st.replicas.unwrap_or(0))),
            (&DEP_AVAILABLE, f(st.available_replicas.unwrap_or(0))),
            (&DEP_UNAVAILABLE, f(st.unavailable_replicas.unwrap_or(0))),
            (&DEP_UPDATED, f(st.updated_replicas.unwrap_or(0))),
            (&DEP_READY, f(st.ready_replicas.unwrap_or(0))),
            (&DEP_GENERATION, of64(d.metadata.generation)),
            (&DEP_OBSERVED, f64_or0(st.observed_generation)),
        ],
    );
    for c in st.conditions.iter().flatten() {
        let mut l = base.to_vec();
        l.extend([("reason", s(&c.reason)), ("condition", c.type_.as_str())]);
        add_condition(fam(set, &DEP_CONDITION), &l, "status", &c.status);
    }
}

/// An optional `i64` or 0.
fn f64_or0(v: Option<i64>) -> Option<f64> {
    Some(v.unwrap_or(0) as f64)
}

const DS_CURRENT: Metric = gauge(
    "kube_daemonset_status_current_number_scheduled",
    "The number of nodes running at least one daemon pod and are supposed to.",
);
const DS_DESIRED: Metric = gauge(
    "kube_daemonset_status_desired_number_scheduled",
    "The number of nodes that should be running the daemon pod.",
);
const DS_AVAILABLE: Metric = gauge(
    "kube_daemonset_status_number_available",
    "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available",
);
const DS_MISSCHEDULED: Metric = gauge(
    "kube_daemonset_status_number_misscheduled",
    "The number of nodes running a daemon pod but are not supposed to.",
);
const DS_READY: Metric = gauge(
    "kube_daemonset_status_number_ready",
    "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.",
);
const DS_UNAVAILABLE: Metric = gauge(
    "kube_daemonset_status_number_unavailable",
    "The number of nodes that should be running the daemon pod and have none of the daemon pod running and available",
);
const DS_UPDATED: Metric = gauge(
    "kube_daemonset_status_updated_number_scheduled",
    "The total number of nodes that are running updated daemon pod",
);

/// Renders one daemonset.
pub(crate) fn daemonset(d: &DaemonSet, set: &mut Out) {
    let base = ident("daemonset", &d.metadata);
    crate::meta::render(set, "daemonsets", &base, &d.metadata);
    let st = d.status.clone().unwrap_or_default();
    gauges(
        set,
        &base,
        &[
            (&DS_CURRENT, f(st.current_number_scheduled)),
            (&DS_DESIRED, f(st.desired_number_scheduled)),
            (&DS_AVAILABLE, f(st.number_available.unwrap_or(0))),
            (&DS_MISSCHEDULED, f(st.number_misscheduled)),
            (&DS_READY, f(st.number_ready)),
            (&DS_UNAVAILABLE, f(st.number_unavailable.unwrap_or(0))),
            (&DS_UPDATED, f(st.updated_number_scheduled.unwrap_or(0))),
        ],
    );
}

const STS_REPLICAS: Metric = gauge(
    "kube_statefulset_replicas",
    "Number of desired pods for a StatefulSet.",
);
const STS_GENERATION: Metric = gauge(
    "kube_statefulset_metadata_generation",
    "Sequence number representing a specific generation of the desired state for the StatefulSet.",
);
const STS_OBSERVED: Metric = gauge(
    "kube_statefulset_status_observed_generation",
    "The generation observed by the StatefulSet controller.",
);
const STS_STATUS_REPLICAS: Metric = gauge(
    "kube_statefulset_status_replicas",
    "The number of replicas per StatefulSet.",
);
const STS_READY: Metric = gauge(
    "kube_statefulset_status_replicas_ready",
    "The number of ready replicas per StatefulSet.",
);
const STS_UPDATED: Metric = gauge(
    "kube_statefulset_status_replicas_updated",
    "The number of updated replicas per StatefulSet.",
);
const STS_CURRENT_REV: Metric = gauge(
    "kube_statefulset_status_current_revision",
    "Indicates the version of the StatefulSet used to generate Pods in the sequence [0,currentReplicas).",
);
const STS_UPDATE_REV: Metric = gauge(
    "kube_statefulset_status_update_revision",
    "Indicates the version of the StatefulSet used to generate Pods in the sequence [replicas-updatedReplicas,replicas)",
);

/// Renders one statefulset.
pub(crate) fn statefulset(sts: &StatefulSet, set: &mut Out) {
    let base = ident("statefulset", &sts.metadata);
    crate::meta::render(set, "statefulsets", &base, &sts.metadata);
    let st = sts.status.clone().unwrap_or_default();
    gauges(
        set,
        &base,
        &[
            (
                &STS_REPLICAS,
                of(sts.spec.as_ref().and_then(|sp| sp.replicas)),
            ),
            (&STS_GENERATION, of64(sts.metadata.generation)),
            (&STS_OBSERVED, of64(st.observed_generation)),
            (&STS_STATUS_REPLICAS, f(st.replicas)),
            (&STS_READY, f(st.ready_replicas.unwrap_or(0))),
            (&STS_UPDATED, f(st.updated_replicas.unwrap_or(0))),
        ],
    );
    for (m, rev) in [
        (&STS_CURRENT_REV, &st.current_revision),
        (&STS_UPDATE_REV, &st.update_revision),
    ] {
        if let Some(rev) = rev {
            let mut l = base.to_vec();
            l.push(("revision", rev.as_str()));
            fam(set, m).add(&l, 1.0);
        }
    }
}

const RS_OWNER: Metric = gauge(
    "kube_replicaset_owner",
    "Information about the ReplicaSet's owner.",
);
const RS_SPEC_REPLICAS: Metric = gauge(
    "kube_replicaset_spec_replicas",
    "Number of desired pods for a ReplicaSet.",
);
const RS_REPLICAS: Metric = gauge(
    "kube_replicaset_status_replicas",
    "The number of replicas per ReplicaSet.",
);
const RS_READY: Metric = gauge(
    "kube_replicaset_status_ready_replicas",
    "The number of ready replicas per ReplicaSet.",
);

/// Renders one replicaset.
pub(crate) fn replicaset(rs: &ReplicaSet, set: &mut Out) {
    let base = ident("replicaset", &rs.metadata);
    crate::meta::render(set, "replicasets", &base, &rs.metadata);
    add_owners(
        fam(set, &RS_OWNER),
        &base,
        rs.metadata.owner_references.as_ref(),
    );
    let st = rs.status.clone().unwrap_or_default();
    gauges(
        set,
        &base,
        &[
            (
                &RS_SPEC_REPLICAS,
                of(rs.spec.as_ref().and_then(|sp| sp.replicas)),
            ),
            (&RS_REPLICAS, f(st.replicas)),
            (&RS_READY, f(st.ready_replicas.unwrap_or(0))),
        ],
    );
}

const JOB_OWNER: Metric = gauge("kube_job_owner", "Information about the Job's owner.");
const JOB_ACTIVE: Metric = gauge(
    "kube_job_status_active",
    "The number of actively running pods.",
);
const JOB_SUCCEEDED: Metric = gauge(
    "kube_job_status_succeeded",
    "The number of pods which reached Phase Succeeded.",
);
const JOB_FAILED_PODS: Metric = gauge(
    "kube_job_status_failed",
    "The number of pods which reached Phase Failed and the reason for failure.",
);
const JOB_START: Metric = gauge(
    "kube_job_status_start_time",
    "StartTime represents time when the job was acknowledged by the Job Manager.",
);
const JOB_COMPLETION: Metric = gauge(
    "kube_job_status_completion_time",
    "CompletionTime represents time when the job was completed.",
);
const JOB_COMPLETE: Metric = gauge("kube_job_complete", "The job has completed its execution.");
const JOB_FAILED: Metric = gauge("kube_job_failed", "The job has failed its execution.");

/// Renders one job.
pub(crate) fn job(j: &Job, set: &mut Out) {
    let base = ident("job_name", &j.metadata);
    crate::meta::render(set, "jobs", &base, &j.metadata);
    add_owners(
        fam(set, &JOB_OWNER),
        &base,
        j.metadata.owner_references.as_ref(),
    );
    let st = j.status.clone().unwrap_or_default();
    gauges(
        set,
        &base,
        &[
            (&JOB_ACTIVE, f(st.active.unwrap_or(0))),
            (&JOB_SUCCEEDED, f(st.succeeded.unwrap_or(0))),
            (&JOB_FAILED_PODS, f(st.failed.unwrap_or(0))),
            (&JOB_START, st.start_time.as_ref().map(secs)),
            (&JOB_COMPLETION, st.completion_time.as_ref().map(secs)),
        ],
    );
    for c in st.conditions.iter().flatten() {
        let m = match c.type_.as_str() {
            "Complete" => &JOB_COMPLETE,
            "Failed" => &JOB_FAILED,
            _ => continue,
        };
        add_condition(fam(set, m), &base, "condition", &c.status);
    }
}

const HPA_MAX: Metric = gauge(
    "kube_horizontalpodautoscaler_spec_max_replicas",
    "Upper limit for the number of pods that can be set by the autoscaler; cannot be smaller than MinReplicas.",
);
const HPA_MIN: Metric = gauge(
    "kube_horizontalpodautoscaler_spec_min_replicas",
    "Lower limit for the number of pods that can be set by the autoscaler, default 1.",
);
const HPA_CURRENT: Metric = gauge(
    "kube_horizontalpodautoscaler_status_current_replicas",
    "Current number of replicas of pods managed by this autoscaler.",
);
const HPA_DESIRED: Metric = gauge(
    "kube_horizontalpodautoscaler_status_desired_replicas",
    "Desired number of replicas of pods managed by this autoscaler.",
);

/// Renders one horizontal pod autoscaler.
pub(crate) fn hpa(h: &HorizontalPodAutoscaler, set: &mut Out) {
    let base = ident("horizontalpodautoscaler", &h.metadata);
    crate::meta::render(set, "horizontalpodautoscalers", &base, &h.metadata);
    let spec = h.spec.as_ref();
    let st = h.status.as_ref();
    gauges(
        set,
        &base,
        &[
            (&HPA_MAX, spec.map(|sp| sp.max_replicas as f64)),
            (&HPA_MIN, spec.map(|sp| sp.min_replicas.unwrap_or(1) as f64)),
            (
                &HPA_CURRENT,
                st.map(|st| st.current_replicas.unwrap_or(0) as f64),
            ),
            (&HPA_DESIRED, st.map(|st| st.desired_replicas as f64)),
        ],
    );
}

const PDB_CURRENT: Metric = gauge(
    "kube_poddisruptionbudget_status_current_healthy",
    "Current number of healthy pods",
);
const PDB_DESIRED: Metric = gauge(
    "kube_poddisruptionbudget_status_desired_healthy",
    "Minimum desired number of healthy pods",
);
const PDB_ALLOWED: Metric = gauge(
    "kube_poddisruptionbudget_status_pod_disruptions_allowed",
    "Number of pod disruptions that are currently allowed",
);
const PDB_EXPECTED: Metric = gauge(
    "kube_poddisruptionbudget_status_expected_pods",
    "Total number of pods counted by this disruption budget",
);

/// Renders one pod disruption budget.
pub(crate) fn pdb(p: &PodDisruptionBudget, set: &mut Out) {
    let base = ident("poddisruptionbudget", &p.metadata);
    crate::meta::render(set, "poddisruptionbudgets", &base, &p.metadata);
    if let Some(st) = &p.status {
        gauges(
            set,
            &base,
            &[
                (&PDB_CURRENT, f(st.current_healthy)),
                (&PDB_DESIRED, f(st.desired_healthy)),
                (&PDB_ALLOWED, f(st.disruptions_allowed)),
                (&PDB_EXPECTED, f(st.expected_pods)),
            ],
        );
    }
}
