#include "sampling/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

namespace slimlm {
namespace {

TEST(Sampler, GreedyPicksArgmaxLowestIdOnTies) {
  SamplerParams p;
  p.temperature = 0;
  Sampler s(p);
  std::vector<float> l = {0.1f, 3.0f, -1.0f, 3.0f};
  EXPECT_EQ(s.sample(l.data(), 4), 1);
}

TEST(Sampler, SameSeedSameSequence) {
  SamplerParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0;
  std::vector<float> l(100);
  for (int i = 0; i < 100; ++i) l[i] = static_cast<float>(i % 7) * 0.3f;
  Sampler a(p), b(p);
  std::vector<int32_t> sa, sb;
  for (int i = 0; i < 50; ++i) {
    sa.push_back(a.sample(l.data(), 100));
    sb.push_back(b.sample(l.data(), 100));
  }
  EXPECT_EQ(sa, sb);
  p.seed += 1;
  Sampler c(p);
  std::vector<int32_t> sc;
  for (int i = 0; i < 50; ++i) sc.push_back(c.sample(l.data(), 100));
  EXPECT_NE(sa, sc);
}

TEST(Sampler, TopKRestrictsToBestK) {
  SamplerParams p;
  p.temperature = 5.0f;  // flatten: without top-k every token would appear
  p.top_k = 3;
  p.top_p = 1.0f;
  p.min_p = 0;
  Sampler s(p);
  std::vector<float> l = {1, 5, 2, 4, 3, 0};
  for (int i = 0; i < 500; ++i) {
    int32_t t = s.sample(l.data(), 6);
    EXPECT_TRUE(t == 1 || t == 3 || t == 4) << t;
  }
}

TEST(Sampler, TopPKeepsSmallestPrefixReachingP) {
  SamplerParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 0.5f;
  p.min_p = 0;
  Sampler s(p);
  // probabilities ~ 0.64, 0.24, 0.09, ... -> only token 0 survives p = 0.5
  std::vector<float> l = {3, 2, 1, 0};
  for (int i = 0; i < 200; ++i) EXPECT_EQ(s.sample(l.data(), 4), 0);
}

TEST(Sampler, MinPDropsUnlikelyTokens) {
  SamplerParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.2f;  // keep p >= 0.2 * p_max: e^-1 = 0.37 passes, e^-2 = 0.135 does not
  Sampler s(p);
  std::vector<float> l = {0, -1, -2, -3};
  std::map<int32_t, int> seen;
  for (int i = 0; i < 1000; ++i) ++seen[s.sample(l.data(), 4)];
  EXPECT_GT(seen[0], 0);
  EXPECT_GT(seen[1], 0);
  EXPECT_EQ(seen.count(2), 0u);
  EXPECT_EQ(seen.count(3), 0u);
}

TEST(Sampler, DistributionFollowsSoftmax) {
  SamplerParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0;
  Sampler s(p);
  std::vector<float> l = {0.0f, std::log(3.0f)};  // 1 : 3
  int ones = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) ones += s.sample(l.data(), 2);
  EXPECT_NEAR(ones / double(n), 0.75, 0.015);
}

TEST(Sampler, PenaltiesDiscourageRepeats) {
  SamplerParams p;
  p.temperature = 0;
  p.repeat_penalty = 2.0f;
  Sampler s(p);
  std::vector<float> l = {1.0f, 1.5f};
  EXPECT_EQ(s.sample(l.data(), 2), 1);
  s.accept(1);  // 1.5 / 2 = 0.75 < 1.0
  EXPECT_EQ(s.sample(l.data(), 2), 0);

  SamplerParams q;
  q.temperature = 0;
  q.frequency_penalty = 0.3f;
  q.presence_penalty = 0.1f;
  Sampler f(q);
  f.accept(1);
  EXPECT_EQ(f.sample(l.data(), 2), 1);  // 1.5 - 0.3 - 0.1 = 1.1 > 1.0
  f.accept(1);
  EXPECT_EQ(f.sample(l.data(), 2), 0);  // 1.5 - 0.6 - 0.1 = 0.8 < 1.0
  f.reset();
  EXPECT_EQ(f.sample(l.data(), 2), 1);
}

TEST(Sampler, PenaltyWindowForgetsOldTokens) {
  SamplerParams p;
  p.temperature = 0;
  p.repeat_penalty = 2.0f;
  p.penalty_last_n = 2;
  Sampler s(p);
  std::vector<float> l = {1.0f, 1.5f, -5.0f};
  s.accept(1);
  s.accept(2);
  s.accept(2);  // token 1 has left the window
  EXPECT_EQ(s.sample(l.data(), 3), 1);
}

}  // namespace
}  // namespace slimlm
