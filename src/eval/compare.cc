#include "eval/compare.h"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include <fmt/format.h>

#include "eval/bench.h"
#include "eval/kl_divergence.h"
#include "eval/perplexity.h"
#include "model/llama.h"
#include "quant/hqq.h"

namespace slimlm {
namespace {

namespace fs = std::filesystem;

Result<std::shared_ptr<const LlamaModel>> load_llama(const std::string& path, const std::string& tokenizer) {
  LoadOptions lo;
  lo.tokenizer_path = tokenizer;
  SLIMLM_ASSIGN_OR_RETURN(ModelDesc d, load_model(path, lo));
  return LlamaModel::create(std::move(d));
}

Result<std::unique_ptr<LlamaContext>> make_context(std::shared_ptr<const LlamaModel> m, const CompareOptions& o) {
  LlamaContext::Options co;
  co.n_ctx = o.n_ctx;
  co.n_threads = o.threads;
  co.n_batch = o.n_ctx;
  return LlamaContext::create(std::move(m), co);
}

uint64_t tensor_bytes(const LlamaModel& m, uint64_t* params) {
  uint64_t b = 0;
  *params = 0;
  for (const auto& t : m.desc().tensors) {
    b += t.n_bytes;
    *params += t.n_elements();
  }
  return b;
}

// Generation speed, tokens/s (mean of the repetitions).
Result<double> generation_speed(std::shared_ptr<const LlamaModel> m, const CompareOptions& o) {
  if (o.tg_tokens <= 0) return 0.0;
  SLIMLM_ASSIGN_OR_RETURN(BenchResult b, run_bench(std::move(m), 'g', o.tg_tokens, o.threads, o.tg_repetitions));
  return b.mean();
}

}  // namespace

Result<std::vector<CompareSpec>> compare_specs(const std::vector<std::string>& types,
                                               const std::vector<std::string>& methods, int group,
                                               std::vector<std::string>* skipped) {
  if (types.empty()) return Error{"compare: no types given"};
  if (methods.empty()) return Error{"compare: no methods given"};
  std::vector<CompareSpec> specs;
  for (const auto& t : types) {
    SLIMLM_ASSIGN_OR_RETURN(QuantRecipe r, recipe_from_name(t, group));
    for (const auto& mname : methods) {
      auto m = quant_method_from_name(mname);
      if (!m)
        return Error{fmt::format("compare: unknown method '{}' (known: rtn, hqq, gptq, awq, awq+gptq, awq+hqq)", mname)};
      const std::string name = r.mix.empty() ? std::string(dtype_name(*r.type)) : r.mix;
      const bool hqq = *m == QuantMethod::kHqq || *m == QuantMethod::kAwqHqq;
      if (hqq && (!r.type || !hqq_native(*r.type))) {
        if (skipped) skipped->push_back(name + " " + std::string(quant_method_name(*m)));
        continue;
      }
      specs.push_back({name, r, *m});
    }
  }
  return specs;
}

Result<CompareReport> run_compare(const std::vector<int32_t>& tokens, const std::vector<CompareSpec>& specs,
                                  const CompareOptions& o) {
  if (o.work_dir.empty()) return Error{"compare: no work directory"};
  std::error_code ec;
  fs::create_directories(o.work_dir, ec);
  if (ec) return Error{fmt::format("compare: cannot create {}: {}", o.work_dir, ec.message())};
  auto stage = [&](const std::string& s) {
    if (o.on_stage) o.on_stage(s);
  };

  // The base: perplexity, its log-probabilities saved once, speed.
  stage("base model");
  SLIMLM_ASSIGN_OR_RETURN(auto base_model, load_llama(o.model_path, o.tokenizer_path));
  const int64_t avail = static_cast<int64_t>(tokens.size()) / o.n_ctx;
  const int64_t n_chunks = o.n_chunks >= 0 ? std::min(o.n_chunks, avail) : avail;
  if (n_chunks < 1)
    return Error{fmt::format("compare: the text has {} tokens, fewer than one chunk of {}", tokens.size(), o.n_ctx)};
  CompareReport rep;
  rep.model = o.model_path;
  rep.text = o.text_name;
  rep.n_ctx = o.n_ctx;
  rep.n_chunks = n_chunks;
  rep.threads = o.threads;
  const std::string base_path = (fs::path(o.work_dir) / "base.kld").string();
  {
    KldHeader h;
    h.n_ctx = static_cast<uint32_t>(o.n_ctx);
    h.n_vocab = static_cast<uint32_t>(base_model->config().n_vocab);
    h.n_chunks = static_cast<uint32_t>(n_chunks);
    h.n_positions = static_cast<uint32_t>(n_chunks * (o.n_ctx - 1 - o.n_ctx / 2));
    h.tokens.assign(tokens.begin(), tokens.begin() + n_chunks * o.n_ctx);
    rep.n_positions = h.n_positions;
    SLIMLM_ASSIGN_OR_RETURN(auto writer, KldBaseWriter::create(base_path, h));
    SLIMLM_ASSIGN_OR_RETURN(auto ctx, make_context(base_model, o));
    PerplexityOptions po;
    po.n_ctx = o.n_ctx;
    po.n_chunks = n_chunks;
    Status ws;
    po.on_scored = [&](const float* lp, int64_t, int32_t) {
      if (ws.ok()) ws = writer->add(lp);
    };
    po.on_chunk = [&](int64_t c, int64_t n, double) {
      if (o.on_chunk) o.on_chunk(c + 1, n);
      return true;
    };
    SLIMLM_ASSIGN_OR_RETURN(PerplexityResult pr, perplexity(*ctx, tokens, po));
    SLIMLM_RETURN_IF_ERROR(ws);
    SLIMLM_RETURN_IF_ERROR(writer->finish());
    CompareRow row;
    // The base is named by the type of its first matrix (its norms are F32 in any case).
    const auto& ts = base_model->desc().tensors;
    const auto first_matrix = std::find_if(ts.begin(), ts.end(), [](const TensorRef& t) { return t.shape.size() == 2; });
    row.type = fmt::format("{} (base)", dtype_name(first_matrix != ts.end() ? first_matrix->type : ts.front().type));
    row.method = "-";
    row.base = true;
    row.ppl = pr.ppl;
    row.ppl_err = pr.ppl_err;
    uint64_t params = 0;
    const uint64_t bytes = tensor_bytes(*base_model, &params);
    row.bits_per_weight = params ? 8.0 * static_cast<double>(bytes) / static_cast<double>(params) : 0;
    row.file_mib = fs::is_regular_file(o.model_path, ec) ? fs::file_size(o.model_path, ec) / 1048576.0
                                                          : bytes / 1048576.0;
    stage("base model: generation speed");
    SLIMLM_ASSIGN_OR_RETURN(row.tg_tps, generation_speed(base_model, o));
    rep.rows.push_back(row);
    if (o.on_row) o.on_row(row);
  }
  base_model.reset();
  SLIMLM_ASSIGN_OR_RETURN(auto base, KldBaseReader::open(base_path));

  LoadOptions lo;
  lo.tokenizer_path = o.tokenizer_path;
  SLIMLM_ASSIGN_OR_RETURN(ModelDesc desc, load_model(o.model_path, lo));
  for (const CompareSpec& s : specs) {
    const std::string label = fmt::format("{} {}", s.name, quant_method_name(s.method));
    const std::string qpath =
        (fs::path(o.work_dir) / fmt::format("{}-{}.gguf", s.name, quant_method_name(s.method))).string();
    stage("quantize " + label);
    QuantizeOptions qo;
    qo.method = s.method;
    qo.threads = o.threads;
    qo.calib = o.calib;
    if (method_needs_calibration(s.method) && o.calib.empty())
      return Error{fmt::format("compare: {} needs calibration text (--calib)", label)};
    const auto t0 = std::chrono::steady_clock::now();
    SLIMLM_ASSIGN_OR_RETURN(QuantizeReport qr, quantize_model(desc, s.recipe, qpath, qo));
    CompareRow row;
    row.quantize_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    row.type = s.name;
    row.method = std::string(quant_method_name(s.method));
    row.bits_per_weight = qr.bits_per_weight();
    row.file_mib = fs::file_size(qpath, ec) / 1048576.0;
    stage("kl-divergence " + label);
    SLIMLM_ASSIGN_OR_RETURN(auto qm, load_llama(qpath, o.tokenizer_path));
    SLIMLM_ASSIGN_OR_RETURN(auto ctx, make_context(qm, o));
    KldOptions ko;
    ko.n_chunks = n_chunks;
    ko.on_chunk = [&](int64_t c, int64_t n, double) {
      if (o.on_chunk) o.on_chunk(c + 1, n);
      return true;
    };
    SLIMLM_ASSIGN_OR_RETURN(KldResult k, kl_divergence(*ctx, *base, ko));
    ctx.reset();
    row.ppl = k.ppl_q;
    row.kld = k.kld_mean;
    row.kld_err = k.kld_err;
    row.kld_p99 = k.kld_p99;
    row.top1 = k.top1_agree;
    stage("generation speed " + label);
    SLIMLM_ASSIGN_OR_RETURN(row.tg_tps, generation_speed(qm, o));
    qm.reset();
    if (!o.keep_files) fs::remove(qpath, ec);
    rep.rows.push_back(row);
    if (o.on_row) o.on_row(row);
  }
  if (!o.keep_files) fs::remove(base_path, ec);
  return rep;
}

}  // namespace slimlm
