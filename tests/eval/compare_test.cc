// slimlm compare (eval/compare.h, eval/compare_report.h): spec parsing, the
// Pareto front, the renderings, and one small end-to-end run on a real model.
#include "eval/compare.h"

#include <gtest/gtest.h>

#include <cmath>

#include "model/llama.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"

namespace slimlm {
namespace {

CompareRow row(const std::string& type, const std::string& method, double bpw, double kld) {
  CompareRow r;
  r.type = type;
  r.method = method;
  r.bits_per_weight = bpw;
  r.kld = kld;
  return r;
}

TEST(Compare, SpecsAreTheCrossProduct) {
  auto s = compare_specs({"q4_k_m", "int4", "nf4", "q8_0"}, {"rtn", "hqq"}, 128);
  ASSERT_FALSE(s.ok());  // --group 128 with a mix is refused
  std::vector<std::string> skipped;
  s = compare_specs({"q4_k_m", "int4", "nf4", "q8_0", "q4_1"}, {"rtn", "hqq"}, 0, &skipped);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(s->size(), 7u);  // hqq only where it optimises a zero point
  EXPECT_EQ(skipped, (std::vector<std::string>{"q4_k_m hqq", "nf4g64 hqq", "q8_0 hqq"}));
  EXPECT_EQ((*s)[0].name, "q4_k_m");
  EXPECT_EQ((*s)[0].recipe.mix, "q4_k_m");
  EXPECT_EQ((*s)[1].name, "int4g64");  // bare intN: group 64
  EXPECT_EQ((*s)[2].name, "int4g64");
  EXPECT_EQ((*s)[2].method, QuantMethod::kHqq);
  EXPECT_EQ((*s)[3].name, "nf4g64");
  EXPECT_EQ((*s)[4].recipe.mix, "q8_0");
  EXPECT_EQ((*s)[6].name, "q4_1");
  EXPECT_EQ((*s)[6].method, QuantMethod::kHqq);  // q8_0 is also llama.cpp's mix name: every matrix in Q8_0
  EXPECT_FALSE(compare_specs({"q9_9"}, {"rtn"}).ok());
  EXPECT_FALSE(compare_specs({"q4_0"}, {"gptq2"}).ok());
  EXPECT_EQ((*compare_specs({"q4_0"}, {"awq+gptq"}))[0].method, QuantMethod::kAwqGptq);
  EXPECT_EQ((*compare_specs({"int3"}, {"rtn"}, 32))[0].name, "int3g32");
}

TEST(Compare, ParetoFrontKeepsOnlyUndominatedRows) {
  std::vector<CompareRow> rows = {row("f32", "-", 32, 0), row("a", "rtn", 4.5, 0.10), row("b", "rtn", 4.5, 0.08),
                                  row("c", "rtn", 3.5, 0.30), row("d", "rtn", 5.0, 0.09), row("e", "rtn", 8.5, 0.001),
                                  row("f", "rtn", 2.5, NAN)};
  rows[0].base = true;
  EXPECT_EQ(pareto_front(rows), (std::vector<size_t>{3, 2, 5}));  // c (3.5), b (4.5), e (8.5); d dominated by b
}

TEST(Compare, RenderingsCarryEveryRow) {
  CompareReport r;
  r.model = "m.gguf";
  r.text = "t<x>.txt";
  r.rows = {row("f32 (base)", "-", 32, 0), row("q4_0", "rtn", 4.5, 0.1), row("int3g64", "hqq", 3.5, 0.3)};
  r.rows[0].base = true;
  const std::string md = compare_table_markdown(r);
  EXPECT_NE(md.find("| q4_0 | rtn |"), std::string::npos);
  EXPECT_NE(md.find("| int3g64 | hqq |"), std::string::npos);
  const auto j = compare_json(r);
  ASSERT_EQ(j["rows"].size(), 3u);
  EXPECT_TRUE(j["rows"][1]["pareto"].get<bool>());
  EXPECT_EQ(j["rows"][2]["kld_mean"].get<double>(), 0.3);
  const std::string svg = compare_pareto_svg(r, "title & co");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("title &amp; co"), std::string::npos);  // escaped
  EXPECT_NE(svg.find("t&lt;x&gt;.txt"), std::string::npos);
  size_t points = 0;
  for (size_t p = svg.find("class=\"point\""); p != std::string::npos; p = svg.find("class=\"point\"", p + 1)) ++points;
  EXPECT_EQ(points, 2u);  // the base is not plotted
  EXPECT_NE(svg.find("class=\"front\""), std::string::npos);
}

TEST(Compare, EndToEndOnStories260K) {
  const std::string model = test::shared_path("models/stories260K/stories260K.gguf");
  SLIMLM_REQUIRE_SHARED(model);
  auto desc = load_model(model);
  ASSERT_TRUE(desc.ok());
  auto tok = Tokenizer::create(desc->tokenizer);
  ASSERT_TRUE(tok.ok()) << tok.message();
  std::string text;
  for (int i = 0; i < 40; ++i) text += "Once upon a time, there was a little girl named Lily. She loved to play. ";
  std::vector<int32_t> tokens = {(*tok)->bos()};
  const auto body = (*tok)->encode(text, false);
  tokens.insert(tokens.end(), body.begin(), body.end());
  for (size_t c = 0; c + 64 <= tokens.size(); c += 64) tokens[c] = (*tok)->bos();
  test::TempDir dir;
  CompareOptions o;
  o.model_path = model;
  o.text_name = "lily";
  o.n_ctx = 64;
  o.n_chunks = 4;
  o.tg_tokens = 4;
  o.tg_repetitions = 1;
  o.work_dir = dir.file("work");
  auto specs = compare_specs({"q8_0", "int2"}, {"rtn", "hqq"});
  ASSERT_TRUE(specs.ok());
  auto rep = run_compare(tokens, *specs, o);
  ASSERT_TRUE(rep.ok()) << rep.message();
  ASSERT_EQ(rep->rows.size(), 4u);  // base, q8_0 rtn, int2g64 rtn, int2g64 hqq
  EXPECT_TRUE(rep->rows[0].base);
  EXPECT_EQ(rep->rows[0].bits_per_weight, 32.0);
  const CompareRow &q8 = rep->rows[1], &i2 = rep->rows[2];
  EXPECT_LT(q8.kld, 0.01);                  // 8 bits: close to the base
  EXPECT_GT(i2.kld, 10 * q8.kld);           // 2 bits: far from it
  EXPECT_LT(i2.bits_per_weight, q8.bits_per_weight);
  EXPECT_NEAR(q8.ppl, rep->rows[0].ppl, 0.05 * rep->rows[0].ppl);
  for (const auto& r : rep->rows) EXPECT_GT(r.tg_tps, 0) << r.type;
  EXPECT_EQ(rep->n_positions, 4 * (64 - 1 - 32));
}

}  // namespace
}  // namespace slimlm
