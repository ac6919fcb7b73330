//! CronJob metrics: `kube_cronjob_*`, including the next schedule time computed from the
//! cron schedule ([`crate::cron`]).

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::CronJob;

use crate::workload::{gauges, ident};
use crate::{cron, fam, gauge, gauge_exp, one_if, s, secs, Metric, Out};

const INFO: Metric = gauge("kube_cronjob_info", "Info about cronjob.");
const CREATED: Metric = gauge("kube_cronjob_created", "Unix creation timestamp");
const SUSPEND: Metric = gauge(
    "kube_cronjob_spec_suspend",
    "Suspend flag tells the controller to suspend subsequent executions.",
);
const ACTIVE: Metric = gauge(
    "kube_cronjob_status_active",
    "Active holds pointers to currently running jobs.",
);
const LAST: Metric = gauge(
    "kube_cronjob_status_last_schedule_time",
    "LastScheduleTime keeps information of when was the last time the job was successfully scheduled.",
);
const LAST_SUCCESS: Metric = gauge(
    "kube_cronjob_status_last_successful_time",
    "LastSuccessfulTime keeps information of when was the last time the job was completed successfully.",
);
const DEADLINE: Metric = gauge(
    "kube_cronjob_spec_starting_deadline_seconds",
    "Deadline in seconds for starting the job if it misses scheduled time for any reason.",
);
const NEXT: Metric = gauge(
    "kube_cronjob_next_schedule_time",
    "Next time the cronjob should be scheduled. The time after lastScheduleTime, or after the cron job's creation time if it's never been scheduled. Use this to determine if the job is delayed.",
);
const INVALID: Metric = gauge_exp(
    "kube_cronjob_schedule_invalid",
    "Emitted with value 1 for cronjobs whose schedule, in its configured timezone, cannot be parsed.",
);
const RESOURCE_VERSION: Metric = gauge(
    "kube_cronjob_metadata_resource_version",
    "Resource version representing a specific version of the cronjob.",
);
const SUCCESS_LIMIT: Metric = gauge_exp(
    "kube_cronjob_spec_successful_job_history_limit",
    "Successful job history limit tells the controller how many completed jobs should be preserved.",
);
const FAILED_LIMIT: Metric = gauge_exp(
    "kube_cronjob_spec_failed_job_history_limit",
    "Failed job history limit tells the controller how many failed jobs should be preserved.",
);

/// Go's zero `time.Time` in Unix seconds: kube-state-metrics' next schedule time of a
/// schedule that never fires within five years.
const GO_ZERO_TIME: f64 = -62_135_596_800.0;

/// Renders one cronjob; schedules without a time zone are read in the options' local zone.
pub(crate) fn render(cj: &CronJob, set: &mut Out) {
    let local = set.options.local_tz.clone();
    let m = &cj.metadata;
    let base = ident("cronjob", m);
    crate::meta::render(set, "cronjobs", &base, m);
    let spec = cj.spec.clone().unwrap_or_default();
    let tz = spec.time_zone.as_deref();
    let mut l = base.to_vec();
    l.extend([
        ("schedule", spec.schedule.as_str()),
        ("concurrency_policy", s(&spec.concurrency_policy)),
        ("timezone", tz.unwrap_or("local")),
    ]);
    fam(set, &INFO).add(&l, 1.0);
    let st = cj.status.clone().unwrap_or_default();
    let suspended = spec.suspend.unwrap_or(false);
    let schedule = cron::parse(&spec.schedule, tz, &local);
    // After the last schedule, else after creation; nothing while suspended.
    let next = match (
        &schedule,
        st.last_schedule_time
            .as_ref()
            .or(m.creation_timestamp.as_ref()),
    ) {
        (Ok(sched), Some(from)) if !suspended => Some(
            sched
                .next(from.0)
                .map_or(GO_ZERO_TIME, |t: Timestamp| t.as_second() as f64),
        ),
        _ => None,
    };
    gauges(
        set,
        &base,
        &[
            (&CREATED, m.creation_timestamp.as_ref().map(secs)),
            (&SUSPEND, Some(one_if(suspended))),
            (&ACTIVE, Some(st.active.map_or(0, |a| a.len()) as f64)),
            (&LAST, st.last_schedule_time.as_ref().map(secs)),
            (&LAST_SUCCESS, st.last_successful_time.as_ref().map(secs)),
            (&DEADLINE, spec.starting_deadline_seconds.map(|v| v as f64)),
            (&NEXT, next),
            (&INVALID, schedule.is_err().then_some(1.0)),
            (
                &RESOURCE_VERSION,
                m.resource_version.as_deref().and_then(|v| v.parse().ok()),
            ),
            (
                &SUCCESS_LIMIT,
                spec.successful_jobs_history_limit.map(f64::from),
            ),
            (&FAILED_LIMIT, spec.failed_jobs_history_limit.map(f64::from)),
        ],
    );
}
