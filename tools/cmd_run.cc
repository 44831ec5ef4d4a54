// slimlm run -m MODEL -p PROMPT [-n N] [--temp T] [--top-k K] [--top-p P]
//            [--min-p P] [--seed S] [-t N] [-c CTX] [--chat] [--act-quant none|q8|q8row]
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>

#include <fmt/format.h>

#include "commands.h"
#include "common.h"
#include "sampling/generate.h"
#include "tokenizer/chat_template.h"

namespace slimlm::cli {
namespace {

struct RunArgs {
  std::string model, tokenizer, prompt, file, system, chat_format, act_quant = "q8";
  int64_t n_predict = 256, n_ctx = 0, n_batch = 64;
  int threads = 0;
  SamplerParams sp;
  std::vector<std::string> stop;
  bool chat = false, no_echo = false, verbose = false;
};

bool print_piece(const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fflush(stdout);
  return true;
}

void print_stats(const GenerateStats& st) {
  fmt::print(stderr, "\n\nprompt: {} tokens, {:.1f} t/s | generation: {} tokens, {:.1f} t/s | stop: {}\n",
             st.n_prompt, st.prompt_tps(), st.n_generated, st.gen_tps(), st.stop_reason);
}

int run_chat(const RunArgs& a, LoadedModel& lm, LlamaContext& ctx) {
  const Tokenizer& tok = *lm.tokenizer;
  bool recognised = false;
  ChatFormat fmt_ = detect_chat_format(tok.vocab().chat_template, &recognised);
  if (!a.chat_format.empty() && !chat_format_from_name(a.chat_format, &fmt_)) {
    fmt::print(stderr, "error: unknown --chat-format '{}'\n", a.chat_format);
    return 2;
  }
  fmt::print(stderr, "chat format: {}{} — type a message, an empty line or Ctrl-D ends\n", chat_format_name(fmt_),
             a.chat_format.empty() && !recognised ? " (no template recognised in the model; default)" : "");
  std::vector<ChatMessage> msgs;
  if (!a.system.empty()) msgs.push_back({"system", a.system});
  std::vector<int32_t> cached;  // tokens currently in ctx
  Sampler sampler(a.sp);
  std::string line;
  for (;;) {
    fmt::print(stderr, "\n> ");
    if (!std::getline(std::cin, line) || line.empty()) break;
    msgs.push_back({"user", line});
    std::vector<int32_t> all;
    if (tok.add_bos() && tok.bos() >= 0) all.push_back(tok.bos());
    auto body = tok.encode(format_chat(fmt_, msgs, true), true);
    all.insert(all.end(), body.begin(), body.end());
    // Reuse the cached prefix; evaluate only what is new.
    size_t common = 0;
    while (common < cached.size() && common < all.size() && cached[common] == all[common]) ++common;
    if (common == all.size()) --common;  // need at least one token to get logits
    ctx.truncate(static_cast<int64_t>(common));
    std::vector<int32_t> fresh(all.begin() + static_cast<long>(common), all.end());
    GenerateOptions go;
    go.n_predict = a.n_predict;
    go.stop = a.stop;
    for (const char* s : {"<|im_end|>", "<|eot_id|>", "<|end|>", "</s>", "<end_of_turn>", "[INST]"})
      go.stop.push_back(s);
    std::string reply;
    auto r = generate(ctx, tok, sampler, fresh, go, [&](const std::string& s) {
      reply += s;
      return print_piece(s);
    });
    if (!r.ok()) {
      fmt::print(stderr, "\nerror: {}\n", r.message());
      return 1;
    }
    cached = all;
    cached.insert(cached.end(), r->tokens.begin(), r->tokens.end());
    cached.resize(static_cast<size_t>(ctx.n_past()));
    msgs.push_back({"assistant", reply});
    if (a.verbose) print_stats(*r);
  }
  fmt::print(stderr, "\n");
  return 0;
}

int run_run(RunArgs a) {
  if (!a.file.empty()) {
    std::ifstream in(a.file, std::ios::binary);
    if (!in) {
      fmt::print(stderr, "error: {}: cannot open\n", a.file);
      return 1;
    }
    a.prompt.assign(std::istreambuf_iterator<char>(in), {});
  }
  LoadedModel lm;
  if (!load_for_inference(a.model, a.tokenizer, &lm)) return 1;
  LlamaContext::Options co;
  co.n_ctx = a.n_ctx;
  co.n_batch = a.n_batch;
  co.n_threads = a.threads;
  co.act_quant = *kernels::act_quant_from_name(a.act_quant);
  const int64_t train_ctx = lm.model->config().n_ctx;
  if (a.n_ctx > 0 && train_ctx > 0 && a.n_ctx > train_ctx)
    fmt::print(stderr, "warning: -c {} exceeds the model's training context of {}\n", a.n_ctx, train_ctx);
  auto ctx = LlamaContext::create(lm.model, co);
  if (!ctx.ok()) {
    fmt::print(stderr, "error: {}\n", ctx.message());
    return 1;
  }
  if (a.verbose)
    fmt::print(stderr, "model: {} ({} layers, {} embd), context {}, {} threads\n", a.model, lm.model->config().n_layer,
               lm.model->config().n_embd, (*ctx)->n_ctx(), (*ctx)->n_threads());
  if (a.chat) return run_chat(a, lm, **ctx);

  const Tokenizer& tok = *lm.tokenizer;
  std::vector<int32_t> prompt;
  if (tok.add_bos() && tok.bos() >= 0) prompt.push_back(tok.bos());
  auto body = tok.encode(a.prompt, false);
  prompt.insert(prompt.end(), body.begin(), body.end());
  if (prompt.empty()) {
    fmt::print(stderr, "error: the prompt is empty and the model adds no BOS token\n");
    return 1;
  }
  if (!a.no_echo) print_piece(a.prompt);
  Sampler sampler(a.sp);
  GenerateOptions go;
  go.n_predict = a.n_predict;
  go.stop = a.stop;
  auto r = generate(**ctx, tok, sampler, prompt, go, print_piece);
  if (!r.ok()) {
    fmt::print(stderr, "\nerror: {}\n", r.message());
    return 1;
  }
  print_stats(*r);
  return 0;
}

}  // namespace

Action add_run(CLI::App& app) {
  auto a = std::make_shared<RunArgs>();
  auto* sub = app.add_subcommand("run", "Generate text (streams it), or chat with --chat");
  sub->add_option("-m,--model", a->model, "GGUF file, HF directory, or llama2.c .bin")->required();
  sub->add_option("--tokenizer", a->tokenizer, "llama2.c tokenizer.bin");
  sub->add_option("-p,--prompt", a->prompt, "Prompt text");
  sub->add_option("-f,--file", a->file, "Read the prompt from a file");
  sub->add_option("-n,--n-predict", a->n_predict, "Tokens to generate (-1: until EOS or a full context)");
  sub->add_option("-c,--ctx-size", a->n_ctx, "Context size (default: training context, at most 4096)");
  sub->add_option("-b,--batch-size", a->n_batch, "Tokens per prefill micro-batch");
  sub->add_option("-t,--threads", a->threads, "Threads (default: physical cores)");
  sub->add_option("--temp", a->sp.temperature, "Temperature (0: greedy)")->capture_default_str();
  sub->add_option("--top-k", a->sp.top_k, "Top-k (0: off)")->capture_default_str();
  sub->add_option("--top-p", a->sp.top_p, "Top-p (1: off)")->capture_default_str();
  sub->add_option("--min-p", a->sp.min_p, "Min-p (0: off)")->capture_default_str();
  sub->add_option("--repeat-penalty", a->sp.repeat_penalty, "Repetition penalty (1: off)")->capture_default_str();
  sub->add_option("--repeat-last-n", a->sp.penalty_last_n, "Penalty window (-1: all)")->capture_default_str();
  sub->add_option("--frequency-penalty", a->sp.frequency_penalty, "Frequency penalty")->capture_default_str();
  sub->add_option("--presence-penalty", a->sp.presence_penalty, "Presence penalty")->capture_default_str();
  sub->add_option("-s,--seed", a->sp.seed, "Random seed")->capture_default_str();
  sub->add_option("--stop", a->stop, "Stop string (repeatable)");
  sub->add_flag("--chat", a->chat, "Interactive chat using the model's chat template");
  sub->add_option("--chat-format", a->chat_format, "Override: chatml, llama2, llama3, phi3, zephyr, gemma, mistral");
  sub->add_option("--system", a->system, "System prompt for --chat");
  sub->add_flag("--no-echo", a->no_echo, "Do not print the prompt before the generated text");
  sub->add_option("--act-quant", a->act_quant, "int8 activations for Q8_0/Q4_*/Q5_*/IQ4_NL/INTn matmuls, as llama.cpp does: q8 (per block of 32, the default), q8row (per row), none (the fp32 reference path)")
      ->check(CLI::IsMember({"none", "q8", "q8row"}))
      ->capture_default_str();
  sub->add_flag("-v,--verbose", a->verbose, "Print model and timing details");
  return [a] { return run_run(*a); };
}

}  // namespace slimlm::cli
