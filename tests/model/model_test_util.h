// Loading a model for the engine tests.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "model/llama.h"

namespace slimlm::test {

// Loads any model file or directory for inference; nullptr (with a test
// failure recorded) when it cannot be loaded.
inline std::shared_ptr<const LlamaModel> load_llama(const std::string& path, const std::string& tokenizer = "") {
  LoadOptions lo;
  lo.tokenizer_path = tokenizer;
  auto d = load_model(path, lo);
  EXPECT_TRUE(d.ok()) << d.message();
  if (!d.ok()) return nullptr;
  auto m = LlamaModel::create(std::move(d).value());
  EXPECT_TRUE(m.ok()) << m.message();
  return m.ok() ? *m : nullptr;
}

}  // namespace slimlm::test
