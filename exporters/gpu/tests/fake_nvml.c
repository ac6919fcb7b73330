/* A fake libnvidia-ml.so for tests: two GPUs with fixed values. GPU 0 is a datacenter
 * part (every field); GPU 1 a consumer card that answers NVML_ERROR_NOT_SUPPORTED for
 * memory temperature, row remapping, energy and XID events; GPU 0 has had XID 13. Build
 * switches:
 *   FAKE_INIT_FAILS     nvmlInit_v2 returns NVML_ERROR_DRIVER_NOT_LOADED
 *   FAKE_POWER_FAILS    nvmlDeviceGetPowerUsage returns NVML_ERROR_UNKNOWN
 *   FAKE_NO_ENERGY_SYM  nvmlDeviceGetTotalEnergyConsumption is not exported (old driver)
 */
#include <string.h>

#define OK 0
#define ERR_INVALID_ARGUMENT 2
#define ERR_NOT_SUPPORTED 3
#define ERR_INSUFFICIENT_SIZE 7
#define ERR_DRIVER_NOT_LOADED 9
#define ERR_UNKNOWN 999

typedef struct {
    char busIdLegacy[16];
    unsigned domain, bus, device, pciDeviceId, pciSubSystemId;
    char busId[32];
} nvmlPciInfo_t;
typedef struct { unsigned gpu, memory; } nvmlUtilization_t;
typedef struct {
    unsigned version;
    unsigned long long total, reserved, free, used;
} nvmlMemory_v2_t;
typedef union {
    double dVal; unsigned uiVal; unsigned long ulVal; unsigned long long ullVal;
    long long sllVal; int siVal; unsigned short usVal;
} nvmlValue_t;
typedef struct {
    unsigned fieldId, scopeId;
    long long timestamp, latencyUsec;
    int valueType, nvmlReturn;
    nvmlValue_t value;
} nvmlFieldValue_t;

struct gpu {
    const char *name, *uuid, *bus_id;
    unsigned bus, pci_id, temp, mem_temp, sm_clock, mem_clock, power_mw;
    unsigned long long energy_mj;
    unsigned pcie_tx_kbs, pcie_rx_kbs, replays, util, mem_util, enc, dec;
    unsigned long long total, reserved, used;
    unsigned remap_cor, remap_unc, remap_failed;
    int datacenter;
};
typedef struct gpu *nvmlDevice_t;

static struct gpu gpus[2] = {
    {"NVIDIA A100-SXM4-40GB", "GPU-8f3c1a52-6b0e-4d2a-9c7e-1f2a3b4c5d6e", "00000000:07:00.0",
     7, 0x20b010de, 34, 41, 1410, 1215, 61944, 123456789012ULL, 2048, 512, 3, 87, 42, 0, 5,
     42949672960ULL, 650117120ULL, 10737418240ULL, 2, 0, 0, 1},
    {"NVIDIA GeForce RTX 3090", "GPU-0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9", "00000000:65:00.0",
     0x65, 0x220410de, 52, 0, 210, 405, 23500, 0, 0, 1, 0, 0, 1, 12, 0,
     25769803776ULL, 341835776ULL, 1073741824ULL, 0, 0, 0, 0},
};
static int initialized;

static int put_str(char *dst, unsigned len, const char *src) {
    if (strlen(src) + 1 > len) return ERR_INSUFFICIENT_SIZE;
    strcpy(dst, src);
    return OK;
}
static int check(nvmlDevice_t d) {
    if (!initialized) return 1; /* NVML_ERROR_UNINITIALIZED */
    return (d == &gpus[0] || d == &gpus[1]) ? OK : ERR_INVALID_ARGUMENT;
}
#define CHECK(d) do { int rc_ = check(d); if (rc_) return rc_; } while (0)

int nvmlInit_v2(void) {
#ifdef FAKE_INIT_FAILS
    return ERR_DRIVER_NOT_LOADED;
#else
    initialized = 1;
    return OK;
#endif
}
int nvmlInitWithFlags(unsigned flags) { (void)flags; return nvmlInit_v2(); }
int nvmlShutdown(void) { initialized = 0; return OK; }
const char *nvmlErrorString(int rc) {
    switch (rc) {
    case OK: return "Success";
    case ERR_NOT_SUPPORTED: return "Not Supported";
    case ERR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    default: return "Unknown Error";
    }
}
int nvmlSystemGetDriverVersion(char *v, unsigned len) { return put_str(v, len, "550.54.15"); }
int nvmlDeviceGetCount_v2(unsigned *n) { if (!initialized) return 1; *n = 2; return OK; }
int nvmlDeviceGetHandleByIndex_v2(unsigned i, nvmlDevice_t *d) {
    if (!initialized) return 1;
    if (i >= 2) return ERR_INVALID_ARGUMENT;
    *d = &gpus[i];
    return OK;
}
int nvmlDeviceGetName(nvmlDevice_t d, char *s, unsigned len) { CHECK(d); return put_str(s, len, d->name); }
int nvmlDeviceGetUUID(nvmlDevice_t d, char *s, unsigned len) { CHECK(d); return put_str(s, len, d->uuid); }
int nvmlDeviceGetPciInfo_v3(nvmlDevice_t d, nvmlPciInfo_t *p) {
    CHECK(d);
    memset(p, 0, sizeof *p);
    p->bus = d->bus;
    p->pciDeviceId = d->pci_id;
    strcpy(p->busId, d->bus_id);
    strncpy(p->busIdLegacy, d->bus_id + 4, sizeof p->busIdLegacy - 1);
    return OK;
}
int nvmlDeviceGetTemperature(nvmlDevice_t d, int sensor, unsigned *t) {
    CHECK(d);
    if (sensor != 0) return ERR_INVALID_ARGUMENT;
    *t = d->temp;
    return OK;
}
int nvmlDeviceGetClockInfo(nvmlDevice_t d, int type, unsigned *mhz) {
    CHECK(d);
    if (type == 1) *mhz = d->sm_clock;
    else if (type == 2) *mhz = d->mem_clock;
    else return ERR_NOT_SUPPORTED;
    return OK;
}
int nvmlDeviceGetPowerUsage(nvmlDevice_t d, unsigned *mw) {
    CHECK(d);
#ifdef FAKE_POWER_FAILS
    (void)mw;
    return ERR_UNKNOWN;
#else
    *mw = d->power_mw;
    return OK;
#endif
}
#ifndef FAKE_NO_ENERGY_SYM
int nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t d, unsigned long long *mj) {
    CHECK(d);
    if (!d->datacenter) return ERR_NOT_SUPPORTED;
    *mj = d->energy_mj;
    return OK;
}
#endif
int nvmlDeviceGetPcieThroughput(nvmlDevice_t d, int counter, unsigned *kbs) {
    CHECK(d);
    if (counter == 0) *kbs = d->pcie_tx_kbs;
    else if (counter == 1) *kbs = d->pcie_rx_kbs;
    else return ERR_INVALID_ARGUMENT;
    return OK;
}
int nvmlDeviceGetPcieReplayCounter(nvmlDevice_t d, unsigned *n) { CHECK(d); *n = d->replays; return OK; }
int nvmlDeviceGetUtilizationRates(nvmlDevice_t d, nvmlUtilization_t *u) {
    CHECK(d);
    u->gpu = d->util;
    u->memory = d->mem_util;
    return OK;
}
int nvmlDeviceGetEncoderUtilization(nvmlDevice_t d, unsigned *u, unsigned *period) {
    CHECK(d);
    *u = d->enc;
    *period = 167000;
    return OK;
}
int nvmlDeviceGetDecoderUtilization(nvmlDevice_t d, unsigned *u, unsigned *period) {
    CHECK(d);
    *u = d->dec;
    *period = 167000;
    return OK;
}
int nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t d, nvmlMemory_v2_t *m) {
    CHECK(d);
    if ((m->version >> 24) != 2) return ERR_INVALID_ARGUMENT;
    m->total = d->total;
    m->reserved = d->reserved;
    m->used = d->used;
    m->free = d->total - d->reserved - d->used;
    return OK;
}
int nvmlDeviceGetFieldValues(nvmlDevice_t d, int count, nvmlFieldValue_t *vals) {
    CHECK(d);
    for (int i = 0; i < count; i++) {
        nvmlFieldValue_t *v = &vals[i];
        v->timestamp = 1700000000000000LL;
        v->nvmlReturn = OK;
        v->valueType = 1; /* unsigned int */
        switch (v->fieldId) {
        case 82: v->value.uiVal = d->mem_temp; break;     /* NVML_FI_DEV_MEMORY_TEMP */
        case 142: v->value.uiVal = d->remap_cor; break;   /* NVML_FI_DEV_REMAPPED_COR */
        case 143: v->value.uiVal = d->remap_unc; break;   /* NVML_FI_DEV_REMAPPED_UNC */
        case 145: v->value.uiVal = d->remap_failed; break; /* NVML_FI_DEV_REMAPPED_FAILURE */
        default: v->nvmlReturn = ERR_NOT_SUPPORTED; continue;
        }
        if (!d->datacenter) v->nvmlReturn = ERR_NOT_SUPPORTED;
    }
    return OK;
}



/* XID events: GPU 0's one XID 13 is delivered by the first wait on a set holding it. */
typedef struct {
    nvmlDevice_t device;
    unsigned long long eventType, eventData;
    unsigned gpuInstanceId, computeInstanceId;
} nvmlEventData_t;
struct event_set { nvmlDevice_t dev; int delivered, open; };
typedef struct event_set *nvmlEventSet_t;
static struct event_set sets[8];
#define XID_CRITICAL 8ULL
#define ERR_TIMEOUT 10

static int valid_set(nvmlEventSet_t set) { return set >= sets && set < sets + 8 && set->open; }
int nvmlEventSetCreate(nvmlEventSet_t *set) {
    if (!initialized) return 1;
    for (int i = 0; i < 8; i++) {
        if (!sets[i].open) {
            memset(&sets[i], 0, sizeof sets[i]);
            sets[i].open = 1;
            *set = &sets[i];
            return OK;
        }
    }
    return ERR_UNKNOWN;
}
int nvmlDeviceRegisterEvents(nvmlDevice_t d, unsigned long long types, nvmlEventSet_t set) {
    CHECK(d);
    if (!valid_set(set)) return ERR_INVALID_ARGUMENT;
    if (!d->datacenter) return ERR_NOT_SUPPORTED;
    if (types & XID_CRITICAL) set->dev = d;
    return OK;
}
int nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t *data, unsigned timeout_ms) {
    (void)timeout_ms;
    if (!valid_set(set)) return ERR_INVALID_ARGUMENT;
    if (set->dev != &gpus[0] || set->delivered) return ERR_TIMEOUT;
    set->delivered = 1;
    memset(data, 0, sizeof *data);
    data->device = &gpus[0];
    data->eventType = XID_CRITICAL;
    data->eventData = 13;
    return OK;
}
int nvmlEventSetFree(nvmlEventSet_t set) {
    if (!valid_set(set)) return ERR_INVALID_ARGUMENT;
    set->open = 0;
    return OK;
}
