// llama2.c checkpoint + tokenizer.bin -> ModelDesc. llama2.c already stores
// Q/K in the interleaved RoPE order GGUF uses, so no permutation is needed;
// tensors are per-layer slices of the stacked arrays, viewed in place.
#include <filesystem>

#include <fmt/format.h>

#include "io/llama2c.h"
#include "model/model_desc.h"

namespace slimlm {
namespace {

// SentencePiece pieces as llama2.c's exporter wrote them -> GGUF token texts.
void convert_llama2c_vocab(const Llama2cTokenizer& in, TokenizerDesc& t) {
  t.model = "llama";
  t.pre = "default";
  t.bos = 1;
  t.eos = 2;
  t.unk = 0;
  for (size_t i = 0; i < in.pieces.size(); ++i) {
    std::string p = in.pieces[i];
    int32_t type = 1;  // normal
    if (p == "\n<s>\n" || p == "\n</s>\n") {
      p = p.substr(1, p.size() - 2);
      type = 3;  // control
    } else if (i == 0 && p == "<unk>") {
      type = 2;
    } else if (p.size() == 6 && p.rfind("<0x", 0) == 0 && p[5] == '>') {
      type = 6;  // byte
    } else {
      std::string out;
      for (char ch : p) {
        if (ch == ' ') out += "\xe2\x96\x81";  // U+2581, SentencePiece's space
        else out += ch;
      }
      p = std::move(out);
    }
    t.tokens.push_back(std::move(p));
    t.scores.push_back(in.scores[i]);
    t.token_types.push_back(type);
  }
}

}  // namespace

Result<ModelDesc> load_llama2c_model(const std::string& path, const LoadOptions& opts) {
  SLIMLM_ASSIGN_OR_RETURN(Llama2cCheckpoint ck, open_llama2c(path));
  const Llama2cConfig& lc = ck.config;
  ModelDesc m;
  m.format = "llama2c";
  m.path = path;
  m.keep_alive.push_back(ck.keep);
  ModelConfig& c = m.config;
  c.arch = "llama";
  c.name = std::filesystem::path(path).stem().string();
  c.n_vocab = lc.vocab_size;
  c.n_embd = lc.dim;
  c.n_ff = lc.hidden_dim;
  c.n_layer = lc.n_layers;
  c.n_head = lc.n_heads;
  c.n_head_kv = lc.n_kv_heads;
  c.n_ctx = lc.seq_len;
  c.n_rot = lc.dim / lc.n_heads;
  c.rope_freq_base = 10000.0;  // run.c's constant
  c.rms_eps = 1e-5;            // run.c's constant
  c.tied_embeddings = lc.shared_classifier;

  const int64_t D = lc.dim, H = lc.hidden_dim, V = lc.vocab_size, KV = D / lc.n_heads * lc.n_kv_heads;
  // Adds one tensor: `rows` rows of `cols` floats, layer `layer` of the stacked array `src`.
  auto add = [&](const std::string& name, const char* src, int64_t cols, int64_t rows, int64_t layer) {
    const Llama2cArray* a = ck.find(src);
    uint64_t n = static_cast<uint64_t>(cols * rows);
    TensorRef r;
    r.name = name;
    r.shape = rows == 1 ? std::vector<int64_t>{cols} : std::vector<int64_t>{cols, rows};
    r.type = DType::F32;
    r.data = reinterpret_cast<const uint8_t*>(a->data + layer * n);
    r.n_bytes = n * 4;
    r.origin = fmt::format("{}:{}[{}]", path, src, layer);
    m.tensors.push_back(std::move(r));
  };
  add("token_embd.weight", "token_embedding", D, V, 0);
  add("output_norm.weight", "rms_final", D, 1, 0);
  if (!lc.shared_classifier) add("output.weight", "wcls", D, V, 0);
  for (int64_t l = 0; l < lc.n_layers; ++l) {
    auto n = [&](const char* s) { return fmt::format("blk.{}.{}.weight", l, s); };
    add(n("attn_norm"), "rms_att", D, 1, l);
    add(n("attn_q"), "wq", D, D, l);
    add(n("attn_k"), "wk", D, KV, l);
    add(n("attn_v"), "wv", D, KV, l);
    add(n("attn_output"), "wo", D, D, l);
    add(n("ffn_norm"), "rms_ffn", D, 1, l);
    add(n("ffn_gate"), "w1", D, H, l);
    add(n("ffn_down"), "w2", H, D, l);
    add(n("ffn_up"), "w3", D, H, l);
  }

  if (!opts.tokenizer_path.empty()) {
    SLIMLM_ASSIGN_OR_RETURN(Llama2cTokenizer tok, read_llama2c_tokenizer(opts.tokenizer_path, lc.vocab_size));
    convert_llama2c_vocab(tok, m.tokenizer);
  }
  return m;
}

}  // namespace slimlm
