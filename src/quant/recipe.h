// Which type each tensor gets when a whole model is quantized: one type for
// all 2-D weights, or a llama.cpp-style mix that spends more bits where it
// pays (output, attn_v, ffn_down), with --keep PATTERN=TYPE overrides.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "core/result.h"
#include "model/model_desc.h"

namespace slimlm {

struct QuantRecipe {
  std::optional<DType> type;  // all 2-D weights (when no mix)
  std::string mix;            // q2_k, q3_k_s, q3_k_m, q3_k_l, q4_k_s, q4_k_m, q5_k_s, q5_k_m, q6_k, q8_0
  std::vector<std::pair<std::string, DType>> keep;  // glob pattern on the tensor name -> type
};

// Names of the mixes slimlm knows.
const std::vector<std::string>& quant_mixes();

// Parses "PATTERN=TYPE" (e.g. "*.ffn_down.weight=q6_k").
Result<std::pair<std::string, DType>> parse_keep(const std::string& spec);

// The wanted type of tensor t under the recipe (before the row-length
// fallback); nullopt leaves the tensor as it is (1-D tensors).
std::optional<DType> recipe_type(const QuantRecipe& r, const TensorRef& t, const ModelConfig& c);

// llama.cpp's general.file_type (llama_ftype) of a mix; nullopt for --type
// recipes (the writer then names the type holding most weights).
std::optional<uint32_t> recipe_file_type(const QuantRecipe& r);

// A recipe from one name: a mix ("q4_k_m"), a type ("q4_0", "int4g64"), or a
// slimlm base type ("int4", "nf4") completed by `group` (0: 64). A group with
// a type that has fixed blocks is an error.
Result<QuantRecipe> recipe_from_name(const std::string& name, int group = 0);

// Checks a recipe: a known mix, or a type; not both.
Status validate_recipe(const QuantRecipe& r);

}  // namespace slimlm
