#!/usr/bin/env bash
# Runs every benchmark phase, each in its own process (so peak RSS belongs to one model), then writes the tables of
# docs/BENCHMARKS.md and its chart. Takes about 30 minutes on 2 cores; run it when the machine is otherwise idle.
#
#   bench/run-benchmarks.sh [OUT_DIR]
#
# Environment: MODELS (default /tmp/bench-model: fp32/ and int8/ model directories, exported here when missing;
# about 2.8 GB, keep them out of the repository), PHASES (default "peak tokenizer profile int8 fp32 before-after
# inflight concurrency batching spinning report"),
# E2E_REQUESTS (default 6), RAW_REQUESTS (default 1; requests timed both through Rank and bare Run).
set -euo pipefail
cd "$(dirname "$0")/.."
MODELS=${MODELS:-/tmp/bench-model}
OUT=${1:-/tmp/bench-results/$(date -u +%Y%m%dT%H%M%SZ)}
PHASES=${PHASES:-peak tokenizer profile int8 fp32 before-after inflight concurrency batching spinning report}
CLI=src/Reranker.Cli/bin/Release/net10.0/Reranker.Cli
BENCH=tests/Reranker.Benchmarks/bin/Release/net10.0/Reranker.Benchmarks
mkdir -p "$OUT"

dotnet build src/Reranker.Cli -c Release -v q -nologo
dotnet build tests/Reranker.Benchmarks -c Release -v q -nologo

# The models: the project's own exporter, real bge-reranker-v2-m3 architecture, seeded random weights.
for v in fp32 int8; do
  if [ ! -f "$MODELS/$v/model.onnx" ]; then
    flag=""; [ "$v" = int8 ] && flag="--int8"
    "$CLI" export --random-weights --config models/bge-reranker-v2-m3.config.json --seed 0 \
      --tokenizer-from models/tiny-xlmr-reranker --out "$MODELS/$v" $flag
  fi
  # Transformers.js layout (config.json, tokenizer files, onnx/model.onnx) over the same files.
  mkdir -p "$MODELS/peer/$v/onnx"
  for f in config.json tokenizer.json tokenizer_config.json; do ln -sf "$MODELS/$v/$f" "$MODELS/peer/$v/$f"; done
  for f in model.onnx model.onnx.data; do ln -sf "$MODELS/$v/$f" "$MODELS/peer/$v/onnx/$f"; done
done

# The peer: Transformers.js + onnxruntime-node from npm, without the CUDA download.
if [ ! -d bench/peer/node_modules ]; then
  (cd bench/peer && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund)
fi

{ lscpu | grep -E 'Model name|^CPU\(s\)|Thread|Core|Socket|Flags' | cut -c1-200; uptime; } > "$OUT/machine.txt"

for phase in $PHASES; do
  echo "== $phase ($(cut -d' ' -f1-3 /proc/loadavg))" >&2
  case $phase in
    peak)
      gcc -O2 -march=native -fopenmp bench/peak/peak.c -o "$OUT/peak-c"
      "$BENCH" peak --out "$OUT" --c-peak "$OUT/peak-c" ;;
    tokenizer) "$BENCH" tokenizer --out "$OUT" ;;
    profile)
      # Per-operator shares of one pair at 64-512 tokens: the file as exported (Python's graph), the attention rewrite
      # alone (the default before the later passes) and the default; one fresh process each.
      : > "$OUT/profile.jsonl"
      for v in int8 fp32; do
        for passes in as-exported attention-only all; do
          attention=rewritten; [ "$passes" = as-exported ] && attention=as-exported
          "$BENCH" profile --model "$MODELS/$v" --label "$v, $passes" --attention "$attention" \
            --passes "$([ "$passes" = as-exported ] && echo all || echo "$passes")" --runs 3 --profile-dir "$OUT" >> "$OUT/profile.jsonl"
        done
      done ;;
    int8|fp32)
      "$BENCH" e2e --out "$OUT" --model "$MODELS/$phase" --variant "$phase" --peer-root "$MODELS/peer" \
        --requests "${E2E_REQUESTS:-6}" --docs 20 --raw-requests "${RAW_REQUESTS:-1}" ;;
    before-after)
      "$BENCH" before-after --out "$OUT" --model "$MODELS/int8" --variant int8 --requests "${E2E_REQUESTS:-6}" --docs 20
      "$BENCH" before-after --out "$OUT" --model "$MODELS/fp32" --variant fp32 --requests 3 --docs 20 ;;
    inflight)
      "$BENCH" inflight --out "$OUT" --model "$MODELS/int8" --variant int8 --tokens 128,512 --pairs 8 --rounds 4
      "$BENCH" inflight --out "$OUT" --model "$MODELS/fp32" --variant fp32 --tokens 128,512 --pairs 4 --rounds 2 ;;
    concurrency) "$BENCH" concurrency --out "$OUT" --model "$MODELS/int8" --requests 8 --docs 10 --rounds "${CONCURRENCY_ROUNDS:-2}" ;;
    batching)
      "$BENCH" batching --out "$OUT" --model "$MODELS/int8" --variant int8 --requests 2 --docs 20
      "$BENCH" batching --out "$OUT" --model "$MODELS/fp32" --variant fp32 --requests 1 --docs 20 ;;
    spinning)
      "$BENCH" spinning --out "$OUT" --model "$MODELS/int8" --variant int8 --repeats 6
      "$BENCH" spinning --out "$OUT" --model "$MODELS/fp32" --variant fp32 --repeats 4 ;;
    report) "$BENCH" report --out "$OUT" --docs docs/BENCHMARKS.md ;;
  esac
done
echo "results in $OUT" >&2
