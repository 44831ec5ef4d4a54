// Needle in a haystack: prompt construction (the needle lands at the asked
// depth, the prompt fits the length), a small end-to-end run with JSON and
// SVG output, the heat map on its own, and the errors.
#include "eval/needle.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "eval/svg_heatmap.h"
#include "model/model_desc.h"
#include "test_util.h"

namespace slimlm {
namespace {

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

// A minimal well-formedness check: every element closes in order, attribute
// values are quoted, no raw '&' outside an entity.
bool well_formed_xml(const std::string& s, std::string* why) {
  std::vector<std::string> stack;
  size_t i = 0;
  while ((i = s.find('<', i)) != std::string::npos) {
    const size_t end = s.find('>', i);
    if (end == std::string::npos) return *why = "unterminated tag", false;
    std::string tag = s.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag.empty()) return *why = "empty tag", false;
    if (tag[0] == '?' || tag[0] == '!') continue;
    if (count(tag, "\"") % 2 != 0) return *why = "unbalanced quotes in <" + tag + ">", false;
    if (tag[0] == '/') {
      if (stack.empty() || stack.back() != tag.substr(1)) return *why = "unexpected </" + tag.substr(1) + ">", false;
      stack.pop_back();
      continue;
    }
    const std::string name = tag.substr(0, tag.find_first_of(" \t\n/"));
    if (tag.back() != '/') stack.push_back(name);
  }
  if (!stack.empty()) return *why = "unclosed <" + stack.back() + ">", false;
  for (size_t a = s.find('&'); a != std::string::npos; a = s.find('&', a + 1))
    if (s.find(';', a) == std::string::npos || s.find(';', a) - a > 6) return *why = "raw &", false;
  return true;
}

std::string haystack_text() {
  std::ifstream in(test::shared_path("data/tinystories_valid_head.txt"), std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  text.resize(std::min<size_t>(text.size(), 20000));
  return text;
}

TEST(Heatmap, ColorsEscapingAndCells) {
  EXPECT_EQ(heat_color(0), "#d73027");
  EXPECT_EQ(heat_color(1), "#1a9850");
  EXPECT_EQ(heat_color(2), "#1a9850");  // clamped
  EXPECT_EQ(xml_escape("a<b & \"c\">'"), "a&lt;b &amp; &quot;c&quot;&gt;&apos;");
  HeatmapSpec s;
  s.title = "T & <x>";
  s.subtitle = "one\ntwo";
  s.x_ticks = {"a", "b", "c"};
  s.y_ticks = {"r1", "r2"};
  s.values = {0.1, 0.5, 1.0, std::nan(""), 0.001, 0.01};
  s.log_scale = true;
  s.vmin = 1e-3;
  const std::string svg = render_heatmap_svg(s);
  std::string why;
  EXPECT_TRUE(well_formed_xml(svg, &why)) << why;
  EXPECT_EQ(count(svg, "class=\"cell\""), 6u);
  EXPECT_NE(svg.find("T &amp; &lt;x&gt;"), std::string::npos);
  EXPECT_NE(svg.find(">0.001<"), std::string::npos);  // legend decades
  EXPECT_NE(svg.find(">0.01<"), std::string::npos);
}

class NeedlePromptTest : public ::testing::TestWithParam<const char*> {};

// The needle sits at the requested depth of the haystack, both in tokens and
// in the decoded text, and every prompt leaves room for generation.
TEST_P(NeedlePromptTest, NeedleAtDepth) {
  const std::string path = test::shared_path(GetParam());
  SLIMLM_REQUIRE_SHARED(path);
  auto d = load_model(path);
  ASSERT_TRUE(d.ok()) << d.message();
  auto tok = std::move(Tokenizer::create(d->tokenizer)).value();
  const auto hay = tok->encode(haystack_text());
  NeedleOptions o;
  for (int64_t length : {128, 512})
    for (double depth : o.depths) {
      auto p = build_needle_prompt(*tok, hay, length, depth, o);
      ASSERT_TRUE(p.ok()) << p.message();
      SCOPED_TRACE(testing::Message() << "length " << length << " depth " << depth);
      EXPECT_LE(static_cast<int64_t>(p->tokens.size()) + o.n_predict, length);
      EXPECT_EQ(p->tokens[0], tok->bos());
      // Token depth: the nearest sentence boundary within 4 % (+ rounding).
      EXPECT_NEAR(p->depth, depth, 4.0 + 100.0 / static_cast<double>(p->haystack_tokens));
      EXPECT_NEAR(100.0 * p->needle_at / p->haystack_tokens, p->depth, 1e-9);
      if (depth == 0) {
        EXPECT_EQ(p->needle_at, 0);
      }
      if (depth == 100) {
        EXPECT_EQ(p->needle_at, p->haystack_tokens);
      }
      // Text depth: where the needle is in the decoded haystack.
      const std::string text = tok->decode(p->tokens);
      const size_t at = text.find("magic word is banana.");
      ASSERT_NE(at, std::string::npos) << text;
      EXPECT_EQ(text.find("magic word is banana.", at + 1), std::string::npos);
      const size_t q = text.rfind("\nWhat is the magic word?");
      ASSERT_NE(q, std::string::npos) << text;
      const std::string needle_text = "The magic word is banana.";
      const double hay_chars = static_cast<double>(q) - static_cast<double>(needle_text.size());
      const double rel = 100.0 * (static_cast<double>(at) - 4) / hay_chars;  // "The " precedes "magic"
      EXPECT_NEAR(rel, depth, 10.0) << text;
      // The needle tokens are the ones reported.
      const std::string span = tok->decode(
          std::vector<int32_t>(p->tokens.begin() + p->needle_begin, p->tokens.begin() + p->needle_end));
      EXPECT_NE(span.find("The magic word is banana."), std::string::npos) << span;
      EXPECT_FALSE(p->answer_tokens.empty());
    }
}

INSTANTIATE_TEST_SUITE_P(NeedleVocabs, NeedlePromptTest,
                         ::testing::Values("models/stories260K/stories260K.gguf", "models/tinystories-656k"));

TEST(Needle, RunJsonSvgStories260K) {
  const std::string path = test::shared_path("models/stories260K/stories260K.gguf");
  SLIMLM_REQUIRE_SHARED(path);
  auto d = load_model(path);
  ASSERT_TRUE(d.ok()) << d.message();
  auto tok = std::move(Tokenizer::create(d->tokenizer)).value();
  auto model = std::move(LlamaModel::create(std::move(d).value())).value();
  LlamaContext::Options co;
  co.n_ctx = 128;
  co.n_threads = 2;
  auto ctx = std::move(LlamaContext::create(model, co)).value();
  NeedleOptions o;
  o.lengths = {96, 128, 4096, 20};  // 4096: larger than the context; 20: no room for a haystack
  o.depths = {0, 50, 100};
  o.n_predict = 8;
  int64_t calls = 0;
  o.on_cell = [&](int64_t, int64_t total) {
    EXPECT_EQ(total, 6);
    ++calls;
    return true;
  };
  auto r = run_needle(*ctx, *tok, haystack_text(), o);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->lengths, (std::vector<int64_t>{96, 128}));
  ASSERT_EQ(r->cells.size(), 6u);
  EXPECT_EQ(calls, 6);
  ASSERT_EQ(r->warnings.size(), 2u);
  EXPECT_NE(r->warnings[0].find("4096"), std::string::npos);
  EXPECT_NE(r->warnings[1].find("20"), std::string::npos);
  ASSERT_EQ(r->baseline.size(), 2u);
  for (const auto& c : r->cells) {
    EXPECT_GT(c.answer_prob, 0.0);
    EXPECT_LE(c.answer_prob, 1.0);
    EXPECT_LE(c.n_prompt + o.n_predict, c.length);
    EXPECT_EQ(c.found, c.generation.find("banana") != std::string::npos);
  }
  EXPECT_EQ(r->cell(1, 2)->length, 128);
  EXPECT_EQ(r->cell(1, 2)->depth, 100);

  // JSON: valid, with every cell and the settings.
  const std::string js = needle_result_json(*r, o, path, "haystack.txt").dump(2);
  auto j = nlohmann::json::parse(js);
  EXPECT_EQ(j["model"], path);
  EXPECT_EQ(j["cells"].size(), 6u);
  EXPECT_EQ(j["settings"]["needle"], o.needle);
  EXPECT_EQ(j["settings"]["lengths"], nlohmann::json({96, 128}));
  EXPECT_EQ(j["settings"]["depths"].size(), 3u);
  EXPECT_EQ(j["warnings"].size(), 2u);
  for (const auto& c : j["cells"])
    for (const char* key : {"length", "depth", "actual_depth", "found", "answer_prob", "generation"})
      EXPECT_TRUE(c.contains(key)) << key;

  // SVG: well-formed, one rect per cell, labeled.
  const std::string svg = needle_svg(*r, "stories260K & co");
  std::string why;
  EXPECT_TRUE(well_formed_xml(svg, &why)) << why;
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  ASSERT_NE(svg.find("<svg "), std::string::npos);
  EXPECT_EQ(svg.find("</svg>"), svg.size() - 7);  // "</svg>\n" closes the document
  EXPECT_EQ(count(svg, "class=\"cell\""), 6u);
  EXPECT_NE(svg.find("stories260K &amp; co"), std::string::npos);
  EXPECT_NE(svg.find("context length"), std::string::npos);
  EXPECT_NE(svg.find("needle depth"), std::string::npos);
}

TEST(Needle, Errors) {
  const std::string path = test::shared_path("models/stories260K/stories260K.gguf");
  SLIMLM_REQUIRE_SHARED(path);
  auto d = load_model(path);
  ASSERT_TRUE(d.ok()) << d.message();
  auto tok = std::move(Tokenizer::create(d->tokenizer)).value();
  auto model = std::move(LlamaModel::create(std::move(d).value())).value();
  LlamaContext::Options co;
  co.n_ctx = 128;
  co.n_threads = 1;
  auto ctx = std::move(LlamaContext::create(model, co)).value();
  NeedleOptions o;
  o.lengths = {128};
  auto expect = [&](const std::string& hay, const NeedleOptions& opts, const std::string& what) {
    auto r = run_needle(*ctx, *tok, hay, opts);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.message().find(what), std::string::npos) << r.message();
  };
  expect("", o, "haystack text is empty");
  expect(" \n ", o, "haystack text is empty");
  expect("Lily went to the park.", o, "the haystack has only");
  NeedleOptions big = o;
  big.lengths = {512};
  expect(haystack_text(), big, "no length to evaluate");
  NeedleOptions noans = o;
  noans.answer = " ";
  expect(haystack_text(), noans, "answer is empty");
  NeedleOptions noq = o;
  noq.question = "";
  expect(haystack_text(), noq, "question is empty");
  auto p = build_needle_prompt(*tok, tok->encode(haystack_text()), 128, 120, o);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.message().find("depth"), std::string::npos);
}

}  // namespace
}  // namespace slimlm
