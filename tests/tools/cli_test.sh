#!/usr/bin/env bash
# End-to-end checks of the slimlm CLI on the shared models.
# Env: SLIMLM (the binary), SHARED (../shared). Exit 77 = skipped (no shared data, not under CI).
set -u -o pipefail
: "${SLIMLM:?}" "${SHARED:?}"
if [ ! -d "$SHARED/models" ]; then
  if [ "${CI:-}" = "true" ]; then echo "FAIL: shared data missing at $SHARED"; exit 1; fi
  echo "skip: no shared data at $SHARED"; exit 77
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fails=0
check() {  # check NAME CONDITION-COMMAND...
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fails=$((fails + 1)); fi
}
py() { python3 -c "$@"; }

S=$SHARED/models
# inspect --json lists the 48 tensors of stories260K.gguf
"$SLIMLM" inspect "$S/stories260K/stories260K.gguf" --json > "$tmp/a.json"
check "inspect gguf json: 48 tensors" py "import json;d=json.load(open('$tmp/a.json'));assert len(d['tensors'])==48 and d['totals']['n_tensors']==48 and d['hparams']['n_embd']==64"
# -m, as the other commands take it, is the same; without a path inspect fails
"$SLIMLM" inspect -m "$S/stories260K/stories260K.gguf" --json > "$tmp/a2.json"
check "inspect -m: the same output" cmp -s "$tmp/a.json" "$tmp/a2.json"
check "inspect without a path fails" bash -c "! '$SLIMLM' inspect 2>/dev/null"
# inspect works on the llama2.c checkpoint and on the HF directory
"$SLIMLM" inspect "$S/stories260K/stories260K.bin" --tokenizer "$S/stories260K/tok512.bin" --json > "$tmp/b.json"
check "inspect llama2c json" py "import json;d=json.load(open('$tmp/b.json'));assert d['format']=='llama2c' and len(d['tensors'])==47 and d['tokenizer']['n_tokens']==512 and d['llama_compatible']"
"$SLIMLM" inspect "$S/tinystories-656k" > "$tmp/c.txt"
check "inspect safetensors dir text" grep -q "blk.1.ffn_down.weight" "$tmp/c.txt"
# convert llama2.c -> GGUF, then inspect the result
"$SLIMLM" convert "$S/stories260K/stories260K.bin" --tokenizer "$S/stories260K/tok512.bin" -o "$tmp/s.gguf" -q
check "convert llama2c" test -s "$tmp/s.gguf"
"$SLIMLM" inspect "$tmp/s.gguf" --json > "$tmp/d.json"
check "converted file inspects" py "import json;d=json.load(open('$tmp/d.json'));assert d['format']=='gguf' and d['llama_compatible'] and d['tokenizer']['n_tokens']==512"
# q8_0 on rows of 172 falls back per tensor, with a note, and succeeds
"$SLIMLM" convert "$S/stories260K/stories260K.gguf" --type q8_0 -o "$tmp/q.gguf" 2> "$tmp/q.log"
check "q8_0 fallback succeeds" test -s "$tmp/q.gguf"
check "q8_0 fallback notes" grep -q "note: blk.0.ffn_down.weight" "$tmp/q.log"
# errors: clear message, non-zero exit, no output file
printf 'GGUF\x03\x00\x00\x00' > "$tmp/trunc.gguf"
"$SLIMLM" inspect "$tmp/trunc.gguf" > /dev/null 2> "$tmp/e.log"; rc=$?
check "truncated gguf: exit 1" test $rc -eq 1
check "truncated gguf: message" grep -q "truncated" "$tmp/e.log"
"$SLIMLM" convert "$tmp/trunc.gguf" -o "$tmp/never.gguf" 2> /dev/null; rc=$?
check "failed convert: non-zero exit" test $rc -ne 0
check "failed convert: no output" test ! -e "$tmp/never.gguf"
check "failed convert: no temp files" test -z "$(ls "$tmp" | grep '\.tmp\.')"
"$SLIMLM" convert "$S/stories260K/stories260K.gguf" --type q3_k -o "$tmp/x.gguf" 2> "$tmp/t.log"; rc=$?
check "unsupported --type: exit 2" test $rc -eq 2
"$SLIMLM" inspect /nonexistent/model.gguf 2> "$tmp/n.log"; rc=$?
check "missing file: message" grep -q "no such file" "$tmp/n.log"

# run: greedy text of stories260K equals the numpy reference's (tests/golden)
want=$(sed -n 3p "$(dirname "$0")/../golden/stories260K.greedy.txt" | cut -c1-120)
"$SLIMLM" run -m "$S/stories260K/stories260K.gguf" -p "Once upon a time" -n 200 --temp 0 -t 2 > "$tmp/run.txt" 2> "$tmp/run.err"
check "run greedy = reference text" py "
got = open('$tmp/run.txt').read().replace(chr(10), '\\\\n')
assert got.startswith('''$want'''), got[:120]"
check "run reports tokens/s" grep -q "generation: 200 tokens" "$tmp/run.err"
# run with llama2.c input and sampling is reproducible with a seed
"$SLIMLM" run -m "$S/stories260K/stories260K.bin" --tokenizer "$S/stories260K/tok512.bin" -p "Lily" -n 40 --temp 0.8 --seed 7 > "$tmp/s1.txt" 2>/dev/null
"$SLIMLM" run -m "$S/stories260K/stories260K.gguf" -p "Lily" -n 40 --temp 0.8 --seed 7 > "$tmp/s2.txt" 2>/dev/null
check "seeded sampling reproducible across formats" cmp -s "$tmp/s1.txt" "$tmp/s2.txt"
# chat reads turns from stdin
printf 'Hello\n\n' | "$SLIMLM" run -m "$S/stories260K/stories260K.gguf" --chat -n 16 --temp 0 > "$tmp/chat.txt" 2> "$tmp/chat.err"
check "chat answers a turn" test -s "$tmp/chat.txt"
# tokenize --ids: no BOS, ids on one line
"$SLIMLM" tokenize -m "$S/stories260K/stories260K.gguf" -p "Once upon a time" --ids > "$tmp/ids.txt"
check "tokenize ids" test "$(cat "$tmp/ids.txt")" = "403 407 261 378"
# perplexity + KL-divergence of a model against itself
head -c 20000 "$SHARED/data/tinystories_valid_head.txt" > "$tmp/t.txt"
"$SLIMLM" perplexity -m "$S/stories260K/stories260K.gguf" -f "$tmp/t.txt" -c 128 --kl-divergence-base "$tmp/b.kld" --json > "$tmp/p.json" 2>/dev/null
check "perplexity json" py "import json;d=json.load(open('$tmp/p.json'));assert 1 < d['ppl'] < 100 and d['n_chunks'] > 5"
"$SLIMLM" perplexity -m "$S/stories260K/stories260K.bin" --tokenizer "$S/stories260K/tok512.bin" --kl-divergence-base "$tmp/b.kld" --kl-divergence --json > "$tmp/k.json" 2>/dev/null
check "self KL-divergence is 0" py "import json;d=json.load(open('$tmp/k.json'));assert d['kld_mean'] < 1e-6 and d['top1_agreement'] == 1.0"
"$SLIMLM" perplexity -m "$S/stories260K/stories260K.gguf" -f "$tmp/trunc.gguf" -c 128 2> "$tmp/pe.log"; rc=$?
check "perplexity: too-short text refused" test $rc -ne 0
check "perplexity: says why" grep -q "fewer than one chunk" "$tmp/pe.log"
# synth + bench
"$SLIMLM" synth --shape stories260k --type q8_0 --vocab "$S/stories260K/stories260K.gguf" -o "$tmp/syn.gguf" 2>/dev/null
"$SLIMLM" bench -m "$tmp/syn.gguf" -p 32 -n 8 -r 1 -t 1 --json > "$tmp/bench.json"
check "bench json" py "import json;d=json.load(open('$tmp/bench.json'));assert [r['test'] for r in d] == ['pp32','tg8'] and all(r['tps_mean'] > 0 for r in d)"

# quantize: a mix with per-tensor fallback on stories260K runs; --keep overrides
"$SLIMLM" quantize -m "$S/stories260K/stories260K.gguf" -o "$tmp/q4.gguf" --type q4_0 --keep 'output.weight=q8_0' -q 2> "$tmp/qz.log"
"$SLIMLM" inspect "$tmp/q4.gguf" --json > "$tmp/qz.json"
check "quantize --type/--keep" py "import json;d={t['name']:t['type'] for t in json.load(open('$tmp/qz.json'))['tensors']};assert d['output.weight']=='q8_0' and d['blk.0.attn_q.weight']=='q4_0' and d['blk.0.ffn_down.weight']=='f16'"
"$SLIMLM" run -m "$tmp/q4.gguf" -p "Once upon a time" -n 16 --temp 0 > "$tmp/q4run.txt" 2>/dev/null
check "quantized model runs" grep -q "Once upon a time" "$tmp/q4run.txt"
"$SLIMLM" bench -m "$tmp/syn.gguf" -p 0 -n 8 -r 1 -t 1 --mem-bw --json > "$tmp/benchbw.json"
check "bench --mem-bw: reads before and after tg, share" py "import json;d=json.load(open('$tmp/benchbw.json'));assert [r['test'] for r in d] == ['mem_read','mem_read','tg8'] and all(r['gbs'] > 0 for r in d[:2]) and d[2]['bandwidth_use'] > 0"

# -d: the tests again after tokens already in the cache (llama-bench's names)
"$SLIMLM" bench -m "$tmp/syn.gguf" -p 16 -n 4 -d 0,40 -r 1 -t 1 --json > "$tmp/benchd.json"
check "bench -d: tests at each depth" py "import json;d=json.load(open('$tmp/benchd.json'));assert [(r['test'], r['n_depth']) for r in d] == [('pp16',0),('tg4',0),('pp16 @ d40',40),('tg4 @ d40',40)] and all(r['tps_mean'] > 0 for r in d)"
rc=0; "$SLIMLM" bench -m "$tmp/syn.gguf" -p 0 -n 4 -d -5 -r 1 -t 1 > /dev/null 2>&1 || rc=$?
check "bench -d negative refused" test $rc -ne 0

# --act-quant: int8 activations on run, bench and perplexity; bad values refused
"$SLIMLM" run -m "$tmp/q4.gguf" -p "Once upon a time" -n 16 --temp 0 --act-quant q8 > "$tmp/q4aq.txt" 2>/dev/null
check "run --act-quant q8" grep -q "Once upon a time" "$tmp/q4aq.txt"
"$SLIMLM" bench -m "$tmp/syn.gguf" -p 32 -n 8 -r 1 -t 1 --act-quant q8row --json > "$tmp/benchaq.json"
check "bench --act-quant q8row" py "import json;d=json.load(open('$tmp/benchaq.json'));assert all(r['act_quant'] == 'q8row' and r['tps_mean'] > 0 for r in d)"
"$SLIMLM" perplexity -m "$tmp/q4.gguf" --kl-divergence-base "$tmp/b.kld" --kl-divergence --act-quant q8 --json > "$tmp/kaq.json" 2>/dev/null
check "perplexity --act-quant q8" py "import json;d=json.load(open('$tmp/kaq.json'));assert d['kld_mean'] < 0.5 and d['top1_agreement'] > 0.5"
"$SLIMLM" run -m "$tmp/q4.gguf" -p "x" -n 1 --act-quant q4 > /dev/null 2>&1; rc=$?
check "run --act-quant q4 refused" test $rc -ne 0
"$SLIMLM" quantize -m "$S/stories260K/stories260K.gguf" -o "$tmp/x.gguf" --mix q9_k 2> "$tmp/qe.log"; rc=$?
check "unknown mix refused" test $rc -eq 2
"$SLIMLM" quantize -m "$S/stories260K/stories260K.gguf" -o "$tmp/h.gguf" --type int3 --group 32 --method hqq -t 2 -q 2> "$tmp/qh.log"
"$SLIMLM" inspect "$tmp/h.gguf" --json > "$tmp/qh.json"
check "quantize --method hqq --type int3 --group 32" py "import json;d={t['name']:t['type'] for t in json.load(open('$tmp/qh.json'))['tensors']};assert d['blk.0.attn_q.weight']=='int3g32', d"
"$SLIMLM" run -m "$tmp/h.gguf" -p "Once upon a time" -n 8 --temp 0 > "$tmp/hrun.txt" 2>/dev/null
check "int3g32 model runs" grep -q "Once upon a time" "$tmp/hrun.txt"
"$SLIMLM" quantize -m "$S/stories260K/stories260K.gguf" -o "$tmp/x.gguf" --type q4_0 --group 64 2> "$tmp/qg.log"; rc=$?
check "--group with a GGUF type refused" test $rc -eq 2
"$SLIMLM" quantize -m "$S/stories260K/stories260K.gguf" -o "$tmp/x.gguf" --type q4_0 --method gptq 2> "$tmp/qm.log"; rc=$?
check "unknown method refused" test $rc -eq 2

# calibrated methods: gptq needs --calib; awq+gptq writes a model that runs
"$SLIMLM" quantize -m "$S/stories260K/stories260K.gguf" -o "$tmp/x.gguf" --type q4_0 --method gptq 2> "$tmp/qc.log"; rc=$?
check "gptq without --calib refused" test $rc -eq 2
head -c 30000 "$SHARED/data/tinystories_valid_head.txt" > "$tmp/calib.txt"
"$SLIMLM" quantize -m "$S/stories260K/stories260K.gguf" -o "$tmp/g.gguf" --type q4_0 --method awq+gptq --calib "$tmp/calib.txt" --calib-tokens 1024 --calib-ctx 128 -t 2 -q 2> "$tmp/qg2.log"
"$SLIMLM" run -m "$tmp/g.gguf" -p "Once upon a time" -n 8 --temp 0 > "$tmp/grun.txt" 2>/dev/null
check "awq+gptq model runs" grep -q "Once upon a time" "$tmp/grun.txt"

# imatrix: llama.cpp's format, one entry per decoder matrix
"$SLIMLM" imatrix -m "$S/stories260K/stories260K.gguf" -f "$tmp/calib.txt" -o "$tmp/s.imatrix" -c 128 --chunks 4 -t 2 2> "$tmp/im.log"
check "imatrix written" py "import struct;d=open('$tmp/s.imatrix','rb').read();assert struct.unpack_from('<i',d,0)[0]==35"

# compare: table on stdout, JSON and SVG written
head -c 20000 "$SHARED/data/tinystories_valid_head.txt" > "$tmp/cmp.txt"
"$SLIMLM" compare -m "$S/stories260K/stories260K.gguf" -f "$tmp/cmp.txt" --types q8_0,int4 --methods rtn,hqq -c 128 --chunks 3 --tg 4 -t 1 --json "$tmp/cmp.json" --plot "$tmp/cmp.svg" > "$tmp/cmp.md" 2> "$tmp/cmp.log"
check "compare table" grep -q "| int4g64 | hqq |" "$tmp/cmp.md"
check "compare json" py "import json;d=json.load(open('$tmp/cmp.json'));assert len(d['rows'])==4 and d['rows'][0]['base'] and d['rows'][1]['kld_mean']<d['rows'][3]['kld_mean'], d"
check "compare svg" grep -q "</svg>" "$tmp/cmp.svg"

[ $fails -eq 0 ] && echo "all CLI checks passed" || echo "$fails CLI checks failed"
exit $((fails > 0))
