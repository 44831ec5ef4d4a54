// Writing a ModelDesc as a GGUF file that llama.cpp also runs: its tensor
// names, metadata keys and Q/K layout; 2-D weights in the requested type, with
// a per-tensor fallback where a row length does not fit the type's blocks.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/dtype.h"
#include "core/result.h"
#include "model/model_desc.h"
#include "quant/vq.h"

namespace slimlm {

struct ConvertOptions {
  // Type of 2-D weights; nullopt keeps each tensor's source type (lossless).
  std::optional<DType> type;
  // Per-tensor choice (overrides `type` when set): the wanted type of a tensor;
  // the row-length fallback still applies.
  std::function<std::optional<DType>(const TensorRef&)> type_for;
  // general.file_type to record (a mix's llama_ftype); unset: the type that
  // holds most weights.
  std::optional<uint32_t> file_type;
  // Quantizes `rows` rows of n floats of tensor t into type d (dst holds
  // rows * row_bytes(d, n) bytes); unset: round to nearest, row by row.
  std::function<Status(const TensorRef& t, DType d, const float* src, int64_t rows, int64_t n, uint8_t* dst)>
      quantize_rows;
  // Called once per tensor before it is written (index, count, name, chosen
  // type, note: non-empty when the tensor fell back to another type).
  std::function<void(size_t, size_t, const std::string&, DType, const std::string&)> on_tensor;
  // VQ types (quant/vq.h): k-means settings (its pool is made here) and threads
  // (0: physical cores).
  VqFitOptions vq;
  int n_threads = 0;
};

// The type a tensor is stored in for a requested type, and why if it differs.
DType choose_tensor_type(const TensorRef& t, std::optional<DType> requested, std::string* note);

// llama.cpp's general.file_type (llama_ftype) for a model mostly in type t.
uint32_t gguf_file_type(DType t);

// GGUF metadata describing m (architecture, hyper-parameters, tokenizer).
GgufKV gguf_metadata(const ModelDesc& m);

Status convert_to_gguf(const ModelDesc& m, const std::string& out_path, const ConvertOptions& opts = {});

}  // namespace slimlm
