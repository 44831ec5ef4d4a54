// Importance-weighted quantization (quantize_row_weighted): golden bytes made
// by ggml's ggml_quantize_chunk with an importance vector (llama-quantize
// --imatrix, c392e50), and what the weighting is for.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string_view>
#include <vector>

#include "quant/codec.h"
#include "test_util.h"

namespace slimlm {
namespace {

// Exact inputs (integers times powers of two), the same on every platform.
void golden_input(std::vector<float>& x, std::vector<float>& w) {
  x.resize(64);
  w.resize(64);
  for (int j = 0; j < 64; ++j) {
    x[j] = std::ldexp(std::round(std::sin(j * 0.37) * 1000), -13) + (j % 7 == 0 ? 0.25f : 0.0f);
    w[j] = static_cast<float>(1 + j % 5);
  }
}

// 512 exact inputs for the 256-element types: two super-blocks (the second 4x
// larger, so a wrong block offset into the importance shows), importance 0 on
// every 11th column.
void golden_input_k(std::vector<float>& x, std::vector<float>& w) {
  x.resize(512);
  w.resize(512);
  for (int j = 0; j < 512; ++j) {
    x[j] = std::ldexp(std::round(std::sin(j * 0.37) * 1000 + std::cos(j * 0.051) * 300), j < 256 ? -13 : -11) +
           (j % 37 == 5 ? -0.375f : 0.0f);
    w[j] = j % 11 == 3 ? 0.0f : static_cast<float>(1 + (j * 7) % 9) * 0.25f;
  }
}

// Each golden must differ from the plain (imatrix-free) quantization, or it
// would not test the weighted path.
void expect_golden(DType t, const std::vector<float>& x, const std::vector<float>& w, const std::vector<uint8_t>& want) {
  const int64_t n = static_cast<int64_t>(x.size());
  ASSERT_EQ(want.size(), *row_bytes(t, n)) << dtype_name(t);
  std::vector<uint8_t> got(want.size());
  ASSERT_TRUE(quantize_row_weighted(t, x.data(), got.data(), n, w.data()).ok());
  EXPECT_EQ(got, want) << dtype_name(t);
  std::vector<uint8_t> plain(want.size());
  ASSERT_TRUE(quantize_row(t, x.data(), plain.data(), n).ok());
  EXPECT_NE(plain, want) << dtype_name(t) << ": the importance changed nothing";
}

TEST(Weighted, BitExactWithGgml) {
  std::vector<float> x, w;
  golden_input(x, w);
  const std::pair<DType, std::vector<uint8_t>> cases[] = {
      {DType::Q4_0, {180, 170, 147, 135, 118, 102, 102, 22,  102, 98,  120, 136, 137, 154, 90, 170, 165, 170,
                     126, 169, 186, 73,  152, 129, 118, 101, 85,  85,  6,   103, 114, 137, 154, 170, 171, 91}},
      {DType::Q5_0, {217, 165, 0,   190, 3,   236, 37,  14,  236, 203, 187, 11,  188, 194, 223, 241, 19, 52, 149, 85, 90, 84,
                     217, 165, 7,   248, 13,  112, 84,  146, 32,  3,   236, 203, 187, 187, 12,  205, 212, 241, 19, 52, 69, 165}},
      {DType::IQ4_NL, {41,  154, 146, 135, 118, 101, 85,  5,   85,  81,  103, 121, 154, 171, 75, 187, 180, 186,
                       149, 153, 186, 57,  152, 129, 101, 85,  84,  68,  5,   86,  97,  121, 154, 171, 187, 75}}};
  for (const auto& [t, want] : cases) expect_golden(t, x, w, want);
}

// ggml_quantize_chunk(type, x, dst, 0, 1, n, w) of golden_input (Q4_1, Q5_1)
// and golden_input_k (the rest), as hex.
TEST(Weighted, BitExactWithGgmlMinAndSuperBlockTypes) {
  // clang-format off
  const std::pair<DType, std::string_view> cases[] = {
      {DType::Q4_1,
       "3c28b5af2b45566777f7777d64433221800008012528a0af0192244d56677777f7766c4332211080"},
      {DType::Q5_1,
       "22248caf81402010577aacceefeffddbb996633110000012ea239eaf480482811235588bbddff00ffeecc99663311000"},
      {DType::Q2_K,
       "7d36bc45ff4636ef3679457856358a252a2a2a2e2e7cbebefefdf1f9f9a9a5458182868b1bafaffffefef9f9f4e0d0d0"
       "fdf9e424d090818142465b5bafbfbffefefefae9e595854506040a0b1b2f73bf56221d286b8cff897a9d6b5a6a8a9a9b"
       "8b5a5a5b0a0b1f5f6fbfbefefcf9e8e49480444502060b1b6f6fbf7efef9f9e4e0909050e9d4d49080410106061b1b6f"
       "6fbffefdf9e5e4d09040410106071b1b6e6fbfbe2527202c"},
      {DType::Q3_K,
       "f9f9db1b9f9e97170707042464e4e0e879706040420e0e8e9e8e9fbdbdfdd979fdfdf2f38744c6965510130f4e8efb0b"
       "01c7cadd2008182d7e7b747e6b577323a4a19e36625201c0c7cadde4c81c6d7e7430231f4bbbeb1b58989da1b15521f5"
       "929989f87178f9a3614618810b9c581a1a1e1e96968687a7a5e5e16169792909094b4f4fc7cfd7d6f4f4b4b03038ce91"
       "a44418e9ba7733211e4ba7d20645959a8eb74b2bfa3974333e2955b1e1222e2b77a3d302c08799a0b44828b97a34132d"
       "384490e03177b8ae9387782bda8927e6a07abc78789833c0cccc939e"},
      {DType::Q4_K,
       "48110720eab27fbe9daf7fb8c36a3a1b9aabbddeeef0fdfcead907a69585757678899bbccddeededebdac8b6a5847474"
       "9889899a9badcddeeeeefefdecdbcab0a999999a0bacbdcedfeffffefeeddccbdbb998887868696a7c9daecfdfefeeed"
       "dccaa998776758586a708cadcede0eedeeecea08c5b3918070616376889bbddfeffffefce9d7b49382726365778a9dbf"
       "b415e323f7fff8f1a2bfab991180257a9bbddeeffefdfbe9c1a4826251024456688aaccdedfdfbf9d7c5a28160504142"
       "020316386a8cbddeedfcead8b684533222131027496c9e6fdfeffeeccaa78654845332120305173a6c8ebfdfeeedeac8"
       "a573412010010315386a9cbdd8fdfbe9fae3d6b492700040313345688aaccdeefdfcfad8b5937251423335476a8caecf"},
      {DType::Q5_K,
       "320d0f20e6b17fbe9caf7fb8e4462b1cffffff3f9f9e9f1f1f3f3d3ebefefcf8fdffffffd78f9f9f9f0f3f3e3efedcfc"
       "35598caedfe0fdfbd7b3005d2b0bfceef114386b9dbeddecd9c5a17e4b19f8e921121325375a8cadceddecebd9b69470"
       "5232232406496b9dbedfeffeecdab896c7844201e1c2c3d6f83b6daedffefdfbd8a56321f0cfb0b2c4e0295b9dcd0dfb"
       "cad7c30e895521f0d0c2c5ea0f35699ccdddead6c19c683403e3d5d9ee03386dc8112024b4bff8ee61bfa998ff7e2536"
       "e3838387870f0f1f1e3e3e7cf8f8f0f0e1c3c3c387870f071e1e3e3e7c78f8f0286caedffefbe7c2935915d3a30598ac"
       "d115599bccebf8e4bf8a4502d0a0929503073b70c4287abbeaf8e4b06c18b5743426204e83d73bcdceedfbe7a36f0ba8"
       "09b5632416193e73c82c7fbfddeac5904af5a2502002163b70d5297bc0eaf6e2f5d7bc7824e1007163678bc00559abdc"
       "fbf8e4b07b27d49364566a8fb4f84c8e"},
      {DType::Q6_K,
       "657c91b5e710335e68514b26f3d3a418141a41b843e082177fa9934dd54abb29498c8043e658b9189734112c69d66404"
       "d4baa1aa13da0032619ca5bdb39b74401ec85fc333b04a12185fb742e071f75fe3cf6bd92767b83a0d0254d7996a29c7"
       "0a10060d9642f1a47a535c75bd0254b266120e1964e16f0f81e4181de2860079d6d6dbdb9ba86b6a2a2a212515155585"
       "424145441858acbcbcb9bab6a7a39393f9eae613938342424144445858acacbc3a393525251541818584c6c69aaab27a"
       "c923a0d980dc258d24a0dbb6dae3be271c880e8722d183187099761b81e545a24c1495cf17bc4dcb347b91763cc541c1"
       "540b4a3ff5890c7ceb78231d3782fe801c8efa221cd47ce052005b130a2189039031ecf3b716822b02186ef79241e47b"
       "c4df76dc55e172f65d77611b930862c65f050b2189039021e40b241dd66dd132af3a0209308803a031b50c352ee77ef2"
       "63e1c4c49898a87839393b3627171343828282c6c79bab6f7fbe3a39342420505090260713534382c2c1c4c498a86c7c"
       "3939090414106060b0b1f2f6e7ab9a4f4e0e51b980b0bca8535047bcb1aeba4c4e51e58b"},
      {DType::IQ4_XS,
       "fe8701108120d9f67a9bbdceded0ddccba98765544343435465768798a9bababaaa990776554444455555566778899aa"
       "aaaaa9a9988776607665656606778899aabbbbbbbbbaa9989877665555565668790a9bacbcbcbbaaaa98765544333334"
       "344657799aab0bbbedecdab78452312010112244679acceecdddddd0cbb9a8866554545556688aab498bc3f30559a364"
       "62412010101123558ebcddeefefdfcd936587a9bbcbcccbba997755332202222112204679accddeefdecdac795634231"
       "cededdcba8754281100000011335589bbcddfefefdfbd8b57341202071223467965432110000011224477aaccddddcdb"
       "142d497caedfefefeeddba87442211010001021336699fbddddddccaa7845231"},
  };
  // clang-format on
  for (const auto& [t, hex] : cases) {
    std::vector<float> x, w;
    if (traits(t).block_size == 32) {
      golden_input(x, w);
    } else {
      golden_input_k(x, w);
    }
    expect_golden(t, x, w, test::from_hex(hex));
  }
}

// Weighting is for lowering the error where importance is high.
TEST(Weighted, LowersTheImportanceWeightedError) {
  std::mt19937 rng(4);
  std::normal_distribution<float> nd(0, 0.05f);
  std::vector<float> x(4096), imp(4096), y(4096);
  for (auto& v : x) v = nd(rng);
  for (size_t j = 0; j < imp.size(); ++j) imp[j] = j % 16 == 0 ? 50.0f : 0.5f;  // a few important columns
  for (DType t : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::IQ4_NL, DType::IQ4_XS, DType::Q2_K,
                 DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    EXPECT_TRUE(has_weighted_quantizer(t));
    auto err = [&](bool weighted) {
      std::vector<uint8_t> q(*row_bytes(t, x.size()));
      EXPECT_TRUE((weighted ? quantize_row_weighted(t, x.data(), q.data(), 4096, imp.data())
                            : quantize_row(t, x.data(), q.data(), 4096))
                      .ok());
      EXPECT_TRUE(dequantize_row(t, q.data(), y.data(), 4096).ok());
      double e = 0;
      for (size_t j = 0; j < x.size(); ++j) e += imp[j] * (x[j] - y[j]) * (x[j] - y[j]);
      return e;
    };
    EXPECT_LT(err(true), 0.8 * err(false)) << dtype_name(t);
  }
  EXPECT_FALSE(has_weighted_quantizer(DType::Q8_0));
  std::vector<uint8_t> q(*row_bytes(DType::Q8_0, 4096));  // no weighted path: the plain one
  EXPECT_TRUE(quantize_row_weighted(DType::Q8_0, x.data(), q.data(), 4096, imp.data()).ok());
  EXPECT_FALSE(quantize_row_weighted(DType::Q4_0, x.data(), q.data(), 33, imp.data()).ok());
}

}  // namespace
}  // namespace slimlm
