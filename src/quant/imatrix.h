// Importance-matrix files in llama.cpp's format (llama-imatrix / llama-quantize
// --imatrix, c392e50): per matrix, the mean of x² over calibration tokens for
// each input column. Binary, little-endian:
//
//   i32 n_entries
//   n_entries × { i32 name_len, name bytes, i32 ncall, i32 nval, f32 values[nval] }
//   i32 last_call (chunks processed), i32 len, dataset name bytes   (optional)
//
// values = mean(x²) · ncall, so readers divide by ncall (as llama-quantize does).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"

namespace slimlm {

struct ImatrixEntry {
  std::string name;           // "blk.0.attn_q.weight"
  int32_t n_calls = 0;
  std::vector<float> values;  // as stored: mean(x²) · n_calls
  // The importance of each column: values / n_calls.
  std::vector<float> importance() const;
};

struct Imatrix {
  std::vector<ImatrixEntry> entries;
  int32_t chunks = 0;
  std::string dataset;
  const ImatrixEntry* find(const std::string& name) const;
};

// Untrusted input: every count is checked against the bytes left.
Result<Imatrix> load_imatrix(const std::string& path);
// Written atomically.
Status save_imatrix(const Imatrix& m, const std::string& path);

}  // namespace slimlm
