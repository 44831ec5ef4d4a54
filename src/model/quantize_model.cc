#include "model/quantize_model.h"

#include <algorithm>
#include <atomic>

#include <fmt/format.h>

#include "core/thread_pool.h"
#include "model/convert.h"
#include "model/quantize_calibrated.h"
#include "quant/block_grid.h"
#include "quant/gptq.h"
#include "quant/codec.h"
#include "quant/vq.h"

namespace slimlm {

namespace {
constexpr std::pair<QuantMethod, std::string_view> kMethods[] = {
    {QuantMethod::kRtn, "rtn"}, {QuantMethod::kHqq, "hqq"},           {QuantMethod::kGptq, "gptq"},
    {QuantMethod::kAwq, "awq"}, {QuantMethod::kAwqGptq, "awq+gptq"}, {QuantMethod::kAwqHqq, "awq+hqq"}};
}  // namespace

std::optional<QuantMethod> quant_method_from_name(std::string_view name) {
  if (name == "awq+rtn") return QuantMethod::kAwq;
  for (const auto& [m, n] : kMethods)
    if (n == name) return m;
  return std::nullopt;
}

std::string_view quant_method_name(QuantMethod m) {
  for (const auto& [mm, n] : kMethods)
    if (mm == m) return n;
  return "?";
}

bool method_uses_awq(QuantMethod m) {
  return m == QuantMethod::kAwq || m == QuantMethod::kAwqGptq || m == QuantMethod::kAwqHqq;
}
bool method_needs_calibration(QuantMethod m) {
  return method_uses_awq(m) || m == QuantMethod::kGptq;
}

Result<QuantizeReport> quantize_model(const ModelDesc& m, const QuantRecipe& r, const std::string& out_path,
                                      const QuantizeOptions& o) {
  SLIMLM_RETURN_IF_ERROR(validate_recipe(r));
  QuantizeReport rep;
  for (const auto& t : m.tensors) {
    rep.in_bytes += t.n_bytes;
    rep.params += t.n_elements();
  }
  ThreadPool pool(std::max(1, o.threads));
  const bool hqq_rounding = o.method == QuantMethod::kHqq || o.method == QuantMethod::kAwqHqq;
  auto round_row = [&](DType d, const float* src, int64_t n, uint8_t* dst) -> Status {
    return hqq_rounding ? hqq_quantize_row(d, src, dst, n, o.hqq) : quantize_row(d, src, dst, n);
  };
  // Calibrated methods quantize the decoder layers first; the rest (token_embd,
  // output) follows the recipe with the rounding below.
  ModelDesc calibrated;
  const ModelDesc* src_model = &m;
  if (method_needs_calibration(o.method)) {
    CalibratedOptions cal;
    cal.sequences = o.calib;
    cal.awq = method_uses_awq(o.method);
    cal.threads = std::max(1, o.threads);
    cal.pool = &pool;
    cal.on_stage = o.on_stage;
    cal.row_quant = round_row;
    if (o.method == QuantMethod::kGptq || o.method == QuantMethod::kAwqGptq) {
      cal.gptq = [&](DType t, const float* w, int64_t rows, int64_t cols, const double* h, uint8_t* out) -> Status {
        if (!BlockGrid::supported(t)) {  // e.g. the k-quants: round this matrix row by row instead
          if (o.on_stage) o.on_stage(fmt::format("note: gptq has no grid for {} yet: rounding to nearest", dtype_name(t)));
          return quantize_rows_parallel(pool, t, w, rows, cols, out, round_row);
        }
        return gptq_quantize(t, w, rows, cols, h, o.gptq, out, nullptr, &pool);
      };
    }
    SLIMLM_ASSIGN_OR_RETURN(calibrated, quantize_layers_calibrated(m, r, cal));
    src_model = &calibrated;
  }
  ConvertOptions co;
  co.file_type = recipe_file_type(r);
  co.n_threads = std::max(1, o.threads);  // VQ k-means
  co.type_for = [&](const TensorRef& t) { return recipe_type(r, t, m.config); };
  co.quantize_rows = [&](const TensorRef& t, DType d, const float* src, int64_t rows, int64_t n,
                         uint8_t* dst) -> Status {
    const ImatrixEntry* e = o.imatrix && !hqq_rounding && has_weighted_quantizer(d) ? o.imatrix->find(t.name) : nullptr;
    if (!e) return quantize_rows_parallel(pool, d, src, rows, n, dst, round_row);
    if (static_cast<int64_t>(e->values.size()) != n)  // as llama-quantize: an imatrix of another model
      return Error{fmt::format("imatrix entry '{}' has {} values, but the tensor has {} columns: is the imatrix "
                               "from another model?",
                               t.name, e->values.size(), n)};
    const std::vector<float> importance = e->importance();
    return quantize_rows_parallel(pool, d, src, rows, n, dst,
                                  [&](DType dt, const float* x, int64_t len, uint8_t* out) -> Status {
                                    return quantize_row_weighted(dt, x, out, len, importance.data());
                                  });
  };
  co.on_tensor = [&](size_t i, size_t count, const std::string& name, DType d, const std::string& note) {
    if (o.on_tensor) o.on_tensor(i, count, name, d, note);
    if (const TensorRef* t = m.find(name))
      rep.out_bytes += *row_bytes(d, static_cast<uint64_t>(t->shape[0])) * static_cast<uint64_t>(t->n_rows()) +
                       vq_aux_bytes(d, t->n_rows());  // a VQ tensor's codebook (+ row scales)
  };
  SLIMLM_RETURN_IF_ERROR(convert_to_gguf(*src_model, out_path, co));
  return rep;
}

}  // namespace slimlm
