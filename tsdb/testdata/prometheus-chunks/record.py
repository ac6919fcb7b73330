#!/usr/bin/env python3
"""Records XOR chunk fixtures from a real Prometheus (promtool of the Debian package).

For each case, writes an OpenMetrics file with one series, lets
`promtool tsdb create-blocks-from openmetrics` build a block, and stores the block's chunk
bytes next to the samples in `<case>.txt`:
    s <timestamp ms> <value bits hex>
    c <chunk bytes hex>
Run once (needs promtool on PATH); the golden test only reads the .txt files.
"""
import glob, os, random, struct, subprocess, sys, tempfile

BASE = 1_700_006_400_000  # aligned to 2 h
rng = random.Random(42)

def case_counter():
    v, out = 0.0, []
    for i in range(300):
        v = round(v + rng.uniform(0, 30) * 0.01 + 15 * 0.37, 2)
        out.append((BASE + i * 15000, v))
    return out

def case_gauge_jitter():
    return [(BASE + i * 15000 + rng.randint(-7, 7), rng.uniform(-1e6, 1e6)) for i in range(200)]

def case_constant():
    return [(BASE + i * 15000, 42.0) for i in range(150)]

def case_integers():
    v, out = 1 << 40, []
    for i in range(130):
        v += rng.randint(0, 1 << 20)
        out.append((BASE + i * 10000, float(v)))
    return out

def case_gaps():
    t, out = BASE, []
    for i in range(60):
        t += rng.choice([1, 15000, 15000, 16384, 131072, 1048577, 1_800_000]) if i else 0
        if t >= BASE + 7_200_000:
            break
        out.append((t, rng.choice([0.0, 1.0, -2.5, 1e-9, 3.14159, 1e300])))
    return out

def case_temperatures():
    return [(BASE + i * 15000, round(45 + rng.uniform(-3, 3), 1)) for i in range(240)]

CASES = {"counter": case_counter, "gauge_jitter": case_gauge_jitter, "constant": case_constant,
         "integers": case_integers, "gaps": case_gaps, "temperatures": case_temperatures}

def fmt(v):
    return repr(v)

def uvarint(b, pos):
    x = s = 0
    while True:
        c = b[pos]; pos += 1
        x |= (c & 0x7f) << s; s += 7
        if c < 0x80:
            return x, pos

def main():
    here = os.path.dirname(os.path.abspath(__file__))
    for name, gen in CASES.items():
        samples = gen()
        with tempfile.TemporaryDirectory() as d:
            om = os.path.join(d, "in.om")
            with open(om, "w") as f:
                f.write("# TYPE m gauge\n")
                for t, v in samples:
                    f.write(f'm{{case="{name}"}} {fmt(v)} {t // 1000}.{t % 1000:03d}\n')
                f.write("# EOF\n")
            subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", om, os.path.join(d, "out")],
                           check=True, capture_output=True)
            chunk_files = sorted(glob.glob(os.path.join(d, "out", "*", "chunks", "*")))
            assert len(chunk_files) == 1, chunk_files
            b = open(chunk_files[0], "rb").read()
            assert b[:4] == bytes.fromhex("85bd40dd"), "unexpected chunk file magic"
            pos, chunks = 8, []
            while pos < len(b):
                n, pos = uvarint(b, pos)
                enc = b[pos]; pos += 1
                assert enc == 1, f"encoding {enc}"
                chunks.append(b[pos:pos + n]); pos += n + 4
        with open(os.path.join(here, f"{name}.txt"), "w") as f:
            f.write(f"# recorded with promtool tsdb create-blocks-from openmetrics ({name})\n")
            for t, v in samples:
                f.write(f"s {t} {struct.unpack('<Q', struct.pack('<d', v))[0]:016x}\n")
            for c in chunks:
                f.write(f"c {c.hex()}\n")
        print(name, len(samples), "samples", len(chunks), "chunks")

if __name__ == "__main__":
    sys.exit(main())
