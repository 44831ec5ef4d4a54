// Vector quantization (experimental storage format, docs/formats.md): a
// weight row of n values is cut into n / D vectors of D consecutive values;
// each is stored as one byte, the index of its nearest entry in a 256-entry
// codebook of D-dim vectors fitted by k-means per tensor.
//
//   vq2x8  (1030): D = 2, 4 bits/weight     vq2x8r (1032): + a scale per row
//   vq4x8  (1031): D = 4, 2 bits/weight     vq4x8r (1033): + a scale per row
//
// In a GGUF file the index tensor has the VQ type (block = one vector, 1 byte,
// so ggml's row-size arithmetic holds); its codebook is the F32 tensor
// "<name>.vq_codebook" of shape [D, 256], and for the r types its row scales
// are the F32 tensor "<name>.vq_scale" of shape [n_rows]. Decoding needs the
// codebook, so VQ types have their own row decoder here rather than going
// through dequantize_row (quant/codec.h), which reports them as unsupported.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/result.h"

namespace slimlm {

class ThreadPool;

constexpr int kVqEntries = 256;  // one index byte: every byte value is a valid index

struct VqFormat {
  int dim;         // elements per vector
  bool row_scale;  // the r types: x = scale[row] * codebook[index]
};

// The format of a VQ type; nullopt for any other type.
std::optional<VqFormat> vq_format(DType t);
inline bool is_vq_type(DType t) { return vq_format(t).has_value(); }

// Names of the auxiliary tensors of weight `name`.
std::string vq_codebook_name(const std::string& name);  // name + ".vq_codebook"
std::string vq_scale_name(const std::string& name);     // name + ".vq_scale"

// The decoding tables of one VQ tensor (owned copies of the file's tensors).
struct VqTables {
  int dim = 0;
  std::vector<float> codebook;   // kVqEntries x dim, row-major
  std::vector<float> row_scale;  // one per stored row for the r types, else empty
};

// dst[v * D + j] = scale * codebook[src[v] * D + j] for the n / D index bytes
// at src. codebook holds kVqEntries * D floats; pass scale 1 for the plain
// types. Errors for a non-VQ type, n not a multiple of D, or a null buffer.
Status dequantize_row_vq(DType t, const float* codebook, float scale, const void* src, float* dst, int64_t n);

// Bytes of the auxiliary tensors (codebook, row scales) of a VQ tensor with
// n_rows rows; 0 for other types.
uint64_t vq_aux_bytes(DType t, int64_t n_rows);

// ---- quantization --------------------------------------------------------

struct VqFitOptions {
  int iterations = 20;              // Lloyd iterations
  int64_t max_fit_vectors = 131072; // larger tensors fit on a fixed pseudo-random subsample
  uint64_t seed = 1234;
  ThreadPool* pool = nullptr;
};

// Whether vector number v (counting over the whole tensor) of a tensor of
// n_vectors belongs to the fitting subsample (all of them when n_vectors <=
// max_fit_vectors; otherwise about max_fit_vectors of them, chosen by a hash).
bool vq_in_fit_sample(uint64_t v, uint64_t n_vectors, const VqFitOptions& o);

// The row scale the r types normalise by before fitting and encoding: the
// row's RMS (1 for an all-zero or non-finite row).
float vq_row_rms(const float* x, int64_t n);

// Fits a codebook (kVqEntries x dim) to n sample vectors. Non-finite vectors
// are skipped; with no usable vector the codebook is all zeros.
Result<std::vector<float>> vq_fit_codebook(int dim, const float* vectors, int64_t n, const VqFitOptions& o);

// Encodes one row of n values: for the r types x is divided by its RMS, each
// vector takes the nearest codebook entry, then the row scale is refitted by
// least squares; returns the scale (1 for the plain types).
float vq_encode_row(const VqFormat& f, const float* codebook, const float* x, int64_t n, uint8_t* out);

// A whole matrix quantized in memory (tests, small tensors): rows of n_cols.
struct VqMatrix {
  VqTables tables;
  std::vector<uint8_t> indices;  // n_rows * n_cols / D
};
Result<VqMatrix> vq_quantize_matrix(DType t, const float* x, int64_t n_cols, int64_t n_rows, const VqFitOptions& o);

}  // namespace slimlm
