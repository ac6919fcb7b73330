//! NVIDIA GPU metrics read through NVML (`libnvidia-ml.so.1`, loaded at run time) and
//! exposed with dcgm-exporter's `DCGM_FI_*` names, types, HELP texts, units and labels.

#[cfg(feature = "fake-nvml")]
pub mod fake;
mod fields;
pub mod podresources;
mod xid;

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::PathBuf;

use nvml_wrapper::error::NvmlError;
use nvml_wrapper::Nvml;

pub use fields::{Field, FIELDS};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// NVML could not be loaded or initialised (no driver, no library, no permission).
    #[error("NVML unavailable: {0}")]
    Init(NvmlError),
    /// A whole-system NVML call failed.
    #[error("NVML {call}: {source}")]
    Nvml {
        /// The failing call.
        call: &'static str,
        /// NVML's error.
        source: NvmlError,
    },
    /// kubelet's pod-resources API could not be asked.
    #[error("pod-resources: {0}")]
    PodResources(String),
}

/// How the collector is set up.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The NVML library to load; `None` = the driver's `libnvidia-ml.so.1` on the search path.
    pub lib_path: Option<PathBuf>,
    /// Value of the `Hostname` label (dcgm-exporter: `$NODE_NAME` or the host name).
    pub hostname: String,
}

/// The pod that holds a GPU (from kubelet's pod-resources API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRef {
    /// Pod namespace.
    pub namespace: String,
    /// Pod name.
    pub pod: String,
    /// Container name.
    pub container: String,
}

/// GPU UUID (`GPU-…`) → the pod holding it.
pub type PodMap = HashMap<String, PodRef>;

/// An initialised NVML session that renders dcgm-exporter metrics on each call.
pub struct GpuCollector {
    /// Leaked in `open` so that the XID event set can borrow it; freed in `Drop`.
    nvml: &'static Nvml,
    xids: xid::Xids,
    hostname: String,
    driver: String,
}

impl GpuCollector {
    /// Loads and initialises NVML; fails when there is no driver or library.
    pub fn open(opts: &Options) -> Result<GpuCollector, Error> {
        let mut b = Nvml::builder();
        if let Some(p) = &opts.lib_path {
            b.lib_path(OsStr::new(p.as_os_str()));
        }
        let nvml = b.init().map_err(Error::Init)?;
        let driver = nvml.sys_driver_version().unwrap_or_default();
        let nvml: &'static Nvml = Box::leak(Box::new(nvml));
        Ok(GpuCollector {
            nvml,
            xids: xid::Xids::register(nvml),
            hostname: opts.hostname.clone(),
            driver,
        })
    }

    /// Like [`GpuCollector::open`], but logs one line and returns `None` when NVML is
    /// unavailable (the collector then stays off).
    pub fn open_or_log(opts: &Options) -> Option<GpuCollector> {
        match GpuCollector::open(opts) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::info!(error = %e, "GPU collector disabled");
                None
            }
        }
    }

    /// The driver version NVML reported at start (`DCGM_FI_DRIVER_VERSION`).
    pub fn driver_version(&self) -> &str {
        &self.driver
    }

    /// Adds every supported field of every GPU to `set`, in dcgm-exporter's counter order;
    /// unsupported or failing fields are left out, as is a GPU whose handle cannot be had.
    /// `pods` adds `namespace`, `pod`, `container` to the series of GPUs held by a pod.
    pub fn collect(&mut self, pods: &PodMap, set: &mut expo::MetricSet) -> Result<(), Error> {
        let count = self.nvml.device_count().map_err(|source| Error::Nvml {
            call: "nvmlDeviceGetCount",
            source,
        })?;
        self.xids.drain();
        let mut gpus: Vec<(Vec<(&'static str, String)>, fields::Readings)> = Vec::new();
        for i in 0..count {
            let dev = match self.nvml.device_by_index(i) {
                Ok(d) => d,
                Err(e) => {
                    tracing::debug!(gpu = i, error = %e, "GPU skipped");
                    continue;
                }
            };
            let uuid = dev.uuid().unwrap_or_default();
            let mut labels = vec![
                ("gpu", i.to_string()),
                ("UUID", uuid.clone()),
                (
                    "pci_bus_id",
                    dev.pci_info().map(|p| p.bus_id).unwrap_or_default(),
                ),
                ("device", format!("nvidia{i}")),
                ("modelName", dev.name().unwrap_or_default()),
                ("Hostname", self.hostname.clone()),
                ("DCGM_FI_DRIVER_VERSION", self.driver.clone()),
            ];
            if let Some(p) = pods.get(&uuid) {
                labels.push(("container", p.container.clone()));
                labels.push(("namespace", p.namespace.clone()));
                labels.push(("pod", p.pod.clone()));
            }
            let mut readings = fields::read(&dev, i);
            readings[fields::XID] = self.xids.last(i);
            gpus.push((labels, readings));
        }
        for (k, field) in FIELDS.iter().enumerate() {
            if gpus.iter().all(|(_, r)| r[k].is_none()) {
                continue;
            }
            let fam = set.family(field.name, field.help, field.kind);
            for (labels, r) in &gpus {
                if let Some(v) = r[k] {
                    let l: Vec<(&str, &str)> =
                        labels.iter().map(|(n, v)| (*n, v.as_str())).collect();
                    fam.add(&l, v);
                }
            }
        }
        Ok(())
    }
}

impl Drop for GpuCollector {
    fn drop(&mut self) {
        // The event set borrows NVML: free it first.
        self.xids = xid::Xids::default();
        let nvml: *const Nvml = self.nvml;
        // SAFETY: `nvml` is the box leaked in `open`, owned by this collector alone; the only
        // value that kept a borrow of it past a method call (the event set) is gone.
        drop(unsafe { Box::from_raw(nvml.cast_mut()) });
    }
}
