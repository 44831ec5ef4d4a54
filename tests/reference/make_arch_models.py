#!/usr/bin/env python3
"""Write the tiny random-weight qwen2 / phi3 GGUF models of tests/golden/ and
their golden logits (deterministic).

    /usr/bin/python3 tests/reference/make_arch_models.py [--out DIR] [--check-only]

Writes into --out (default <repo>/tests/golden):
    tiny-qwen2.gguf, tiny-qwen2.logits.bin, tiny-phi3.gguf, tiny-phi3.logits.bin
The logits come from arch_ref.py (float64 numpy, Hugging Face Qwen2/Phi-3
semantics), computed from the tensors read back from the GGUF bytes.  The
reference self-test (arch_ref.self_test) runs first; nothing is written if it
fails.  --check-only runs the self-test and writes nothing.  See
tests/golden/README.md for the formats and tests/reference/README.md for the
reference.
"""

import os

# One BLAS thread: cheap on the 2-core machine and a fixed summation order.
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import struct
import sys
import zlib

import numpy as np

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import arch_ref  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_OUT = os.path.join(REPO, "tests", "golden")

MAGIC = 0x4C474C53  # "SLGL" little-endian, as in make_goldens.py
MAX_FILE_BYTES = 200 * 1024
ALIGN = 32

# Sizes.  n_embd is 32 (head_dim 8) so that an F32 file with n_ff 128, two
# layers and a 256-token vocab stays under 200 KB (with n_embd 64 the weights
# alone are 352 KB / 416 KB).  4 query heads over 2 kv heads distinguish the
# GQA mapping j // 2 from j % 2.
COMMON = dict(n_embd=32, n_head=4, n_head_kv=2, n_ff=128, n_layer=2, n_vocab=256, n_ctx=128)
MODELS = {
    # name: (architecture, rope base, rms eps, tied output, seed)
    "tiny-qwen2": dict(COMMON, arch="qwen2", rope_base=1e6, eps=1e-6, tied=True, seed=20240601),
    "tiny-phi3": dict(COMMON, arch="phi3", rope_base=1e4, eps=1e-5, tied=False, seed=20240602),
}

# Token ids 0..3 get embedding rows 100x smaller than the others (RMS 0.005,
# mean square 2.5e-5): for them RMSNorm's epsilon matters (1e-6 vs 1e-5 moves
# the normalized row by ~8 %), so the goldens check that eps is read.
N_TINY_ROWS = 4

PROMPTS = [
    # 7 tokens: the small-embedding ids 0 and 3, the last id 255
    [1, 0, 255, 17, 3, 128, 42],
    # 30 tokens (positions 0..29): repeats, ids 0..3, 254, 255
    [2, 77, 200, 5, 5, 5, 1, 31, 250, 0, 64, 129, 18, 240, 99, 3, 146, 7, 211, 54,
     180, 33, 254, 2, 120, 88, 16, 197, 61, 255],
]


# --------------------------------------------------------------------------
# Deterministic weights
# --------------------------------------------------------------------------

def randn(name, shape, std, seed):
    """~N(0, std^2) values, float32, reproducible on any platform and numpy
    version: RandomState's MT19937 integer stream (frozen by numpy) summed
    Irwin-Hall style (4 uniform 16-bit integers), then one correctly rounded
    multiply.  The seed of a tensor depends on its name only."""
    rs = np.random.RandomState((seed + zlib.crc32(name.encode())) & 0xFFFFFFFF)
    n = int(np.prod(shape))
    s = rs.randint(0, 1 << 16, size=(4, n), dtype=np.int64).sum(axis=0) - 2 * 65535
    # (sum of 4 uniforms on 0..65535) has mean 131070 and sd ~ 65536/sqrt(3)
    return (s.astype(np.float64) * (std * np.sqrt(3.0) / 65536.0)).astype(np.float32).reshape(shape)


def make_tensors(c):
    """[(gguf name, float32 array in numpy [out, in] orientation)] in file order."""
    E, F, V, seed = c["n_embd"], c["n_ff"], c["n_vocab"], c["seed"]
    KVD = c["n_head_kv"] * (E // c["n_head"])
    t = []

    def add(name, shape, std, mean=0.0):
        a = randn(name, shape, std, seed)
        if mean:
            a = (a.astype(np.float64) + mean).astype(np.float32)
        t.append((name, a))
        return a

    emb = add("token_embd.weight", (V, E), 0.5)
    emb[:N_TINY_ROWS] = (emb[:N_TINY_ROWS].astype(np.float64) * 0.01).astype(np.float32)
    add("output_norm.weight", (E,), 0.1, mean=1.0)
    if not c["tied"]:
        add("output.weight", (V, E), 0.5)
    for l in range(c["n_layer"]):
        b = "blk.%d." % l
        add(b + "attn_norm.weight", (E,), 0.1, mean=1.0)
        if c["arch"] == "qwen2":
            add(b + "attn_q.weight", (E, E), 0.2)
            add(b + "attn_q.bias", (E,), 0.5)
            add(b + "attn_k.weight", (KVD, E), 0.2)
            add(b + "attn_k.bias", (KVD,), 0.5)
            add(b + "attn_v.weight", (KVD, E), 0.2)
            add(b + "attn_v.bias", (KVD,), 0.5)
        else:
            add(b + "attn_qkv.weight", (E + 2 * KVD, E), 0.2)  # rows [q | k | v]
        add(b + "attn_output.weight", (E, E), 0.2)
        add(b + "ffn_norm.weight", (E,), 0.1, mean=1.0)
        if c["arch"] == "qwen2":
            add(b + "ffn_gate.weight", (F, E), 0.2)
            add(b + "ffn_up.weight", (F, E), 0.2)
        else:
            add(b + "ffn_up.weight", (2 * F, E), 0.2)  # rows [gate | up]
        add(b + "ffn_down.weight", (E, F), 0.1)
    return t


# --------------------------------------------------------------------------
# Minimal GGUF v3 writer
# --------------------------------------------------------------------------

def _str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


_KV_TYPES = {"u32": (4, "<I"), "f32": (6, "<f")}


def gguf_bytes(kv, tensors):
    """kv: [(key, "u32" | "f32" | "str", value)]; tensors: [(name, float32
    array)], numpy shape reversed into ggml order.  Data 32-byte aligned."""
    out = bytearray(b"GGUF")
    out += struct.pack("<IQQ", 3, len(tensors), len(kv))
    for key, typ, val in kv:
        out += _str(key)
        if typ == "str":
            out += struct.pack("<I", 8) + _str(val)
        else:
            code, fmt = _KV_TYPES[typ]
            out += struct.pack("<I", code) + struct.pack(fmt, val)
    off = 0
    for name, a in tensors:
        assert a.dtype == np.float32
        ne = a.shape[::-1]
        out += _str(name) + struct.pack("<I", len(ne)) + struct.pack("<%dQ" % len(ne), *ne)
        out += struct.pack("<IQ", 0, off)  # type F32, offset
        off += (a.nbytes + ALIGN - 1) // ALIGN * ALIGN
    out += bytes(-len(out) % ALIGN)
    for _, a in tensors:
        out += a.astype("<f4").tobytes()
        out += bytes(-a.nbytes % ALIGN)
    return bytes(out)


def model_gguf(name, c):
    a = c["arch"] + "."
    kv = [("general.architecture", "str", c["arch"]),
          ("general.name", "str", name),
          (a + "context_length", "u32", c["n_ctx"]),
          (a + "embedding_length", "u32", c["n_embd"]),
          (a + "block_count", "u32", c["n_layer"]),
          (a + "feed_forward_length", "u32", c["n_ff"]),
          (a + "rope.dimension_count", "u32", c["n_embd"] // c["n_head"]),
          (a + "attention.head_count", "u32", c["n_head"]),
          (a + "attention.head_count_kv", "u32", c["n_head_kv"]),
          (a + "rope.freq_base", "f32", c["rope_base"]),
          (a + "attention.layer_norm_rms_epsilon", "f32", c["eps"]),
          (a + "vocab_size", "u32", c["n_vocab"])]
    tensors = make_tensors(c)
    return gguf_bytes(kv, tensors), tensors


def logits_record(logits64, tokens):
    logits = logits64.astype("<f4")
    assert np.all(np.isfinite(logits))
    n, v = logits.shape
    return struct.pack("<3I", MAGIC, n, v) + np.asarray(tokens, dtype="<i4").tobytes() + logits.tobytes()


# --------------------------------------------------------------------------

def build():
    """{name: (gguf bytes, ArchModel read back from those bytes)}"""
    out = {}
    for name, c in MODELS.items():
        data, tensors = model_gguf(name, c)
        assert len(data) < MAX_FILE_BYTES, "%s.gguf is %d bytes" % (name, len(data))
        kv, back = arch_ref.read_gguf(data)
        assert [n for n, _ in tensors] == list(back), "tensor order changed in the round trip"
        for n, a in tensors:
            assert np.array_equal(back[n], a.astype(np.float64)), "%s: round trip" % n
        m = arch_ref.ArchModel(kv, back)
        assert m.arch == c["arch"] and m.tied == c["tied"] and m.n_kv == c["n_head_kv"]
        out[name] = (data, m)
    return out


def self_test(built=None, verbose=False):
    built = built or build()
    return arch_ref.self_test({n: m for n, (_, m) in built.items()}, PROMPTS, verbose=verbose)


def generate(out=None, verbose=True, built=None):
    """Returns {filename: bytes}; also writes them into `out` unless None."""
    built = built or build()
    files = {}
    for name, (data, m) in built.items():
        files[name + ".gguf"] = data
        recs = []
        for p in PROMPTS:
            lg = m.forward(p)
            recs.append(logits_record(lg, p))
            if verbose:
                print("%-11s %2d tokens: logits rms %.2f, max |logit| %.2f"
                      % (name, len(p), np.sqrt(np.mean(lg * lg)), np.abs(lg).max()))
        files[name + ".logits.bin"] = b"".join(recs)
    if out is not None:
        os.makedirs(out, exist_ok=True)
        for fn, data in sorted(files.items()):
            with open(os.path.join(out, fn), "wb") as f:
                f.write(data)
            if verbose:
                print("  %-24s %7d bytes" % (fn, len(data)))
    return files


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=DEFAULT_OUT, help="output dir (default tests/golden)")
    ap.add_argument("--check-only", action="store_true", help="run the reference self-test only")
    a = ap.parse_args(argv)
    built = build()
    fails = self_test(built, verbose=True)
    print("self-test: %s" % ("FAILED" if fails else "ok"))
    if fails:
        return 1
    if not a.check_only:
        generate(a.out, verbose=True, built=built)
    return 0


if __name__ == "__main__":
    sys.exit(main())
