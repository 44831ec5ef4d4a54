// Multiple-choice scoring: Wilson intervals, the JSON Lines task format and its
// errors, and accuracy on a small TinyStories-style task with stories260K.
#include "eval/multiple_choice.h"

#include <gtest/gtest.h>

#include "eval/perplexity.h"
#include "model/model_desc.h"
#include "test_util.h"

namespace slimlm {
namespace {

TEST(Wilson, KnownValues) {
  // 8/10 at 95 %: [0.4902, 0.9433] (e.g. statsmodels proportion_confint(method="wilson")).
  Interval a = wilson_interval(8, 10);
  EXPECT_NEAR(a.lo, 0.4902, 5e-4);
  EXPECT_NEAR(a.hi, 0.9433, 5e-4);
  Interval b = wilson_interval(50, 100);
  EXPECT_NEAR(b.lo, 0.4038, 5e-4);
  EXPECT_NEAR(b.hi, 0.5962, 5e-4);
  Interval c = wilson_interval(0, 10);  // upper bound z^2/(n+z^2)
  EXPECT_DOUBLE_EQ(c.lo, 0.0);
  EXPECT_NEAR(c.hi, 0.2775, 5e-4);
  Interval d = wilson_interval(10, 10);
  EXPECT_NEAR(d.lo, 0.7225, 5e-4);
  EXPECT_DOUBLE_EQ(d.hi, 1.0);
  Interval e = wilson_interval(0, 0);
  EXPECT_EQ(e.lo, 0.0);
  EXPECT_EQ(e.hi, 1.0);
}

TEST(McParse, FieldsAndAliases) {
  const std::string text =
      "{\"context\": \"A\", \"endings\": [\" b\", \" c\"], \"label\": 1}\n"
      "\n"
      "{\"question\": \"Q\", \"choices\": [\" x\", \" y\", \" z\"], \"answer\": \"2\"}\r\n"
      "{\"question\": \"Q\", \"choices\": {\"text\": [\" x\", \" y\"], \"label\": [\"A\", \"B\"]}, "
      "\"answerKey\": \"B\"}\n"
      "{\"ctx\": \"\", \"endings\": [\" p\", \" q\"], \"gold\": \"A\"}";
  auto r = parse_mc_jsonl(text, "t.jsonl");
  ASSERT_TRUE(r.ok()) << r.message();
  ASSERT_EQ(r->size(), 4u);
  EXPECT_EQ((*r)[0].context, "A");
  EXPECT_EQ((*r)[0].label, 1);
  EXPECT_EQ((*r)[0].line, 1);
  EXPECT_EQ((*r)[1].endings.size(), 3u);
  EXPECT_EQ((*r)[1].label, 2);
  EXPECT_EQ((*r)[1].line, 3);
  EXPECT_EQ((*r)[2].label, 1);
  EXPECT_EQ((*r)[2].endings[1], " y");
  EXPECT_EQ((*r)[3].context, "");
  EXPECT_EQ((*r)[3].label, 0);
}

void expect_error(const std::string& text, const std::string& needle) {
  auto r = parse_mc_jsonl(text, "t.jsonl");
  ASSERT_FALSE(r.ok()) << "accepted: " << text;
  EXPECT_NE(r.message().find(needle), std::string::npos) << r.message();
}

TEST(McParse, Errors) {
  const std::string ok = "{\"context\": \"A\", \"endings\": [\" b\", \" c\"], \"label\": 0}\n";
  expect_error(ok + "{\"context\": \"A\", \"endings\": [\" b\", \" c\"], \"label\": 0\n", "t.jsonl:2: invalid JSON");
  expect_error(ok + ok + "[1, 2]\n", "t.jsonl:3: expected a JSON object");
  expect_error("{\"endings\": [\" b\", \" c\"], \"label\": 0}", "t.jsonl:1: missing field \"context\"");
  expect_error("{\"context\": \"A\", \"label\": 0}", "missing field \"endings\"");
  expect_error("{\"context\": \"A\", \"endings\": [\" b\", \" c\"]}", "missing field \"label\"");
  expect_error("{\"context\": \"A\", \"endings\": [\" b\", \" c\"], \"label\": 2}", "label 2 out of range");
  expect_error("{\"context\": \"A\", \"endings\": [\" b\", \" c\"], \"label\": -1}", "out of range");
  expect_error("{\"context\": \"A\", \"endings\": [\" b\", \" c\"], \"label\": 0.5}", "not an index");
  expect_error("{\"context\": \"A\", \"endings\": [\" b\"], \"label\": 0}", "at least 2 endings");
  expect_error("{\"context\": \"A\", \"endings\": [\" b\", 3], \"label\": 0}", "array of strings");
  expect_error("{\"context\": \"A\", \"endings\": [\" b\", \"\"], \"label\": 0}", "ending 1 is empty");
  expect_error("{\"context\": 5, \"endings\": [\" b\", \" c\"], \"label\": 0}", "must be a string");
  expect_error("", "empty");
  expect_error("\n  \n", "empty");
}

TEST(McParse, MissingFile) {
  auto r = load_mc_file("/nonexistent/tasks.jsonl");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("cannot open"), std::string::npos);
}

struct Loaded {
  std::shared_ptr<const LlamaModel> model;
  std::unique_ptr<Tokenizer> tok;
};

Loaded load(const std::string& path) {
  Loaded l;
  auto d = load_model(path);
  EXPECT_TRUE(d.ok()) << d.message();
  l.tok = std::move(Tokenizer::create(d->tokenizer)).value();
  l.model = std::move(LlamaModel::create(std::move(d).value())).value();
  return l;
}

std::unique_ptr<LlamaContext> context(std::shared_ptr<const LlamaModel> m, int64_t n_ctx) {
  LlamaContext::Options o;
  o.n_ctx = n_ctx;
  o.n_threads = 2;
  return std::move(LlamaContext::create(std::move(m), o)).value();
}

// stories260K on tests/data/mc_tiny.jsonl (22 items, 2-4 endings, chance 33 %):
// measured acc 20/22 = 0.909 (95 % CI [0.722, 0.975]) and acc_norm 19/22 =
// 0.864 ([0.667, 0.953]). The test asks for the Wilson lower bound to clear
// chance and for at least 16/22.
TEST(Mc, TinyTaskAboveChanceStories260K) {
  const std::string path = test::shared_path("models/stories260K/stories260K.gguf");
  SLIMLM_REQUIRE_SHARED(path);
  auto items = load_mc_file(std::string(SLIMLM_GOLDEN_DIR) + "/../data/mc_tiny.jsonl");
  ASSERT_TRUE(items.ok()) << items.message();
  ASSERT_GE(items->size(), 20u);
  Loaded l = load(path);
  const int64_t longest = mc_longest_sequence(*l.tok, *items);
  auto ctx = context(l.model, longest);
  int64_t calls = 0;
  McOptions mo;
  mo.on_item = [&](int64_t done, int64_t total) {
    EXPECT_EQ(done, ++calls);
    EXPECT_EQ(total, static_cast<int64_t>(items->size()));
    return true;
  };
  auto r = score_multiple_choice(*ctx, *l.tok, *items, mo);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->n, static_cast<int64_t>(items->size()));
  EXPECT_EQ(calls, r->n);
  EXPECT_NEAR(r->chance, 0.33, 0.02);
  EXPECT_GE(r->n_correct, 16);
  EXPECT_GT(r->acc_ci.lo, r->chance);
  EXPECT_GT(r->acc_norm_ci.lo, r->chance);
  EXPECT_EQ(r->n_boundary_merges, 0);  // SentencePiece pieces start with the space
  for (const auto& it : r->items)
    for (size_t k = 0; k < it.loglik.size(); ++k) {
      EXPECT_LT(it.loglik[k], 0.0);
      EXPECT_GE(it.n_tokens[k], 1);
    }
  // The shared-prefix cache reuse gives the log-likelihood of a from-scratch
  // evaluation: BOS + context + ending, summing over the ending's tokens.
  for (size_t k = 0; k < (*items)[0].endings.size(); ++k) {
    std::vector<int32_t> seq = {l.tok->bos()};
    const auto c = l.tok->encode((*items)[0].context);
    const auto w = l.tok->encode((*items)[0].context + (*items)[0].endings[k]);
    seq.insert(seq.end(), w.begin(), w.end());
    ctx->truncate(0);
    ASSERT_TRUE(ctx->eval(seq.data(), static_cast<int64_t>(seq.size()), true).ok());
    std::vector<float> lp(static_cast<size_t>(ctx->n_vocab()));
    double sum = 0;
    for (size_t p = c.size(); p + 1 < seq.size(); ++p) {
      log_softmax(ctx->logits() + p * ctx->n_vocab(), ctx->n_vocab(), lp.data());
      sum += lp[static_cast<size_t>(seq[p + 1])];
    }
    EXPECT_NEAR(r->items[0].loglik[k], sum, 1e-3) << k;
  }
  // Without boundary merges both rules score the same tokens.
  mo.boundary = McBoundary::common_prefix;
  mo.on_item = nullptr;
  auto r2 = score_multiple_choice(*ctx, *l.tok, *items, mo);
  ASSERT_TRUE(r2.ok()) << r2.message();
  for (size_t i = 0; i < r->items.size(); ++i)
    for (size_t k = 0; k < r->items[i].loglik.size(); ++k)
      EXPECT_NEAR(r->items[i].loglik[k], r2->items[i].loglik[k], 1e-4);

  // JSON: parses back with every item.
  auto j = nlohmann::json::parse(mc_result_json(*r, *items).dump());
  EXPECT_EQ(j["n"], r->n);
  EXPECT_EQ(j["items"].size(), items->size());
  EXPECT_EQ(j["acc_ci95"].size(), 2u);
  EXPECT_EQ(j["items"][0]["loglik"].size(), (*items)[0].endings.size());

  // A context too small for the items is refused with the line.
  auto small = context(l.model, 8);
  auto bad = score_multiple_choice(*small, *l.tok, *items);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("line 1"), std::string::npos) << bad.message();
}

// TinyStories-656K's pieces end in spaces ("on the "), so "She played on the"
// + " swing." merges across the boundary: the harness rule scores only ".",
// the common-prefix rule "on the " "swing" ".".
TEST(Mc, BoundaryMergeTinyStories656K) {
  const std::string path = test::shared_path("models/tinystories-656k");
  SLIMLM_REQUIRE_SHARED(path + "/model.safetensors");
  Loaded l = load(path);
  auto items = parse_mc_jsonl("{\"context\": \"She played on the\", \"endings\": [\" swing.\", \" moon.\"], \"label\": 0}");
  ASSERT_TRUE(items.ok()) << items.message();
  auto ctx = context(l.model, 32);
  auto h = score_multiple_choice(*ctx, *l.tok, *items);
  ASSERT_TRUE(h.ok()) << h.message();
  EXPECT_EQ(h->n_boundary_merges, 2);
  EXPECT_EQ(h->items[0].n_tokens[0], 1);
  McOptions mo;
  mo.boundary = McBoundary::common_prefix;
  auto c = score_multiple_choice(*ctx, *l.tok, *items, mo);
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(c->items[0].n_tokens[0], 3);
  EXPECT_LT(c->items[0].loglik[0], h->items[0].loglik[0]);
}

}  // namespace
}  // namespace slimlm
