#!/usr/bin/env bash
# One pair at long lengths, old graph (as exported) against new (attention rewritten to MultiHeadAttention at load
# time), each cell in a fresh process so that its peak RSS (VmHWM) belongs to that model, length and path alone.
# Prints a Markdown table and keeps every cell's JSON in OUT_DIR/long-pairs.jsonl.
#
#   bench/long-pairs.sh OUT_DIR LABEL=MODEL [LABEL=MODEL ...]
#
# MODEL is a model directory (its model.onnx) or an .onnx file inside one (config.json beside it). Examples:
#   bench/long-pairs.sh /tmp/long fp32=/tmp/bench-model/fp32 int8=/tmp/bench-model/int8          # full size
#   LENGTHS="512 2048 8192" bench/long-pairs.sh /tmp/long-tiny \
#     fp32=models/tiny-xlmr-reranker int8=models/tiny-xlmr-reranker/model_int8.onnx                # the tiny fixture
#
# Environment: LENGTHS (default "512 1024 2048 4096 8192"), PATHS (default "as-exported rewritten"), RUNS (timed runs
# after one warm-up, default 3), THREADS (ONNX Runtime intra-op threads, default 0 = its default), PEAK (a peak.json
# from `Reranker.Benchmarks peak`; measured into OUT_DIR when missing, for the share of the FLOP bound).
# The full-size fp32 model as exported needs about 20 GB at 8192 tokens: run it on a machine that has it, or leave
# that cell out with LENGTHS.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then
  sed -n '2,18p' "$0" >&2
  exit 2
fi
OUT=$1; shift
LENGTHS=${LENGTHS:-512 1024 2048 4096 8192}
PATHS_=${PATHS:-as-exported rewritten}
RUNS=${RUNS:-3}
THREADS=${THREADS:-0}
BENCH=tests/Reranker.Benchmarks/bin/Release/net10.0/Reranker.Benchmarks
mkdir -p "$OUT"
dotnet build tests/Reranker.Benchmarks -c Release -v q -nologo >&2

PEAK=${PEAK:-$OUT/peak.json}
if [ ! -f "$PEAK" ]; then
  # The C kernel measures AVX512-VNNI, which .NET does not expose (and the only VNNI of AMD Zen 4/5).
  gcc -O2 -march=native -fopenmp bench/peak/peak.c -o "$OUT/peak-c"
  "$BENCH" peak --out "$OUT" --c-peak "$OUT/peak-c" >&2
  PEAK=$OUT/peak.json
fi

CELLS=$OUT/long-pairs.jsonl
: > "$CELLS"
for spec in "$@"; do
  label=${spec%%=*}; model=${spec#*=}
  if [ -f "$model" ]; then dir=$(dirname "$model"); file=$(basename "$model"); else dir=$model; file=model.onnx; fi
  for tokens in $LENGTHS; do
    for path in $PATHS_; do
      echo "== $label $tokens tokens $path (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
      if line=$("$BENCH" long-pair --model "$dir" --file "$file" --tokens "$tokens" --attention "$path" \
                  --runs "$RUNS" --threads "$THREADS" --peak "$PEAK"); then
        echo "$line" | sed "s/^{/{\"label\":\"$label\",/" >> "$CELLS"
      else
        echo "{\"label\":\"$label\",\"tokens\":$tokens,\"attention\":\"$path\",\"failed\":true}" >> "$CELLS"
      fi
    done
  done
done

"$BENCH" long-pair-report --in "$CELLS"
