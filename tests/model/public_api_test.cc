// The public header alone is enough to inspect and convert a model.
#include "slimlm/slimlm.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace {

TEST(PublicApi, InspectAndConvert) {
  auto bin = slimlm::test::shared_path("models/stories260K/stories260K.bin");
  auto tok = slimlm::test::shared_path("models/stories260K/tok512.bin");
  SLIMLM_REQUIRE_SHARED(bin);
  slimlm::ModelSummary s;
  std::string err;
  ASSERT_TRUE(slimlm::inspect_model(bin, tok, &s, &err)) << err;
  EXPECT_EQ(s.format, "llama2c");
  EXPECT_EQ(s.n_layer, 5);
  EXPECT_EQ(s.n_tokens, 512u);
  EXPECT_EQ(s.tensors.size(), 47u);
  EXPECT_NEAR(s.bits_per_weight, 32.0, 1e-9);

  slimlm::test::TempDir dir;
  ASSERT_TRUE(slimlm::convert_model(bin, dir.file("s.gguf"), "f16", tok, &err)) << err;
  slimlm::ModelSummary g;
  ASSERT_TRUE(slimlm::inspect_model(dir.file("s.gguf"), "", &g, &err)) << err;
  EXPECT_EQ(g.format, "gguf");
  EXPECT_LT(g.bits_per_weight, 17.0);  // 2-D weights in F16, norms in F32

  EXPECT_FALSE(slimlm::convert_model(bin, dir.file("x.gguf"), "q9_9", tok, &err));
  EXPECT_NE(err.find("q9_9"), std::string::npos);
  EXPECT_FALSE(slimlm::inspect_model(dir.file("missing.gguf"), "", &g, &err));
  EXPECT_NE(err.find("missing.gguf"), std::string::npos);
}

}  // namespace
