// VQ weights in a model file (quant/vq.h): attaching each VQ tensor's codebook
// (and row scales) when a GGUF is loaded, and writing them when converting.
#pragma once

#include "core/result.h"
#include "io/gguf_writer.h"
#include "model/model_desc.h"
#include "quant/vq.h"

namespace slimlm {

// For every tensor of a VQ type: checks and copies its "<name>.vq_codebook"
// (F32, shape [D, 256]) and, for the r types, "<name>.vq_scale" (F32, shape
// [n_rows]) into TensorRef::vq, then drops those auxiliary tensors from
// m.tensors. A missing or malformed one is an error naming the tensor.
Status attach_vq_tables(ModelDesc& m);

// Declares the auxiliary tensors of `name` stored as VQ type d (after the
// index tensor itself).
Status add_vq_aux_tensors(GgufWriter& w, const std::string& name, DType d, int64_t n_rows);

// Writes tensor t as VQ type d: the index bytes, then the codebook, then the
// row scales. A source already in type d keeps its indices and tables; any
// other source is read as fp32 twice (fit on a subsample, then encode), a
// chunk of rows at a time.
Status write_vq_tensor(GgufWriter& w, const TensorRef& t, DType d, const VqFitOptions& o);

}  // namespace slimlm
