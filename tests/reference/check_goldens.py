#!/usr/bin/env python3
"""Regenerate the goldens into a temporary directory and compare them with
tests/golden/: those of make_goldens.py (from the shared models) and the tiny
qwen2 / phi3 models of make_arch_models.py (GGUF files and logits).

    /usr/bin/python3 tests/reference/check_goldens.py [--shared DIR] [--golden DIR] [--strict]

Exit status: 0 identical, 1 mismatch / error, 77 (skip) when the shared
models are missing and the environment variable CI is not "true".

The files are compared byte for byte.  Logits are float64 results rounded to
float32, so a different BLAS (another summation order) can in rare cases move
a value across a float32 rounding boundary; such a difference of at most one
float32 ulp (with everything else identical) is reported as a NOTE and still
passes, unless --strict is given.
"""

import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import struct
import sys
import tempfile
import time

import numpy as np

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_ref  # noqa: E402
import make_arch_models  # noqa: E402
import make_goldens  # noqa: E402


def parse_logits(data):
    """[(header+tokens bytes, float32 logits array)] of a .logits.bin file."""
    recs, p = [], 0
    while p < len(data):
        if p + 12 > len(data):
            raise ValueError("truncated record header at %d" % p)
        magic, n, v = struct.unpack_from("<3I", data, p)
        if magic != make_goldens.MAGIC:
            raise ValueError("bad magic at %d" % p)
        end = p + 12 + 4 * n + 4 * n * v
        if end > len(data):
            raise ValueError("truncated record at %d" % p)
        head = data[p:p + 12 + 4 * n]
        logits = np.frombuffer(data, dtype="<f4", count=n * v, offset=p + 12 + 4 * n)
        recs.append((head, logits))
        p = end
    return recs


def ulp_distance(a, b):
    """Max distance in float32 ulps (ordered-integer view) of two arrays."""
    def ordered(x):
        i = x.view("<i4").astype(np.int64)
        return np.where(i < 0, -(i & 0x7FFFFFFF), i)
    return int(np.abs(ordered(a) - ordered(b)).max()) if a.size else 0


def compare(name, want, got, strict):
    """Returns (ok, message or None)."""
    if want == got:
        return True, None
    if not name.endswith(".logits.bin"):
        return False, "%s differs" % name
    try:
        rw, rg = parse_logits(want), parse_logits(got)
    except ValueError as e:
        return False, "%s: %s" % (name, e)
    if len(rw) != len(rg) or any(a[0] != b[0] for a, b in zip(rw, rg)):
        return False, "%s: record headers / tokens differ" % name
    ulps = max(ulp_distance(a[1], b[1]) for a, b in zip(rw, rg))
    diff = max(float(np.abs(a[1].astype(np.float64) - b[1]).max()) for a, b in zip(rw, rg))
    n = sum(int(np.count_nonzero(a[1] != b[1])) for a, b in zip(rw, rg))
    msg = "%s: %d logits differ, max |diff| %.3g, max %d float32 ulp" % (name, n, diff, ulps)
    if ulps <= 1 and not strict:
        return True, "NOTE " + msg + " (rounding of float64 results; accepted)"
    return False, msg


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=make_goldens.DEFAULT_SHARED, help="shared data dir (with models/)")
    ap.add_argument("--golden", default=os.path.join(here, "..", "golden"), help="golden dir")
    ap.add_argument("--strict", action="store_true", help="byte-for-byte only, no 1-ulp tolerance")
    a = ap.parse_args()

    paths = make_goldens.model_paths(a.shared)
    missing = [p for p in paths.values() if not os.path.exists(p)]
    if missing:
        if os.environ.get("CI") == "true":
            print("check_goldens: shared models missing (CI=true): %s" % ", ".join(missing))
            return 1
        print("check_goldens: SKIP, shared models missing: %s" % ", ".join(missing))
        return 77

    t0 = time.time()
    fails = llama_ref.self_test(os.path.join(a.shared, "models"))
    try:
        arch_built = make_arch_models.build()
        fails += make_arch_models.self_test(arch_built)
    except Exception as e:  # noqa: BLE001 -- report any reference failure
        print("check_goldens: generation failed: %s: %s" % (type(e).__name__, e))
        return 1
    for f in fails:
        print("check_goldens: self-test FAILED: %s" % f)
    with tempfile.TemporaryDirectory(prefix="slimlm-golden-") as tmp:
        try:
            files = make_goldens.generate(a.shared, tmp, verbose=False)
            files.update(make_arch_models.generate(tmp, verbose=False, built=arch_built))
        except Exception as e:  # noqa: BLE001 -- report any reference failure
            print("check_goldens: generation failed: %s: %s" % (type(e).__name__, e))
            return 1
        names = set(files)
        if os.path.isdir(a.golden):
            names |= {n for n in os.listdir(a.golden) if n.endswith((".logits.bin", ".greedy.txt", ".gguf"))}
        for name in sorted(names):
            gp = os.path.join(a.golden, name)
            if name not in files:
                fails.append("%s is in %s but no longer generated" % (name, a.golden))
                continue
            if not os.path.exists(gp):
                fails.append("%s missing from %s" % (name, a.golden))
                continue
            with open(gp, "rb") as f:
                ok, msg = compare(name, f.read(), files[name], a.strict)
            if msg:
                print("check_goldens: %s" % msg)
            if not ok:
                fails.append(msg)
    dt = time.time() - t0
    if fails:
        print("check_goldens: FAILED (%d problem(s), %.1fs); regenerate with "
              "/usr/bin/python3 tests/reference/make_goldens.py (or make_arch_models.py for tiny-*) "
              "if the change is intended" % (len(fails), dt))
        for f in fails:
            print("  - %s" % f)
        return 1
    print("check_goldens: OK, %d files match (%.1fs)" % (len(files), dt))
    return 0


if __name__ == "__main__":
    sys.exit(main())
