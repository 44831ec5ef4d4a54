// slimlm quantize -m IN -o OUT.gguf (--type TYPE | --mix MIX) [--method rtn|hqq|gptq|awq|...] [--group G]
//                 [--calib TEXT [--act-order]] [--imatrix FILE] [--keep PATTERN=TYPE ...] [-t N]
#include <chrono>
#include <cstdio>
#include <set>

#include <fmt/format.h>

#include "commands.h"
#include "common.h"
#include "core/thread_pool.h"
#include "model/quantize_model.h"
#include "progress.h"
#include "quant/codec.h"
#include "quant/imatrix.h"
#include "quant/recipe.h"
#include "quant/vq.h"

namespace slimlm::cli {
namespace {

struct QuantizeArgs {
  std::string in, out, type, mix, method = "rtn", tokenizer, calib, imatrix;
  int64_t calib_tokens = 0, calib_ctx = 512;
  int group = 0;
  int threads = ThreadPool::default_threads();
  std::vector<std::string> keep;
  bool quiet = false;
  bool act_order = false;
  double gptq_damp = 0.01;
};

int run_quantize(const QuantizeArgs& a) {
  const auto method = quant_method_from_name(a.method);
  if (!method) {
    fmt::print(stderr, "error: --method {}: known methods are rtn, hqq, gptq, awq, awq+gptq, awq+hqq\n", a.method);
    return 2;
  }
  if (method_needs_calibration(*method) && a.calib.empty()) {
    fmt::print(stderr, "error: --method {} needs calibration text: --calib FILE\n", a.method);
    return 2;
  }
  QuantRecipe r;
  r.mix = a.mix;
  if (!a.type.empty()) {
    auto t = recipe_from_name(a.type, a.group);
    if (!t.ok() || !t->type) {
      fmt::print(stderr, "error: --type: {}\n", t.ok() ? a.type + " is a mix: use --mix" : t.message());
      return 2;
    }
    r.type = t->type;
  } else if (a.group) {
    fmt::print(stderr, "error: --group needs --type intN or nf4\n");
    return 2;
  }
  for (const auto& k : a.keep) {
    auto p = parse_keep(k);
    if (!p.ok()) {
      fmt::print(stderr, "error: {}\n", p.message());
      return 2;
    }
    r.keep.push_back(*p);
  }
  if (Status v = validate_recipe(r); !v.ok()) {
    fmt::print(stderr, "error: {}\n", v.message());
    return 2;
  }
  LoadOptions lo;
  lo.tokenizer_path = a.tokenizer;
  auto m = load_model(a.in, lo);
  if (!m.ok()) {
    fmt::print(stderr, "error: {}\n", m.message());
    return 1;
  }
  uint64_t in_bytes = 0, out_bytes = 0;
  for (const auto& t : m->tensors) in_bytes += t.n_bytes;
  QuantizeOptions qo;
  qo.method = *method;
  qo.threads = a.threads;
  qo.gptq.act_order = a.act_order;
  qo.gptq.percdamp = a.gptq_damp;
  Imatrix imatrix;
  if (!a.imatrix.empty()) {
    auto im = load_imatrix(a.imatrix);
    if (!im.ok()) {
      fmt::print(stderr, "error: --imatrix: {}\n", im.message());
      return 1;
    }
    imatrix = std::move(im).value();
    qo.imatrix = &imatrix;
    fmt::print(stderr,
               "imatrix: {} entries from {} ({} chunks); weighted rounding for q4_0, q4_1, q5_0, q5_1, iq4_nl, "
               "iq4_xs, q2_k ... q6_k\n",
               imatrix.entries.size(), a.imatrix, imatrix.chunks);
    // quantize_model weights only row-wise round-to-nearest: HQQ ignores the
    // importance, and calibrated methods quantize the decoder layers from the
    // calibration text (token_embd / output, rounded by the recipe, use it).
    if (*method == QuantMethod::kHqq || *method == QuantMethod::kAwqHqq)
      fmt::print(stderr, "note: --imatrix is not used with --method {}\n", a.method);
    else if (method_needs_calibration(*method))
      fmt::print(stderr, "note: with --method {} the decoder layers do not use --imatrix (only tensors rounded "
                         "to nearest outside them do)\n", a.method);
  }
  if (method_needs_calibration(*method)) {
    if (!load_calibration(a.in, a.tokenizer, {a.calib, a.calib_tokens, a.calib_ctx}, &qo.calib)) return 1;
    qo.on_stage = [&](const std::string& s) {
      if (!a.quiet) fmt::print(stderr, "  {}\n", s);
    };
  }
  Progress progress("quantize", static_cast<int64_t>(m->tensors.size()));
  std::set<DType> unweighted;  // types told once that the imatrix does not apply
  const auto t0 = std::chrono::steady_clock::now();
  qo.on_tensor = [&](size_t i, size_t n, const std::string& name, DType d, const std::string& note) {
    const TensorRef* t = m->find(name);
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    progress.update(static_cast<int64_t>(i),
                    fmt::format("{:.1f} MiB written, {:.1f} MB/s in | {} {}", out_bytes / 1048576.0,
                                sec > 0 ? static_cast<double>(in_bytes) * i / n / sec / 1e6 : 0.0, name,
                                dtype_name(d)));
    if (!note.empty() && !a.quiet) fmt::print(stderr, "\nnote: {}: {}\n", name, note);
    if (qo.imatrix && traits(d).block_size > 1 && !has_weighted_quantizer(d) && unweighted.insert(d).second)
      fmt::print(stderr, "\nnote: --imatrix does not apply to {} (no importance-weighted quantizer): its tensors "
                         "are rounded without it\n", dtype_name(d));
    if (t)
      out_bytes += *row_bytes(d, static_cast<uint64_t>(t->shape[0])) * static_cast<uint64_t>(t->n_rows()) +
                   vq_aux_bytes(d, t->n_rows());  // codebook (+ row scales) of a VQ tensor
  };
  auto rep = quantize_model(*m, r, a.out, qo);
  if (!rep.ok()) {
    fmt::print(stderr, "\nerror: {}\n", rep.message());
    return 1;
  }
  progress.update(static_cast<int64_t>(m->tensors.size()), "done");
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print(stderr, "wrote {}: {:.2f} MiB -> {:.2f} MiB, {:.3f} bits per weight ({}, {:.1f} s)\n", a.out,
             rep->in_bytes / 1048576.0, rep->out_bytes / 1048576.0, rep->bits_per_weight(), a.method, sec);
  return 0;
}

}  // namespace

Action add_quantize(CLI::App& app) {
  auto a = std::make_shared<QuantizeArgs>();
  auto* sub = app.add_subcommand("quantize", "Quantize a whole model (streaming, atomic output)");
  sub->add_option("-m,--model", a->in, "Input model (GGUF, HF directory, llama2.c .bin)")->required();
  sub->add_option("-o,--output", a->out, "Output GGUF")->required();
  sub->add_option("--type", a->type,
                  "One type for all 2-D weights: q8_0, q4_0, q4_k, iq4_nl, ..., slimlm's nf4 and "
                  "int2/int3/int4/int8 (with --group) or int4g64-style names, vq2x8 / vq4x8 (+r: row scales)");
  sub->add_option("--mix", a->mix,
                  "llama.cpp-style mix: q2_k, q3_k_s, q3_k_m, q3_k_l, q4_k_s, q4_k_m, q5_k_s, q5_k_m, q6_k, q8_0");
  sub->add_option("--method", a->method,
                  "How values are chosen: rtn (round to nearest), hqq, gptq, awq, awq+gptq, awq+hqq "
                  "(gptq and awq need --calib)")
      ->capture_default_str();
  sub->add_option("--calib", a->calib, "Calibration text for gptq / awq");
  sub->add_option("--imatrix", a->imatrix, "Importance matrix (llama.cpp's format; slimlm imatrix writes one)");
  sub->add_option("--calib-tokens", a->calib_tokens, "Calibration tokens (default: 128 sequences)");
  sub->add_option("--calib-ctx", a->calib_ctx, "Calibration sequence length (at most the model's context)")
      ->capture_default_str();
  sub->add_flag("--act-order", a->act_order,
                "GPTQ: quantize columns by decreasing activation energy (static groups)");
  sub->add_option("--gptq-damp", a->gptq_damp, "GPTQ dampening, a fraction of mean(diag H)")->capture_default_str();
  sub->add_option("--group", a->group, "Group size of intN / nf4 types: 32, 64 (default) or 128");
  sub->add_option("--keep", a->keep, "PATTERN=TYPE override, repeatable (glob on tensor names)");
  sub->add_option("-t,--threads", a->threads, "Threads")->capture_default_str();
  sub->add_option("--tokenizer", a->tokenizer, "llama2.c tokenizer.bin");
  sub->add_flag("-q,--quiet", a->quiet, "No per-tensor notes");
  return [a] { return run_quantize(*a); };
}

}  // namespace slimlm::cli
