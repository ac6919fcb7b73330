//! dcgm-exporter's default counters that NVML provides: names, types, HELP texts (from
//! dcgm-exporter's `default-counters.csv`) and how each is read, in that file's order.

use expo::MetricType;
use nvml_wrapper::enum_wrappers::device::{Clock, PcieUtilCounter, TemperatureSensor};
use nvml_wrapper::enums::device::SampleValue;
use nvml_wrapper::error::NvmlError;
use nvml_wrapper::structs::device::FieldId;
use nvml_wrapper::Device;

/// One exported counter.
pub struct Field {
    /// dcgm-exporter's metric name.
    pub name: &'static str,
    /// Its type.
    pub kind: MetricType,
    /// dcgm-exporter's HELP text.
    pub help: &'static str,
}

const fn f(name: &'static str, kind: MetricType, help: &'static str) -> Field {
    Field { name, kind, help }
}

use MetricType::{Counter as C, Gauge as G};

/// The counters, indexed by [`F`].
pub const FIELDS: &[Field] = &[
    f("DCGM_FI_DEV_SM_CLOCK", G, "SM clock frequency (in MHz)."),
    f("DCGM_FI_DEV_MEM_CLOCK", G, "Memory clock frequency (in MHz)."),
    f("DCGM_FI_DEV_MEMORY_TEMP", G, "Memory temperature (in C)."),
    f("DCGM_FI_DEV_GPU_TEMP", G, "GPU temperature (in C)."),
    f("DCGM_FI_DEV_POWER_USAGE", G, "Power draw (in W)."),
    f(
        "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
        C,
        "Total energy consumption since boot (in mJ).",
    ),
    f(
        "DCGM_FI_PROF_PCIE_TX_BYTES",
        G,
        "The rate of data transmitted over the PCIe bus - including both protocol headers and data payloads - in bytes per second.",
    ),
    f(
        "DCGM_FI_PROF_PCIE_RX_BYTES",
        G,
        "The rate of data received over the PCIe bus - including both protocol headers and data payloads - in bytes per second.",
    ),
    f("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", C, "Total number of PCIe retries."),
    f("DCGM_FI_DEV_GPU_UTIL", G, "GPU utilization (in %)."),
    f("DCGM_FI_DEV_MEM_COPY_UTIL", G, "Memory utilization (in %)."),
    f("DCGM_FI_DEV_ENC_UTIL", G, "Encoder utilization (in %)."),
    f("DCGM_FI_DEV_DEC_UTIL", G, "Decoder utilization (in %)."),
    f(
        "DCGM_FI_DEV_XID_ERRORS",
        G,
        "Value of the last XID error encountered.",
    ),
    f("DCGM_FI_DEV_FB_FREE", G, "Framebuffer memory free (in MiB)."),
    f("DCGM_FI_DEV_FB_USED", G, "Framebuffer memory used (in MiB)."),
    f("DCGM_FI_DEV_FB_RESERVED", G, "Framebuffer memory reserved (in MiB)."),
    f(
        "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS",
        C,
        "Number of remapped rows for uncorrectable errors",
    ),
    f(
        "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS",
        C,
        "Number of remapped rows for correctable errors",
    ),
    f("DCGM_FI_DEV_ROW_REMAP_FAILURE", G, "Whether remapping of rows has failed"),
];

/// Index into [`FIELDS`].
#[derive(Clone, Copy)]
#[repr(usize)]
enum F {
    SmClock,
    MemClock,
    MemoryTemp,
    GpuTemp,
    PowerUsage,
    TotalEnergy,
    PcieTx,
    PcieRx,
    PcieReplay,
    GpuUtil,
    MemCopyUtil,
    EncUtil,
    DecUtil,
    XidErrors,
    FbFree,
    FbUsed,
    FbReserved,
    UncorrectableRemapped,
    CorrectableRemapped,
    RowRemapFailure,
}

/// Index of `DCGM_FI_DEV_XID_ERRORS` (filled from events, not by [`read`]).
pub const XID: usize = F::XidErrors as usize;

/// NVML field IDs (`nvml.h` `NVML_FI_DEV_*`) read with `nvmlDeviceGetFieldValues`.
const NVML_FI_DEV_MEMORY_TEMP: u32 = 82;
const NVML_FI_DEV_REMAPPED_COR: u32 = 142;
const NVML_FI_DEV_REMAPPED_UNC: u32 = 143;
const NVML_FI_DEV_REMAPPED_FAILURE: u32 = 145;

const MIB: u64 = 1 << 20;

/// One GPU's values, indexed like [`FIELDS`]; `None` where the GPU has no value.
pub type Readings = [Option<f64>; FIELDS.len()];

/// Reads every field of `dev`; a field the GPU does not support, or whose call fails, is
/// `None` (failures other than `NotSupported` are logged at debug level).
pub fn read(dev: &Device, gpu: u32) -> Readings {
    let mut r: Readings = [None; FIELDS.len()];
    let mut put = |f: F, v: Result<f64, NvmlError>| {
        r[f as usize] = keep(gpu, FIELDS[f as usize].name, v);
    };
    put(F::SmClock, dev.clock_info(Clock::SM).map(f64::from));
    put(F::MemClock, dev.clock_info(Clock::Memory).map(f64::from));
    put(
        F::GpuTemp,
        dev.temperature(TemperatureSensor::Gpu).map(f64::from),
    );
    put(
        F::PowerUsage,
        dev.power_usage().map(|mw| f64::from(mw) / 1000.0),
    );
    put(
        F::TotalEnergy,
        dev.total_energy_consumption().map(|mj| mj as f64),
    );
    // NVML reports KB/s (1 KB = 1024 bytes) over a 20 ms window.
    for (f, c) in [
        (F::PcieTx, PcieUtilCounter::Send),
        (F::PcieRx, PcieUtilCounter::Receive),
    ] {
        put(f, dev.pcie_throughput(c).map(|kb| f64::from(kb) * 1024.0));
    }
    put(F::PcieReplay, dev.pcie_replay_counter().map(f64::from));
    match dev.utilization_rates() {
        Ok(u) => {
            put(F::GpuUtil, Ok(f64::from(u.gpu)));
            put(F::MemCopyUtil, Ok(f64::from(u.memory)));
        }
        Err(e) => put(F::GpuUtil, Err(e)),
    }
    put(
        F::EncUtil,
        dev.encoder_utilization().map(|u| f64::from(u.utilization)),
    );
    put(
        F::DecUtil,
        dev.decoder_utilization().map(|u| f64::from(u.utilization)),
    );
    // Whole MiB, rounded down, as DCGM reports them.
    match dev.memory_info() {
        Ok(m) => {
            put(F::FbFree, Ok((m.free / MIB) as f64));
            put(F::FbUsed, Ok((m.used / MIB) as f64));
            put(F::FbReserved, Ok((m.reserved / MIB) as f64));
        }
        Err(e) => put(F::FbUsed, Err(e)),
    }
    let ids = [
        (F::MemoryTemp, NVML_FI_DEV_MEMORY_TEMP),
        (F::UncorrectableRemapped, NVML_FI_DEV_REMAPPED_UNC),
        (F::CorrectableRemapped, NVML_FI_DEV_REMAPPED_COR),
        (F::RowRemapFailure, NVML_FI_DEV_REMAPPED_FAILURE),
    ];
    let query: Vec<FieldId> = ids.iter().map(|&(_, id)| FieldId(id)).collect();
    match dev.field_values_for(&query) {
        Ok(samples) => {
            for (&(f, _), s) in ids.iter().zip(samples) {
                put(f, s.and_then(|s| s.value).map(sample_f64));
            }
        }
        Err(e) => put(F::MemoryTemp, Err(e)),
    }
    r
}

fn sample_f64(v: SampleValue) -> f64 {
    match v {
        SampleValue::F64(v) => v,
        SampleValue::U32(v) => f64::from(v),
        SampleValue::U64(v) => v as f64,
        SampleValue::I64(v) => v as f64,
    }
}

fn keep(gpu: u32, name: &str, v: Result<f64, NvmlError>) -> Option<f64> {
    match v {
        Ok(v) => Some(v),
        Err(NvmlError::NotSupported) => None,
        Err(e) => {
            tracing::debug!(gpu, field = name, error = %e, "NVML field skipped");
            None
        }
    }
}
