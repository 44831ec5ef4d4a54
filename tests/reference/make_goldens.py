#!/usr/bin/env python3
"""Write the golden logits / greedy tokens of tests/golden/ (deterministic).

    /usr/bin/python3 tests/reference/make_goldens.py [--shared DIR] [--out DIR]

--shared defaults to <repo>/../shared (the models live in DIR/models/...),
--out to <repo>/tests/golden.  See tests/golden/README.md for the formats.
"""

import os

# One BLAS thread: cheap on the 2-core machine and a fixed summation order.
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import struct
import sys
import time

import numpy as np

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_ref  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_SHARED = os.path.join(os.path.dirname(REPO), "shared")
DEFAULT_OUT = os.path.join(REPO, "tests", "golden")

MAGIC = 0x4C474C53  # "SLGL" little-endian
N_GREEDY = 200
GREEDY_TEXT = "Once upon a time"

# ---------------------------------------------------------------------------
# Fixed prompts (token ids).  BOS = 1 for all three models.
# ---------------------------------------------------------------------------

# stories260K and slim6m share tok512.bin (vocab 512).
LLAMA2C_PROMPTS = [
    # BOS + "Once upon a time" (tok512 encode(): " Once", " upon", " a", " time")
    [1, 403, 407, 261, 378],
    # edge ids, not text: <unk>=0, EOS=2, first byte token <0x00>=3, last byte
    # token <0xFF>=258, first merge 259, the last two ids 511/510, BOS in the
    # middle of a sequence, a few ordinary merges.
    [1, 0, 2, 3, 258, 259, 511, 510, 1, 266, 300],
    # BOS + 'Lily and Tom went to the park. They saw a big dog with a red ball.
    # The dog was happy and wanted to play. "Can we play with you?" asked Tom.'
    # (52 tokens: positions 0..51)
    [1, 317, 269, 274, 287, 263, 377, 267, 265, 282, 295, 433, 426, 342, 394, 261, 370, 400,
     428, 335, 261, 352, 266, 268, 388, 426, 291, 400, 428, 286, 393, 269, 391, 266, 267, 337,
     426, 313, 457, 303, 382, 337, 335, 364, 450, 436, 261, 419, 355, 274, 287, 426],
]
LLAMA2C_TEXTS = {  # prompts that must round-trip through the encoder
    0: "Once upon a time",
    2: 'Lily and Tom went to the park. They saw a big dog with a red ball. '
       'The dog was happy and wanted to play. "Can we play with you?" asked Tom.',
}

# tinystories-656k (vocab 2048, Hugging Face BPE whose pieces carry the word
# separator U+2581 at the end: "ce\u2581", "upon\u2581a\u2581tim", ...).
# The ids were chosen by applying tokenizer.json's merges to the normalized
# text ("\u2581" + text with spaces -> "\u2581"); the script checks that the
# pieces of the ids spell that text (EXPECT_656K), so no tokenizer is needed.
TINY_PROMPTS = [
    # BOS + "Once upon a time"  ("\u2581", "On", "ce\u2581", "upon\u2581a\u2581tim", "e")
    [1, 80, 147, 201, 282, 57],
    # edge ids: <unk>=0, <|end_story|>=2, "\n"=3, the last id 2047
    [1, 0, 2, 3, 2047],
    # BOS + "Lily and Tom went to the park. They saw a big dog with a red ball.
    # The dog was happy and wanted to play. "Can we play with you?" asked Tom.
    # The dog wagg" (24 tokens; vocab 2048 keeps the file < 300 KB)
    [1, 80, 669, 388, 1844, 144, 614, 401, 758, 1714, 1094, 1660, 265, 220, 462, 2030, 580, 173,
     1885, 1882, 380, 1094, 95, 953],
]
EXPECT_656K = {
    0: "Once upon a time",
    2: 'Lily and Tom went to the park. They saw a big dog with a red ball. The dog was happy '
       'and wanted to play. "Can we play with you?" asked Tom. The dog wagg',
}
TINY_GREEDY_PROMPT = TINY_PROMPTS[0]

# Known-good greedy continuations (llama2.c's run.c at temperature 0).
EXPECT_GREEDY_PREFIX = {
    "stories260K": "Once upon a time, there was a little girl named Lily. "
                   "She loved to play outside in the park.",
    "slim6m": "Once upon a time, there was a little girl named Lily. She loved to play with her mommy",
}


def model_paths(shared):
    m = os.path.join(shared, "models")
    return {
        "stories260K": os.path.join(m, "stories260K", "stories260K.bin"),
        "slim6m": os.path.join(m, "slim6m", "slim6m.bin"),
        "tinystories-656k": os.path.join(m, "tinystories-656k"),
        "tok512": os.path.join(m, "stories260K", "tok512.bin"),
    }


def logits_record(model, tokens):
    logits = model.forward(tokens).astype("<f4")
    assert np.all(np.isfinite(logits))
    n, v = logits.shape
    return (struct.pack("<3I", MAGIC, n, v) + np.asarray(tokens, dtype="<i4").tobytes()
            + logits.tobytes())


def escape_line(s):
    return s.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")


def greedy_file(prompt, gen, text):
    return ("%s\n%s\n%s\n" % (" ".join(map(str, prompt)), " ".join(map(str, gen)),
                              escape_line(text))).encode("utf-8")


def generate(shared, out, verbose=True):
    """Write all goldens into `out`; returns {filename: bytes}."""
    p = model_paths(shared)
    files = {}

    def log(msg):
        if verbose:
            print(msg, flush=True)

    for name in ("stories260K", "slim6m"):
        t0 = time.time()
        model = llama_ref.load_llama2c(p[name], norm_eps=1e-5, rope_theta=10000.0)
        tok = llama_ref.Llama2cTokenizer(p["tok512"], model.cfg.vocab_size)
        for i, text in LLAMA2C_TEXTS.items():
            enc = tok.encode(text, bos=True)
            assert enc == LLAMA2C_PROMPTS[i], "%s prompt %d: encoder gives %r" % (name, i, enc)
        files[name + ".logits.bin"] = b"".join(logits_record(model, t) for t in LLAMA2C_PROMPTS)
        prompt = tok.encode(GREEDY_TEXT, bos=True)
        gen = model.greedy(prompt, N_GREEDY)
        text = tok.decode(prompt + gen)
        assert text.startswith(EXPECT_GREEDY_PREFIX[name]), "%s greedy: %r" % (name, text[:200])
        files[name + ".greedy.txt"] = greedy_file(prompt, gen, text)
        log("%-17s %.1fs  %r" % (name, time.time() - t0, text[:100]))

    t0 = time.time()
    name = "tinystories-656k"
    model = llama_ref.load_hf(p[name])
    pieces = llama_ref.hf_vocab_pieces(p[name])
    for i, text in EXPECT_656K.items():
        got = "".join(pieces[t] for t in TINY_PROMPTS[i][1:])
        assert got == "\u2581" + text.replace(" ", "\u2581"), "%s prompt %d spells %r" % (name, i, got)
    files[name + ".logits.bin"] = b"".join(logits_record(model, t) for t in TINY_PROMPTS)
    gen = model.greedy(TINY_GREEDY_PROMPT, N_GREEDY)
    text = llama_ref.hf_decode(pieces, TINY_GREEDY_PROMPT[1:] + gen)
    files[name + ".greedy.txt"] = greedy_file(TINY_GREEDY_PROMPT, gen, text)
    log("%-17s %.1fs  %r" % (name, time.time() - t0, text[:100]))

    os.makedirs(out, exist_ok=True)
    for fn, data in sorted(files.items()):
        with open(os.path.join(out, fn), "wb") as f:
            f.write(data)
        log("  %-28s %7d bytes" % (fn, len(data)))
    return files


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=DEFAULT_SHARED, help="shared data dir (with models/)")
    ap.add_argument("--out", default=DEFAULT_OUT, help="output dir (default tests/golden)")
    a = ap.parse_args()
    t0 = time.time()
    generate(a.shared, a.out)
    print("done in %.1fs -> %s" % (time.time() - t0, a.out))


if __name__ == "__main__":
    main()
