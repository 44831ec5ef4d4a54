// Whole-model quantization: a recipe (which type each tensor gets) and a
// method (how the stored values are chosen), streamed tensor by tensor into a
// GGUF file written atomically. `slimlm quantize` and `slimlm compare` call it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "model/model_desc.h"
#include "quant/gptq.h"
#include "quant/hqq.h"
#include "quant/imatrix.h"
#include "quant/recipe.h"

namespace slimlm {

// How the stored values are chosen. Rounding: rtn, hqq (data-free), gptq
// (calibrated); awq (calibrated) rescales channels first and composes with any
// rounding: "awq" = awq+rtn, "awq+gptq", "awq+hqq".
enum class QuantMethod { kRtn, kHqq, kGptq, kAwq, kAwqGptq, kAwqHqq };

std::optional<QuantMethod> quant_method_from_name(std::string_view name);
std::string_view quant_method_name(QuantMethod m);
bool method_uses_awq(QuantMethod m);
bool method_needs_calibration(QuantMethod m);  // awq or gptq

struct QuantizeOptions {
  QuantMethod method = QuantMethod::kRtn;
  HqqOptions hqq;
  GptqOptions gptq;
  // Importance matrix (llama.cpp's imatrix): weights the rounding of the types
  // that have a weighted quantizer (has_weighted_quantizer); null: none.
  const Imatrix* imatrix = nullptr;
  // Calibration sequences (model/quantize_calibrated.h) for awq / gptq.
  std::vector<std::vector<int32_t>> calib;
  std::function<void(const std::string&)> on_stage;  // calibration progress
  int threads = 1;  // rows of a tensor are quantized in parallel
  // Progress: called before each tensor (index, count, name, stored type, note).
  std::function<void(size_t, size_t, const std::string&, DType, const std::string&)> on_tensor;
};

struct QuantizeReport {
  uint64_t in_bytes = 0;   // tensor bytes of the input
  uint64_t out_bytes = 0;  // tensor bytes written
  uint64_t params = 0;     // elements of all tensors
  double bits_per_weight() const { return params ? 8.0 * static_cast<double>(out_bytes) / params : 0.0; }
};

Result<QuantizeReport> quantize_model(const ModelDesc& m, const QuantRecipe& r, const std::string& out_path,
                                      const QuantizeOptions& o = {});

}  // namespace slimlm
