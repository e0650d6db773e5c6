#!/usr/bin/env bash
# Rank of whole AutoRAG pages under the three long-document settings (truncated at 512, chunked into 512-token pairs
# with no cap, MaxLength 8192), each in a fresh process so that its peak RSS (VmHWM) is its own. One JSON line per
# cell in OUT_DIR/long-docs.jsonl.
#
#   bench/long-docs.sh OUT_DIR LABEL=MODEL_DIR [LABEL=MODEL_DIR ...]
#
# Environment: MODES (default "truncate chunk full"), DOCS (pages per Rank, default 20), UNIT_RUNS (timed runs of
# the one 512-token pair the chunked cost is compared with, default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then
  sed -n '2,10p' "$0" >&2
  exit 2
fi
OUT=$1; shift
MODES=${MODES:-truncate chunk full}
BENCH=tests/Reranker.Benchmarks/bin/Release/net10.0/Reranker.Benchmarks
mkdir -p "$OUT"
dotnet build tests/Reranker.Benchmarks -c Release -v q -nologo >&2
CELLS=$OUT/long-docs.jsonl
: > "$CELLS"
for spec in "$@"; do
  label=${spec%%=*}; model=${spec#*=}
  for mode in $MODES; do
    echo "== $label $mode (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    if line=$("$BENCH" long-docs --model "$model" --mode "$mode" --docs "${DOCS:-20}" --unit-runs "${UNIT_RUNS:-3}"); then
      echo "$line" | sed "s/^{/{\"label\":\"$label\",/" >> "$CELLS"
    else
      echo "{\"label\":\"$label\",\"mode\":\"$mode\",\"failed\":true}" >> "$CELLS"
    fi
  done
done
cat "$CELLS"
