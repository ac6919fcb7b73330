//! Cluster-scoped and storage metrics: namespaces, persistent volumes and claims,
//! services, resource quotas.

use k8s_openapi::api::core::v1::{
    Namespace, PersistentVolume, PersistentVolumeClaim, ResourceQuota, Service,
};

use crate::{fam, gauge, one_if, quantity, s, Metric, Out};

/// Adds one series per phase in `phases` with label `phase`, 1 for `current`.
fn phases(set: &mut Out, m: &Metric, base: &[(&str, &str)], phases: &[&str], current: &str) {
    let f = fam(set, m);
    for p in phases {
        let mut l = base.to_vec();
        l.push(("phase", p));
        f.add(&l, one_if(*p == current));
    }
}

const NS_PHASE: Metric = gauge(
    "kube_namespace_status_phase",
    "kubernetes namespace status phase.",
);
const NS_CREATED: Metric = gauge("kube_namespace_created", "Unix creation timestamp");

/// Renders one namespace.
pub(crate) fn namespace(n: &Namespace, set: &mut Out) {
    let base = [("namespace", s(&n.metadata.name))];
    crate::meta::render(set, "namespaces", &base, &n.metadata);
    if let Some(t) = &n.metadata.creation_timestamp {
        fam(set, &NS_CREATED).add(&base, crate::secs(t));
    }
    if let Some(p) = n.status.as_ref().and_then(|st| st.phase.as_deref()) {
        phases(set, &NS_PHASE, &base, &["Active", "Terminating"], p);
    }
}

const PVC_INFO: Metric = gauge(
    "kube_persistentvolumeclaim_info",
    "Information about persistent volume claim.",
);
const PVC_PHASE: Metric = gauge(
    "kube_persistentvolumeclaim_status_phase",
    "The phase the persistent volume claim is currently in.",
);
const PVC_REQUEST: Metric = gauge(
    "kube_persistentvolumeclaim_resource_requests_storage_bytes",
    "The capacity of storage requested by the persistent volume claim.",
);
const PVC_ACCESS: Metric = gauge(
    "kube_persistentvolumeclaim_access_mode",
    "The access mode(s) specified by the persistent volume claim.",
);

/// Renders one persistent volume claim.
pub(crate) fn pvc(p: &PersistentVolumeClaim, set: &mut Out) {
    let base = [
        ("namespace", s(&p.metadata.namespace)),
        ("persistentvolumeclaim", s(&p.metadata.name)),
    ];
    crate::meta::render(set, "persistentvolumeclaims", &base, &p.metadata);
    let spec = p.spec.as_ref();
    let mut l = base.to_vec();
    l.extend([
        (
            "storageclass",
            spec.map(|sp| s(&sp.storage_class_name)).unwrap_or(""),
        ),
        (
            "volumename",
            spec.map(|sp| s(&sp.volume_name)).unwrap_or(""),
        ),
        (
            "volumemode",
            spec.map(|sp| s(&sp.volume_mode)).unwrap_or(""),
        ),
    ]);
    fam(set, &PVC_INFO).add(&l, 1.0);
    if let Some(ph) = p.status.as_ref().and_then(|st| st.phase.as_deref()) {
        phases(set, &PVC_PHASE, &base, &["Lost", "Bound", "Pending"], ph);
    }
    let storage = spec
        .and_then(|sp| sp.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .and_then(|q| quantity::whole(&q.0));
    if let Some(v) = storage {
        fam(set, &PVC_REQUEST).add(&base, v);
    }
    for mode in spec
        .and_then(|sp| sp.access_modes.as_ref())
        .into_iter()
        .flatten()
    {
        let mut l = base.to_vec();
        l.push(("access_mode", mode.as_str()));
        fam(set, &PVC_ACCESS).add(&l, 1.0);
    }
}

const PV_PHASE: Metric = gauge(
    "kube_persistentvolume_status_phase",
    "The phase indicates if a volume is available, bound to a claim, or released by a claim.",
);
const PV_CAPACITY: Metric = gauge(
    "kube_persistentvolume_capacity_bytes",
    "Persistentvolume capacity in bytes.",
);
const PV_CLAIM: Metric = gauge(
    "kube_persistentvolume_claim_ref",
    "Information about the Persistent Volume Claim Reference.",
);

/// Renders one persistent volume.
pub(crate) fn pv(p: &PersistentVolume, set: &mut Out) {
    let base = [("persistentvolume", s(&p.metadata.name))];
    crate::meta::render(set, "persistentvolumes", &base, &p.metadata);
    if let Some(ph) = p.status.as_ref().and_then(|st| st.phase.as_deref()) {
        phases(
            set,
            &PV_PHASE,
            &base,
            &["Pending", "Available", "Bound", "Released", "Failed"],
            ph,
        );
    }
    let spec = p.spec.as_ref();
    let cap = spec
        .and_then(|sp| sp.capacity.as_ref())
        .and_then(|c| c.get("storage"))
        .and_then(|q| quantity::whole(&q.0));
    fam(set, &PV_CAPACITY).add(&base, cap.unwrap_or(0.0));
    if let Some(c) = spec.and_then(|sp| sp.claim_ref.as_ref()) {
        let mut l = base.to_vec();
        l.extend([("name", s(&c.name)), ("claim_namespace", s(&c.namespace))]);
        fam(set, &PV_CLAIM).add(&l, 1.0);
    }
}

const SVC_INFO: Metric = gauge("kube_service_info", "Information about service.");
const SVC_TYPE: Metric = gauge("kube_service_spec_type", "Type about service.");

/// Renders one service.
pub(crate) fn service(svc: &Service, set: &mut Out) {
    let m = &svc.metadata;
    let base = [
        ("namespace", s(&m.namespace)),
        ("service", s(&m.name)),
        ("uid", s(&m.uid)),
    ];
    crate::meta::render(set, "services", &base, m);
    let spec = svc.spec.as_ref();
    let lb_ip = svc
        .status
        .as_ref()
        .and_then(|st| st.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .and_then(|i| i.first())
        .map(|i| s(&i.ip))
        .unwrap_or("");
    let mut l = base.to_vec();
    l.extend([
        ("cluster_ip", spec.map(|sp| s(&sp.cluster_ip)).unwrap_or("")),
        (
            "external_name",
            spec.map(|sp| s(&sp.external_name)).unwrap_or(""),
        ),
        ("load_balancer_ip", lb_ip),
    ]);
    fam(set, &SVC_INFO).add(&l, 1.0);
    if let Some(t) = spec.and_then(|sp| sp.type_.as_deref()) {
        let mut l = base.to_vec();
        l.push(("type", t));
        fam(set, &SVC_TYPE).add(&l, 1.0);
    }
}

const QUOTA: Metric = gauge("kube_resourcequota", "Information about resource quota.");

/// Renders one resource quota: `type="hard"` and `type="used"` per resource.
pub(crate) fn resourcequota(q: &ResourceQuota, set: &mut Out) {
    let base = [
        ("namespace", s(&q.metadata.namespace)),
        ("resourcequota", s(&q.metadata.name)),
    ];
    crate::meta::render(set, "resourcequotas", &base, &q.metadata);
    let Some(st) = &q.status else { return };
    for (typ, list) in [("hard", &st.hard), ("used", &st.used)] {
        for (res, qty) in list.iter().flatten() {
            // As kube-state-metrics: millis below 100000, whole units above.
            let v = match quantity::parse(&qty.0) {
                Some(v) if v < 1e5 => quantity::cores(&qty.0),
                Some(_) => quantity::whole(&qty.0),
                None => None,
            };
            let Some(v) = v else { continue };
            let mut l = base.to_vec();
            l.extend([("resource", res.as_str()), ("type", typ)]);
            fam(set, &QUOTA).add(&l, v);
        }
    }
}
