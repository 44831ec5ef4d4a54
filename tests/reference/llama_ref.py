#!/usr/bin/env python3
"""Independent float64 numpy reference of the Llama forward pass.

Written from the model papers and the Hugging Face ``LlamaForCausalLM``
semantics (see tests/reference/README.md), not from slimlm's C++ code.  It is
used by make_goldens.py to produce the golden logits / greedy tokens that the
C++ engine is tested against.

Contents
  * load_llama2c(path)            llama2.c "v0" checkpoint (run.c layout)
  * load_hf(dir)                  Hugging Face model.safetensors + config.json
  * Llama2cTokenizer              llama2.c tokenizer.bin + run.c's encode/decode
  * Model.forward(tokens, ...)    causal forward, logits for every position
  * Model.greedy(prompt, n)       greedy decoding (argmax, ties -> lowest id)

All arithmetic is float64; weights are widened from their fp32 storage.
Only numpy and the standard library are used.
"""

import json
import os
import struct

import numpy as np

__all__ = [
    "Config", "Model", "load_llama2c", "load_hf", "read_safetensors",
    "Llama2cTokenizer", "hf_vocab_pieces", "hf_decode", "self_test",
]


# --------------------------------------------------------------------------
# Model description
# --------------------------------------------------------------------------

class Config:
    """Hyper-parameters of a Llama model.

    rope_style: "interleaved" -- rotate pairs (x[2i], x[2i+1]) (the original
                RoFormer / Meta / llama2.c layout);
                "half"        -- Hugging Face rotate_half layout: pairs
                (x[i], x[i + head_dim/2]).
    """

    def __init__(self, dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
                 seq_len, norm_eps, rope_theta, rope_style):
        assert dim % n_heads == 0 and n_heads % n_kv_heads == 0
        assert rope_style in ("interleaved", "half")
        self.dim = dim
        self.hidden_dim = hidden_dim
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.n_kv_heads = n_kv_heads
        self.vocab_size = vocab_size
        self.seq_len = seq_len
        self.norm_eps = norm_eps
        self.rope_theta = rope_theta
        self.rope_style = rope_style
        self.head_dim = dim // n_heads

    def __repr__(self):
        return "Config(%s)" % ", ".join("%s=%r" % kv for kv in sorted(vars(self).items()))


class Layer:
    """Weights of one transformer block, all float64, in y = W @ x orientation
    (W has shape [out_features, in_features], like torch.nn.Linear)."""

    __slots__ = ("attn_norm", "wq", "wk", "wv", "wo", "ffn_norm", "w_gate", "w_down", "w_up")


class Model:
    def __init__(self, cfg, tok_embeddings, layers, final_norm, output):
        self.cfg = cfg
        self.tok_embeddings = tok_embeddings  # [vocab, dim]
        self.layers = layers
        self.final_norm = final_norm          # [dim]
        self.output = output                  # [vocab, dim]
        hd = cfg.head_dim
        # theta_i = base^(-2i/d), i = 0 .. d/2-1   (Su et al., RoFormer, eq. 15)
        self.inv_freq = 1.0 / (float(cfg.rope_theta) ** (np.arange(0, hd, 2, dtype=np.float64) / hd))

    # ---- building blocks -------------------------------------------------

    def rmsnorm(self, x, w):
        """RMSNorm (Zhang & Sennrich 2019): x / sqrt(mean(x^2) + eps) * g."""
        ms = np.mean(x * x, axis=-1, keepdims=True)
        return x / np.sqrt(ms + self.cfg.norm_eps) * w

    def rope(self, x, pos):
        """Rotary position embedding.  x: [T, n_heads, head_dim], pos: [T]."""
        ang = pos.astype(np.float64)[:, None] * self.inv_freq[None, :]  # [T, hd/2]
        cos = np.cos(ang)[:, None, :]
        sin = np.sin(ang)[:, None, :]
        if self.cfg.rope_style == "interleaved":
            # pair i is (x[2i], x[2i+1]), rotated by angle pos * theta_i
            x0 = x[..., 0::2]
            x1 = x[..., 1::2]
            out = np.empty_like(x)
            out[..., 0::2] = x0 * cos - x1 * sin
            out[..., 1::2] = x0 * sin + x1 * cos
            return out
        # Hugging Face: emb = cat(freqs, freqs); x*cos + rotate_half(x)*sin,
        # rotate_half(x) = cat(-x[..., d/2:], x[..., :d/2])
        cos2 = np.concatenate([cos, cos], axis=-1)
        sin2 = np.concatenate([sin, sin], axis=-1)
        half = x.shape[-1] // 2
        rot = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
        return x * cos2 + rot * sin2

    # ---- forward ---------------------------------------------------------

    def new_cache(self):
        """Empty KV cache: per layer, lists of K and V rows [T, n_kv_heads, hd]."""
        c = self.cfg
        z = np.zeros((0, c.n_kv_heads, c.head_dim))
        return {"k": [z] * c.n_layers, "v": [z] * c.n_layers, "n": 0}

    def forward(self, tokens, cache=None):
        """Causal forward of `tokens` placed after the `cache["n"]` tokens
        already in `cache` (a fresh cache if None).  Returns float64 logits
        [len(tokens), vocab] and updates the cache in place."""
        c = self.cfg
        if cache is None:
            cache = self.new_cache()
        tokens = np.asarray(tokens, dtype=np.int64)
        assert tokens.ndim == 1 and tokens.size > 0
        assert tokens.min() >= 0 and tokens.max() < c.vocab_size
        T = tokens.size
        start = cache["n"]
        pos = np.arange(start, start + T)
        H, KV, hd = c.n_heads, c.n_kv_heads, c.head_dim
        rep = H // KV  # query heads per key/value head (GQA group size)

        x = self.tok_embeddings[tokens]  # [T, dim]
        # causal mask over [new positions, all positions]
        allowed = np.arange(start + T)[None, :] <= pos[:, None]  # [T, S]
        for li, L in enumerate(self.layers):
            # --- attention ---
            h = self.rmsnorm(x, L.attn_norm)
            q = (h @ L.wq.T).reshape(T, H, hd)
            k = (h @ L.wk.T).reshape(T, KV, hd)
            v = (h @ L.wv.T).reshape(T, KV, hd)
            q = self.rope(q, pos)
            k = self.rope(k, pos)
            K = np.concatenate([cache["k"][li], k], axis=0)  # [S, KV, hd]
            V = np.concatenate([cache["v"][li], v], axis=0)
            cache["k"][li] = K
            cache["v"][li] = V
            # GQA (Ainslie et al.): query head j uses key/value head j // rep
            Kh = np.repeat(K, rep, axis=1)  # [S, H, hd]
            Vh = np.repeat(V, rep, axis=1)
            scores = np.einsum("thd,shd->hts", q, Kh) / np.sqrt(hd)  # [H, T, S]
            scores = np.where(allowed[None, :, :], scores, -np.inf)
            scores = scores - scores.max(axis=-1, keepdims=True)
            p = np.exp(scores)
            p /= p.sum(axis=-1, keepdims=True)
            att = np.einsum("hts,shd->thd", p, Vh).reshape(T, H * hd)
            x = x + att @ L.wo.T
            # --- SwiGLU feed-forward (Shazeer 2020) ---
            h = self.rmsnorm(x, L.ffn_norm)
            g = h @ L.w_gate.T
            u = h @ L.w_up.T
            silu = g / (1.0 + np.exp(-g))
            x = x + (silu * u) @ L.w_down.T
        cache["n"] = start + T
        x = self.rmsnorm(x, self.final_norm)
        return x @ self.output.T

    def greedy(self, prompt, n_new):
        """Greedy decoding: prefill `prompt`, then append argmax (ties -> the
        lowest id, np.argmax's rule) n_new times.  Returns the new ids."""
        cache = self.new_cache()
        logits = self.forward(prompt, cache)
        out = []
        for i in range(n_new):
            t = int(np.argmax(logits[-1]))
            out.append(t)
            if i + 1 < n_new:
                logits = self.forward([t], cache)
        return out


# --------------------------------------------------------------------------
# llama2.c checkpoint (run.c "v0" format)
# --------------------------------------------------------------------------

def load_llama2c(path, norm_eps=1e-5, rope_theta=10000.0):
    with open(path, "rb") as f:
        data = f.read()
    dim, hidden, n_layers, n_heads, n_kv_heads, vocab, seq_len = struct.unpack_from("<7i", data, 0)
    shared = vocab > 0
    vocab = abs(vocab)
    cfg = Config(dim, hidden, n_layers, n_heads, n_kv_heads, vocab, seq_len,
                 norm_eps, rope_theta, "interleaved")
    hd = cfg.head_dim
    kv_dim = n_kv_heads * hd
    floats = np.frombuffer(data, dtype="<f4", offset=28)
    off = [0]

    def take(*shape):
        n = int(np.prod(shape))
        a = floats[off[0]:off[0] + n]
        assert a.size == n, "checkpoint truncated"
        off[0] += n
        return a.reshape(shape).astype(np.float64)

    emb = take(vocab, dim)
    rms_att = take(n_layers, dim)
    wq = take(n_layers, dim, dim)
    wk = take(n_layers, kv_dim, dim)
    wv = take(n_layers, kv_dim, dim)
    wo = take(n_layers, dim, dim)
    rms_ffn = take(n_layers, dim)
    w1 = take(n_layers, hidden, dim)
    w2 = take(n_layers, dim, hidden)
    w3 = take(n_layers, hidden, dim)
    rms_final = take(dim)
    # freq_cis tables written by llama2.c's export: unused by the forward pass
    # (RoPE is recomputed from the formula); kept for self_test().
    freq_cis_real = take(seq_len, hd // 2)
    freq_cis_imag = take(seq_len, hd // 2)
    wcls = emb if shared else take(vocab, dim)
    assert off[0] == floats.size, "unexpected trailing data in %s" % path
    layers = []
    for l in range(n_layers):
        L = Layer()
        L.attn_norm, L.wq, L.wk, L.wv, L.wo = rms_att[l], wq[l], wk[l], wv[l], wo[l]
        L.ffn_norm, L.w_gate, L.w_down, L.w_up = rms_ffn[l], w1[l], w2[l], w3[l]
        layers.append(L)
    model = Model(cfg, emb, layers, rms_final, wcls)
    model.freq_cis = (freq_cis_real, freq_cis_imag)
    return model


# --------------------------------------------------------------------------
# Hugging Face safetensors + config.json
# --------------------------------------------------------------------------

_ST_DTYPES = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I32": "<i4", "I64": "<i8"}


def read_safetensors(path):
    """Parse a .safetensors file: u64 LE header size, JSON header, raw data."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack_from("<Q", data, 0)
    header = json.loads(data[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt = _ST_DTYPES[info["dtype"]]  # BF16 etc. unsupported on purpose
        b, e = info["data_offsets"]
        a = np.frombuffer(data, dtype=dt, count=(e - b) // np.dtype(dt).itemsize, offset=base + b)
        out[name] = a.reshape(info["shape"]).astype(np.float64)
    return out


def load_hf(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        hc = json.load(f)
    assert hc.get("model_type") == "llama"
    assert hc.get("rope_scaling") is None, "rope scaling not implemented"
    assert not hc.get("attention_bias") and not hc.get("mlp_bias")
    assert hc.get("hidden_act", "silu") == "silu"
    n_heads = hc["num_attention_heads"]
    cfg = Config(hc["hidden_size"], hc["intermediate_size"], hc["num_hidden_layers"], n_heads,
                 hc.get("num_key_value_heads", n_heads), hc["vocab_size"],
                 hc.get("max_position_embeddings", 0), hc["rms_norm_eps"],
                 hc.get("rope_theta", 10000.0), "half")
    assert hc.get("head_dim", cfg.head_dim) == cfg.head_dim
    t = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    tied = hc.get("tie_word_embeddings", False)
    emb = t.get("model.embed_tokens.weight")
    out = t.get("lm_head.weight")
    if emb is None:
        assert tied and out is not None
        emb = out
    if out is None:
        assert tied
        out = emb
    layers = []
    for l in range(cfg.n_layers):
        p = "model.layers.%d." % l
        L = Layer()
        L.attn_norm = t[p + "input_layernorm.weight"]
        L.wq = t[p + "self_attn.q_proj.weight"]
        L.wk = t[p + "self_attn.k_proj.weight"]
        L.wv = t[p + "self_attn.v_proj.weight"]
        L.wo = t[p + "self_attn.o_proj.weight"]
        L.ffn_norm = t[p + "post_attention_layernorm.weight"]
        L.w_gate = t[p + "mlp.gate_proj.weight"]
        L.w_up = t[p + "mlp.up_proj.weight"]
        L.w_down = t[p + "mlp.down_proj.weight"]
        layers.append(L)
    assert emb.shape == (cfg.vocab_size, cfg.dim) and out.shape == (cfg.vocab_size, cfg.dim)
    return Model(cfg, emb, layers, t["model.norm.weight"], out)


def hf_vocab_pieces(model_dir):
    """id -> piece string from tokenizer.json's model.vocab (+ added tokens)."""
    with open(os.path.join(model_dir, "tokenizer.json"), encoding="utf-8") as f:
        tj = json.load(f)
    pieces = {i: p for p, i in tj["model"]["vocab"].items()}
    for a in tj.get("added_tokens", []):
        pieces[a["id"]] = a["content"]
    return [pieces.get(i, "") for i in range(max(pieces) + 1)]


def hf_decode(pieces, ids):
    """Approximation of the tokenizer.json decoder for a Llama SPM-style BPE:
    '\u2581' -> ' ', <0xXX> byte fallback, then strip one leading space."""
    buf = bytearray()
    for i in ids:
        p = pieces[i]
        if len(p) == 6 and p.startswith("<0x") and p.endswith(">"):
            buf.append(int(p[3:5], 16))
        else:
            buf += p.replace("\u2581", " ").encode("utf-8")
    s = buf.decode("utf-8", errors="replace")
    return s[1:] if s.startswith(" ") else s


# --------------------------------------------------------------------------
# llama2.c tokenizer (tokenizer.bin) -- run.c's encode() / decode()
# --------------------------------------------------------------------------

class Llama2cTokenizer:
    """File: int32 max_token_length, then per piece: f32 score, int32 len,
    len bytes.  The number of pieces is the model's vocab size."""

    def __init__(self, path, vocab_size):
        with open(path, "rb") as f:
            data = f.read()
        (self.max_token_length,) = struct.unpack_from("<i", data, 0)
        o = 4
        self.pieces, self.scores = [], []
        for _ in range(vocab_size):
            score, n = struct.unpack_from("<fi", data, o)
            o += 8
            self.pieces.append(bytes(data[o:o + n]))
            self.scores.append(score)
            o += n
        # first id wins for duplicate pieces (none in tok512.bin)
        self.lookup = {}
        for i, p in enumerate(self.pieces):
            self.lookup.setdefault(p, i)

    def encode(self, text, bos=True, eos=False):
        """llama2.c run.c encode(): optional BOS (1), a dummy-prefix " " for
        non-empty text, one token per UTF-8 code point (byte fallback
        id = byte + 3), then repeatedly merge the adjacent pair with the
        highest vocab score whose concatenation is a piece (first pair wins
        ties)."""
        raw = text.encode("utf-8")
        toks = []
        if bos:
            toks.append(1)
        if raw:
            toks.append(self.lookup[b" "])
        i = 0
        while i < len(raw):
            # one UTF-8 code point: a lead byte plus up to 3 continuation bytes
            j = i + 1
            while j < len(raw) and (raw[j] & 0xC0) == 0x80 and j - i < 4:
                j += 1
            cp = raw[i:j]
            if cp in self.lookup:
                toks.append(self.lookup[cp])
            else:
                toks.extend(b + 3 for b in cp)
            i = j
        while True:
            best_score, best_id, best_idx = -1e10, -1, -1
            for k in range(len(toks) - 1):
                m = self.lookup.get(self.pieces[toks[k]] + self.pieces[toks[k + 1]])
                if m is not None and self.scores[m] > best_score:
                    best_score, best_id, best_idx = self.scores[m], m, k
            if best_idx < 0:
                break
            toks[best_idx:best_idx + 2] = [best_id]
        if eos:
            toks.append(2)
        return toks

    def piece_bytes(self, prev, tok):
        """run.c decode(): strip the leading space after BOS, <0xXX> -> byte."""
        p = self.pieces[tok]
        if prev == 1 and p.startswith(b" "):
            p = p[1:]
        if len(p) == 6 and p.startswith(b"<0x") and p.endswith(b">"):
            try:
                return bytes([int(p[3:5], 16)])
            except ValueError:
                pass
        return p

    def decode(self, ids):
        """Text of ids[1:] as llama2.c's generate() prints it (ids[0] is the
        first prompt token, normally BOS, which is never printed)."""
        out = bytearray()
        for k in range(1, len(ids)):
            out += self.piece_bytes(ids[k - 1], ids[k])
        return out.decode("utf-8", errors="replace")


# --------------------------------------------------------------------------
# Self-test (cheap internal consistency checks of the reference itself)
# --------------------------------------------------------------------------

def _halves_to_pairs(w, n_heads):
    """Reorder the rows of a Hugging Face q/k projection (rotate-half layout,
    pairs (i, i + d/2) within each head) to the interleaved layout (pairs
    (2i, 2i+1)).  Used only to cross-check the two RoPE codings."""
    out_dim, in_dim = w.shape
    hd = out_dim // n_heads
    return w.reshape(n_heads, 2, hd // 2, in_dim).transpose(0, 2, 1, 3).reshape(out_dim, in_dim)


def self_test(shared_models_dir, verbose=False):
    """Returns a list of failure messages (empty when everything holds)."""
    fails = []

    def check(ok, msg):
        if verbose:
            print("  %s %s" % ("ok  " if ok else "FAIL", msg))
        if not ok:
            fails.append(msg)

    d = shared_models_dir
    toks = [1, 403, 407, 261, 378, 11, 300, 2, 511, 0, 259, 480]
    for rel in ("stories260K/stories260K.bin", "slim6m/slim6m.bin"):
        m = load_llama2c(os.path.join(d, rel))
        # 1. RoPE frequencies: the cos/sin tables stored by llama2.c's exporter
        re_, im_ = m.freq_cis
        ang = np.arange(m.cfg.seq_len)[:, None] * m.inv_freq[None, :]
        err = max(np.abs(np.cos(ang) - re_).max(), np.abs(np.sin(ang) - im_).max())
        check(err < 1e-4, "%s: freq_cis tables match pos*base^(-2i/d) (max err %.2e)" % (rel, err))
        # 2. incremental (KV cache) == full-sequence forward
        full = m.forward(toks)
        cache = m.new_cache()
        inc = np.concatenate([m.forward(toks[:5], cache)] + [m.forward([t], cache) for t in toks[5:]])
        err = np.abs(full - inc).max()
        check(err < 1e-9, "%s: incremental == full forward (max err %.2e)" % (rel, err))
        # 3. causality: a prefix's logits do not depend on later tokens
        err = np.abs(m.forward(toks[:7]) - full[:7]).max()
        check(err < 1e-9, "%s: causal mask (max err %.2e)" % (rel, err))

    # 4. HF rotate-half RoPE == interleaved RoPE on row-reordered q/k weights
    hf_dir = os.path.join(d, "tinystories-656k")
    m = load_hf(hf_dir)
    toks = [1, 80, 147, 201, 282, 57, 2047, 0, 3, 2]
    a = m.forward(toks)
    m.cfg.rope_style = "interleaved"
    for L in m.layers:
        L.wq = _halves_to_pairs(L.wq, m.cfg.n_heads)
        L.wk = _halves_to_pairs(L.wk, m.cfg.n_kv_heads)
    b = m.forward(toks)
    err = np.abs(a - b).max()
    check(err < 1e-9, "tinystories-656k: rotate-half RoPE == interleaved on reordered weights (max err %.2e)" % err)

    # 5. tokenizer round trip (incl. byte fallback)
    tok = Llama2cTokenizer(os.path.join(d, "stories260K", "tok512.bin"), 512)
    text = 'Once upon a time, "Tom" said: caf\u00e9 \u2713 \U0001F600 ~[x]'
    check(tok.decode(tok.encode(text)) == text, "tok512: decode(encode(text)) == text")
    check(tok.encode("Once upon a time") == [1, 403, 407, 261, 378], "tok512: 'Once upon a time' ids")
    return fails


if __name__ == "__main__":
    import sys
    here = os.path.dirname(os.path.abspath(__file__))
    models = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "..", "shared", "models")
    f = self_test(models, verbose=True)
    print("self-test: %s" % ("FAILED" if f else "ok"))
    sys.exit(1 if f else 0)
