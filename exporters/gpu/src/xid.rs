//! `DCGM_FI_DEV_XID_ERRORS`: NVML's XID critical-error events (there is no polling getter),
//! drained without waiting on each collection; the value is a GPU's last XID, 0 until one.

use nvml_wrapper::bitmasks::event::EventTypes;
use nvml_wrapper::enums::event::XidError;
use nvml_wrapper::{EventSet, Nvml};

/// Most events taken per GPU and collection (an XID storm must not stall a scrape).
const MAX_EVENTS: usize = 256;

/// One event set per GPU that supports XID events (a failed registration releases the
/// whole set, so GPUs do not share one), with its last XID.
#[derive(Default)]
pub struct Xids {
    gpus: Vec<(u32, EventSet<'static>, u64)>,
}

impl Xids {
    /// Registers every GPU that supports XID events; the others get no XID series.
    pub fn register(nvml: &'static Nvml) -> Xids {
        let mut gpus = Vec::new();
        for i in 0..nvml.device_count().unwrap_or(0) {
            let registered = nvml.device_by_index(i).and_then(|dev| {
                let set = nvml.create_event_set()?;
                dev.register_events(EventTypes::CRITICAL_XID_ERROR, set)
                    .map_err(|e| e.error)
            });
            match registered {
                Ok(set) => gpus.push((i, set, 0)),
                Err(e) => tracing::debug!(gpu = i, error = %e, "no XID events"),
            }
        }
        Xids { gpus }
    }

    /// Takes the events that arrived since the last call.
    pub fn drain(&mut self) {
        for (_, set, last) in &mut self.gpus {
            for _ in 0..MAX_EVENTS {
                let Ok(ev) = set.wait(0) else { break };
                if let Some(XidError::Value(v)) = ev.event_data {
                    *last = v;
                }
            }
        }
    }

    /// GPU `i`'s last XID (0 before any), if it is registered.
    pub fn last(&self, i: u32) -> Option<f64> {
        self.gpus
            .iter()
            .find(|(g, _, _)| *g == i)
            .map(|&(_, _, v)| v as f64)
    }
}
