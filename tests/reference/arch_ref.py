#!/usr/bin/env python3
"""Independent float64 numpy reference of the Qwen2 and Phi-3 forward passes.

Written from the Hugging Face ``Qwen2ForCausalLM`` / ``Phi3ForCausalLM``
semantics (see tests/reference/README.md), not from slimlm's C++ code.
make_arch_models.py uses it to compute the goldens of the tiny random-weight
GGUF models tests/golden/tiny-{qwen2,phi3}.gguf.

Contents
  * read_gguf(data)               minimal GGUF reader (metadata + F32 tensors)
  * ArchModel(kv, tensors)        qwen2 / phi3 model from GGUF metadata + tensors
  * ArchModel.forward(tokens)     vectorised forward in HF's formulation
  * ArchModel.forward_stepwise    a second formulation (token by token, complex
                                  RoPE, one head at a time), for the self-test
  * self_test(models)             cross-checks, including against llama_ref.py

GGUF tensors are stored in ggml shape order, (ne0 = row length, ne1 = rows), so
a ggml (in, out) matrix is the numpy [out, in] matrix of a torch.nn.Linear.
All arithmetic is float64; weights are widened from their fp32 storage.
"""

import os
import struct

import numpy as np

__all__ = ["read_gguf", "ArchModel", "self_test", "MUTATIONS"]


# --------------------------------------------------------------------------
# Minimal GGUF reader
# --------------------------------------------------------------------------

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<B",
            10: "<Q", 11: "<q", 12: "<d"}


def read_gguf(data):
    """Parse a GGUF v2/v3 file (bytes).  Returns (kv, tensors): kv maps keys to
    Python values, tensors maps names to float64 arrays with numpy shape
    reversed from the ggml shape (ggml (ne0, ne1) -> numpy [ne1, ne0]).
    Only F32 tensors (type 0) are supported."""
    p = [0]

    def unpack(fmt):
        v = struct.unpack_from(fmt, data, p[0])
        p[0] += struct.calcsize(fmt)
        return v[0] if len(v) == 1 else v

    def string():
        n = unpack("<Q")
        s = data[p[0]:p[0] + n].decode("utf-8")
        p[0] += n
        return s

    def value(t):
        if t in _SCALARS:
            v = unpack(_SCALARS[t])
            return bool(v) if t == 7 else v
        if t == 8:
            return string()
        if t == 9:
            et, n = unpack("<I"), unpack("<Q")
            return [value(et) for _ in range(n)]
        raise ValueError("unknown GGUF value type %d" % t)

    assert data[:4] == b"GGUF", "not a GGUF file"
    p[0] = 4
    version = unpack("<I")
    assert version in (2, 3), "GGUF version %d" % version
    n_tensors, n_kv = unpack("<Q"), unpack("<Q")
    kv = {}
    for _ in range(n_kv):
        k = string()
        assert k not in kv, "duplicate key " + k
        kv[k] = value(unpack("<I"))
    infos = []
    for _ in range(n_tensors):
        name = string()
        nd = unpack("<I")
        shape = [unpack("<Q") for _ in range(nd)]
        typ, off = unpack("<I"), unpack("<Q")
        assert typ == 0, "%s: only F32 tensors are supported" % name
        infos.append((name, shape, off))
    align = kv.get("general.alignment", 32)
    base = (p[0] + align - 1) // align * align
    tensors = {}
    for name, shape, off in infos:
        assert off % align == 0, "%s: unaligned offset" % name
        n = int(np.prod(shape))
        a = np.frombuffer(data, dtype="<f4", count=n, offset=base + off)
        tensors[name] = a.reshape(shape[::-1]).astype(np.float64)
    return kv, tensors


# --------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------

# Deliberate mistakes, used only by self_test() to show that the goldens would
# catch them (each must move the logits far more than the C++ test tolerance).
MUTATIONS = (
    "rope_interleaved",   # RoPE on pairs (2i, 2i+1) instead of (i, i + d/2)
    "bias_after_rope",    # qwen2: q/k biases added after the rotation
    "no_bias",            # qwen2: biases ignored
    "gqa_modulo",         # query head j uses kv head j % n_kv instead of j // (n_head / n_kv)
    "swap_gate_up",       # phi3: gate_up rows read as [up | gate]
    "qkv_order_kqv",      # phi3: fused rows read as [k | q | v] (kv-sized q taken wrongly)
    "rope_base_1e4",      # rope base 10000 instead of <arch>.rope.freq_base
    "eps_1e-5",           # RMSNorm epsilon 1e-5 instead of the stored value
    "tied_output",        # phi3: output.weight ignored, token_embd reused
)


class ArchModel:
    """A qwen2 or phi3 model built from GGUF metadata and tensors, kept under
    the Hugging Face module names (q_proj, gate_up_proj, ...)."""

    def __init__(self, kv, tensors):
        arch = kv["general.architecture"]
        assert arch in ("qwen2", "phi3"), arch
        a = arch + "."
        self.arch = arch
        self.n_embd = kv[a + "embedding_length"]
        self.n_ff = kv[a + "feed_forward_length"]
        self.n_layer = kv[a + "block_count"]
        self.n_head = kv[a + "attention.head_count"]
        self.n_kv = kv.get(a + "attention.head_count_kv", self.n_head)
        self.head_dim = self.n_embd // self.n_head
        assert self.n_embd % self.n_head == 0 and self.n_head % self.n_kv == 0
        assert kv.get(a + "rope.dimension_count", self.head_dim) == self.head_dim, "partial RoPE not implemented"
        # the stored f32 values, widened (what a reader of the file gets)
        self.rope_theta = float(kv[a + "rope.freq_base"])
        self.eps = float(kv[a + "attention.layer_norm_rms_epsilon"])
        self.n_ctx = kv[a + "context_length"]
        t = tensors
        self.embed_tokens = t["token_embd.weight"]          # [vocab, n_embd]
        self.vocab = self.embed_tokens.shape[0]
        assert kv.get(a + "vocab_size", self.vocab) == self.vocab
        self.norm = t["output_norm.weight"]
        self.tied = "output.weight" not in t
        self.lm_head = self.embed_tokens if self.tied else t["output.weight"]
        E, KVD, F = self.n_embd, self.n_kv * self.head_dim, self.n_ff
        self.layers = []
        for l in range(self.n_layer):
            g = lambda s: t["blk.%d.%s" % (l, s)]  # noqa: E731
            L = {"input_layernorm": g("attn_norm.weight"),
                 "post_attention_layernorm": g("ffn_norm.weight"),
                 "o_proj": g("attn_output.weight"),
                 "down_proj": g("ffn_down.weight")}
            if arch == "qwen2":
                # Qwen2Attention: q/k/v_proj with bias=True, o_proj without
                L["q_proj"], L["q_bias"] = g("attn_q.weight"), g("attn_q.bias")
                L["k_proj"], L["k_bias"] = g("attn_k.weight"), g("attn_k.bias")
                L["v_proj"], L["v_bias"] = g("attn_v.weight"), g("attn_v.bias")
                L["gate_proj"], L["up_proj"] = g("ffn_gate.weight"), g("ffn_up.weight")
                assert L["q_proj"].shape == (E, E) and L["k_proj"].shape == (KVD, E)
                assert L["gate_proj"].shape == (F, E) and L["up_proj"].shape == (F, E)
            else:
                # Phi3Attention.qkv_proj: [q | k | v] output rows; Phi3MLP.gate_up_proj: [gate | up]
                L["qkv_proj"] = g("attn_qkv.weight")
                L["gate_up_proj"] = g("ffn_up.weight")
                assert L["qkv_proj"].shape == (E + 2 * KVD, E)
                assert L["gate_up_proj"].shape == (2 * F, E)
            assert L["o_proj"].shape == (E, E) and L["down_proj"].shape == (E, F)
            self.layers.append(L)

    # ---- formulation 1: vectorised, as the HF modeling code -------------

    def _rmsnorm(self, x, w, eps):
        # Qwen2RMSNorm / Phi3RMSNorm: x * rsqrt(mean(x^2) + eps) * weight
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w

    def forward(self, tokens, mutate=()):
        """Causal forward over `tokens` at positions 0..T-1; float64 logits
        [T, vocab].  `mutate` (names from MUTATIONS) is for self_test only."""
        for m in mutate:
            assert m in MUTATIONS, m
        tokens = np.asarray(tokens, dtype=np.int64)
        assert tokens.ndim == 1 and 0 <= tokens.min() and tokens.max() < self.vocab
        T, H, KV, hd = tokens.size, self.n_head, self.n_kv, self.head_dim
        eps = 1e-5 if "eps_1e-5" in mutate else self.eps
        theta = 10000.0 if "rope_base_1e4" in mutate else self.rope_theta
        # RotaryEmbedding: inv_freq = 1 / base^(arange(0, d, 2) / d),
        # emb = cat(freqs, freqs); q*cos + rotate_half(q)*sin
        inv_freq = 1.0 / theta ** (np.arange(0, hd, 2, dtype=np.float64) / hd)
        freqs = np.arange(T, dtype=np.float64)[:, None] * inv_freq[None, :]
        emb = np.concatenate([freqs, freqs], axis=-1)
        cos, sin = np.cos(emb)[:, None, :], np.sin(emb)[:, None, :]  # [T, 1, hd]

        def rope(x):  # [T, heads, hd]
            if "rope_interleaved" in mutate:
                out = np.empty_like(x)
                c, s = cos[..., :hd // 2], sin[..., :hd // 2]
                out[..., 0::2] = x[..., 0::2] * c - x[..., 1::2] * s
                out[..., 1::2] = x[..., 0::2] * s + x[..., 1::2] * c
                return out
            rot = np.concatenate([-x[..., hd // 2:], x[..., :hd // 2]], axis=-1)  # rotate_half
            return x * cos + rot * sin

        mask = np.tril(np.ones((T, T), dtype=bool))
        x = self.embed_tokens[tokens]
        for L in self.layers:
            h = self._rmsnorm(x, L["input_layernorm"], eps)
            if self.arch == "qwen2":
                use_bias = "no_bias" not in mutate
                late = "bias_after_rope" in mutate
                q = h @ L["q_proj"].T
                k = h @ L["k_proj"].T
                v = h @ L["v_proj"].T
                if use_bias:
                    v = v + L["v_bias"]
                    if not late:
                        q, k = q + L["q_bias"], k + L["k_bias"]
                q, k = rope(q.reshape(T, H, hd)), rope(k.reshape(T, KV, hd))
                if use_bias and late:
                    q = q + L["q_bias"].reshape(H, hd)
                    k = k + L["k_bias"].reshape(KV, hd)
            else:
                qkv = h @ L["qkv_proj"].T
                qp, kp = H * hd, KV * hd
                if "qkv_order_kqv" in mutate:
                    k, q, v = qkv[:, :kp], qkv[:, kp:kp + qp], qkv[:, kp + qp:]
                else:
                    q, k, v = qkv[:, :qp], qkv[:, qp:qp + kp], qkv[:, qp + kp:]
                q, k = rope(q.reshape(T, H, hd)), rope(k.reshape(T, KV, hd))
            v = v.reshape(T, KV, hd)
            # repeat_kv: kv head i serves query heads i*rep .. i*rep+rep-1
            if "gqa_modulo" in mutate:
                k, v = np.tile(k, (1, H // KV, 1)), np.tile(v, (1, H // KV, 1))
            else:
                k, v = np.repeat(k, H // KV, axis=1), np.repeat(v, H // KV, axis=1)
            w = np.einsum("thd,shd->hts", q, k) / np.sqrt(hd)
            w = np.where(mask[None], w, -np.inf)
            w = np.exp(w - w.max(axis=-1, keepdims=True))
            w /= w.sum(axis=-1, keepdims=True)
            att = np.einsum("hts,shd->thd", w, v).reshape(T, H * hd)
            x = x + att @ L["o_proj"].T
            h = self._rmsnorm(x, L["post_attention_layernorm"], eps)
            if self.arch == "qwen2":
                # Qwen2MLP: down_proj(act_fn(gate_proj(x)) * up_proj(x))
                gate, up = h @ L["gate_proj"].T, h @ L["up_proj"].T
            else:
                # Phi3MLP: gate, up = gate_up_proj(x).chunk(2, dim=-1); down_proj(up * act_fn(gate))
                gu = h @ L["gate_up_proj"].T
                gate, up = gu[:, :self.n_ff], gu[:, self.n_ff:]
                if "swap_gate_up" in mutate:
                    gate, up = up, gate
            x = x + (up * (gate / (1.0 + np.exp(-gate)))) @ L["down_proj"].T
        x = self._rmsnorm(x, self.norm, eps)
        out = self.embed_tokens if "tied_output" in mutate else self.lm_head
        return x @ out.T

    # ---- formulation 2: token by token, for the self-test ----------------

    def forward_stepwise(self, tokens):
        """The same function computed differently: one token at a time with a
        KV cache, fused weights split into separate matrices first, RoPE as a
        complex rotation z * e^{i p theta} of z = x[:d/2] + i x[d/2:], angles
        theta_i = exp(-(2i/d) ln base), one attention head at a time with
        kv head = j * n_kv // n_head, and sums of squares for RMSNorm."""
        hd, half, E, F = self.head_dim, self.head_dim // 2, self.n_embd, self.n_ff
        KVD = self.n_kv * hd
        ang = np.exp(-(2.0 * np.arange(half) / hd) * np.log(self.rope_theta))
        split = []
        for L in self.layers:
            if self.arch == "phi3":
                W = L["qkv_proj"]
                S = dict(wq=W[:E], wk=W[E:E + KVD], wv=W[E + KVD:], bq=0.0, bk=0.0, bv=0.0,
                         wg=L["gate_up_proj"][:F], wu=L["gate_up_proj"][F:])
            else:
                S = dict(wq=L["q_proj"], wk=L["k_proj"], wv=L["v_proj"], bq=L["q_bias"],
                         bk=L["k_bias"], bv=L["v_bias"], wg=L["gate_proj"], wu=L["up_proj"])
            split.append(S)

        def norm(x, g):
            return x * (1.0 / np.sqrt(np.dot(x, x) / x.size + self.eps)) * g

        def rot(vec, p):
            z = (vec[:half] + 1j * vec[half:]) * np.exp(1j * p * ang)
            return np.concatenate([z.real, z.imag])

        Kc = [[] for _ in self.layers]
        Vc = [[] for _ in self.layers]
        out = []
        for p, tok in enumerate(tokens):
            x = self.embed_tokens[tok].copy()
            for li, (L, S) in enumerate(zip(self.layers, split)):
                h = norm(x, L["input_layernorm"])
                q = S["wq"].dot(h) + S["bq"]
                k = S["wk"].dot(h) + S["bk"]
                v = S["wv"].dot(h) + S["bv"]
                Kc[li].append([rot(k[i * hd:(i + 1) * hd], p) for i in range(self.n_kv)])
                Vc[li].append([v[i * hd:(i + 1) * hd] for i in range(self.n_kv)])
                heads = []
                for j in range(self.n_head):
                    qj = rot(q[j * hd:(j + 1) * hd], p)
                    kvh = j * self.n_kv // self.n_head
                    s = np.array([qj.dot(Kc[li][t][kvh]) for t in range(p + 1)]) / np.sqrt(hd)
                    lse = s.max() + np.log(np.sum(np.exp(s - s.max())))
                    heads.append(sum(np.exp(s[t] - lse) * Vc[li][t][kvh] for t in range(p + 1)))
                x = x + L["o_proj"].dot(np.concatenate(heads))
                h = norm(x, L["post_attention_layernorm"])
                g = S["wg"].dot(h)
                x = x + L["down_proj"].dot(g * (1.0 / (1.0 + np.exp(-g))) * S["wu"].dot(h))
            out.append(self.lm_head.dot(norm(x, self.norm)))
        return np.array(out)


# --------------------------------------------------------------------------
# Self-test
# --------------------------------------------------------------------------

def _to_llama_ref(m, zero_bias_ok=False):
    """The same weights as a llama_ref.Model with *interleaved* RoPE: the q/k
    rows of every head are reordered from (i, i + d/2) pairs to (2i, 2i+1)
    pairs, and phi3's fused matrices are split.  llama_ref has no biases."""
    import llama_ref
    c = llama_ref.Config(m.n_embd, m.n_ff, m.n_layer, m.n_head, m.n_kv, m.vocab, m.n_ctx,
                         m.eps, m.rope_theta, "interleaved")
    E, KVD, F, hd = m.n_embd, m.n_kv * m.head_dim, m.n_ff, m.head_dim

    def pairs(w, heads):
        # row h*hd + 2i + j  <-  row h*hd + j*hd/2 + i
        return w.reshape(heads, 2, hd // 2, -1).transpose(0, 2, 1, 3).reshape(w.shape)

    layers = []
    for L in m.layers:
        R = llama_ref.Layer()
        R.attn_norm, R.ffn_norm = L["input_layernorm"], L["post_attention_layernorm"]
        R.wo, R.w_down = L["o_proj"], L["down_proj"]
        if m.arch == "phi3":
            W, GU = L["qkv_proj"], L["gate_up_proj"]
            wq, wk, wv = W[:E], W[E:E + KVD], W[E + KVD:]
            R.w_gate, R.w_up = GU[:F], GU[F:]
        else:
            assert zero_bias_ok
            wq, wk, wv = L["q_proj"], L["k_proj"], L["v_proj"]
            R.w_gate, R.w_up = L["gate_proj"], L["up_proj"]
        R.wq, R.wk, R.wv = pairs(wq, m.n_head), pairs(wk, m.n_kv), wv
        layers.append(R)
    return llama_ref.Model(c, m.embed_tokens, layers, m.norm, m.lm_head)


def _applicable(m):
    """The MUTATIONS that change something for model `m`."""
    only = {"bias_after_rope": "qwen2", "no_bias": "qwen2", "swap_gate_up": "phi3",
            "qkv_order_kqv": "phi3", "tied_output": "phi3"}
    out = []
    for mut in MUTATIONS:
        if only.get(mut, m.arch) != m.arch:
            continue
        if mut == "rope_base_1e4" and abs(m.rope_theta - 1e4) < 1e-3:
            continue
        if mut == "eps_1e-5" and abs(m.eps - 1e-5) < 1e-9:
            continue
        if mut == "gqa_modulo" and m.n_head == m.n_kv:
            continue
        out.append(mut)
    return out


def self_test(models, prompts, tolerance=1e-4, verbose=False):
    """Cross-checks of the reference on `models` ({name: ArchModel}) and
    `prompts` (lists of token ids).  Returns a list of failure messages."""
    import copy
    fails = []

    def check(ok, msg):
        if verbose:
            print("  %s %s" % ("ok  " if ok else "FAIL", msg))
        if not ok:
            fails.append(msg)

    for name, m in sorted(models.items()):
        toks = max(prompts, key=len)
        a = m.forward(toks)
        # 1. a second formulation of the same function
        err = np.abs(a - m.forward_stepwise(toks)).max()
        check(err < 1e-10, "%s: stepwise/complex-RoPE formulation == vectorised (max err %.2e)" % (name, err))
        # 2. causality
        err = np.abs(m.forward(toks[:9]) - a[:9]).max()
        check(err < 1e-12, "%s: causal mask (max err %.2e)" % (name, err))
        # 3. llama_ref.py (interleaved RoPE on reordered rows, no biases)
        if m.arch == "phi3":
            err = np.abs(a - _to_llama_ref(m).forward(toks)).max()
            check(err < 1e-10, "%s: == llama_ref.py on split + reordered weights (max err %.2e)" % (name, err))
        else:
            z = copy.copy(m)
            z.layers = [dict(L, q_bias=0 * L["q_bias"], k_bias=0 * L["k_bias"], v_bias=0 * L["v_bias"])
                        for L in m.layers]
            err = np.abs(z.forward(toks) - _to_llama_ref(z, zero_bias_ok=True).forward(toks)).max()
            check(err < 1e-10, "%s (biases zeroed): == llama_ref.py on reordered weights (max err %.2e)"
                  % (name, err))
        # 4. the goldens would catch these mistakes (by far more than the tolerance)
        for mut in _applicable(m):
            d = max(float(np.abs(m.forward(p, mutate=(mut,)) - m.forward(p)).max()) for p in prompts)
            check(d > 100 * tolerance, "%s: mistake '%s' changes the logits by %.3g" % (name, mut, d))
    return fails


if __name__ == "__main__":
    import sys
    sys.dont_write_bytecode = True
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import make_arch_models
    sys.exit(make_arch_models.main(["--check-only"]))
