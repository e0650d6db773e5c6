#!/usr/bin/env bash
# ONNX Runtime versions against each other on the library's own path: the benchmark harness is built once per
# version (Directory.Packages.props takes -p:OnnxRuntimeVersion), then one pair per length runs in a fresh process
# per cell, the versions alternating (A B B A ...) so that load drift hits both alike. Each cell is the median of
# RUNS timed runs after a warm-up, with the logit, so speed and parity come from the same run.
#
#   bench/ort-versions.sh OUT_DIR LABEL=MODEL [LABEL=MODEL ...]
#
# Environment: VERSIONS (default "1.31.1 1.32.0", each served by the NuGet feed), LENGTHS (default "64 128 256 512"),
# ATTENTION (default "rewritten"; "as-exported" runs the file as written), ROUNDS (default 2), RUNS (default 5).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then
  sed -n '2,10p' "$0" >&2
  exit 2
fi
OUT=$1; shift
VERSIONS=${VERSIONS:-1.31.1 1.32.0}
LENGTHS=${LENGTHS:-64 128 256 512}
ATTENTION=${ATTENTION:-rewritten}
ROUNDS=${ROUNDS:-2}
RUNS=${RUNS:-5}
mkdir -p "$OUT"
for v in $VERSIONS; do
  # Inside the repository (artifacts/ is ignored), so the harness finds Reranker.sln above itself.
  dotnet build tests/Reranker.Benchmarks -c Release -v q -nologo -p:OnnxRuntimeVersion="$v" -o "artifacts/ort-$v" >&2
done
dotnet build tests/Reranker.Benchmarks -c Release -v q -nologo >&2   # back to the pinned version

CELLS=$OUT/ort-versions.jsonl
: > "$CELLS"
for spec in "$@"; do
  label=${spec%%=*}; model=${spec#*=}
  for tokens in $LENGTHS; do
    for round in $(seq 1 "$ROUNDS"); do
      order=$VERSIONS
      if [ $((round % 2)) -eq 0 ]; then order=$(echo "$VERSIONS" | tr ' ' '\n' | tac | tr '\n' ' '); fi
      for v in $order; do
        echo "== $label $tokens tokens, ONNX Runtime $v, round $round (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
        line=$("artifacts/ort-$v/Reranker.Benchmarks" long-pair --model "$model" --tokens "$tokens" --attention "$ATTENTION" --runs "$RUNS")
        echo "$line" | sed "s/^{/{\"label\":\"$label\",\"ort\":\"$v\",\"round\":$round,/" >> "$CELLS"
      done
    done
  done
done

# The table: per model and length, each version's median time (median over rounds) and logit.
python3 - "$CELLS" "$VERSIONS" <<'PY'
import json, sys, statistics
cells = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
versions = sys.argv[2].split()
print("| model | tokens | " + " | ".join(f"{v}: ms (median of rounds), logit" for v in versions) + f" | time {versions[-1]} / {versions[0]} |")
print("|---|---:|" + "---|" * len(versions) + "---:|")
keys = sorted({(c["label"], c["tokens"]) for c in cells}, key=lambda k: (k[0], k[1]))
for label, tokens in keys:
    row, med = [], {}
    for v in versions:
        cs = [c for c in cells if c["label"] == label and c["tokens"] == tokens and c["ort"] == v]
        med[v] = statistics.median(c["median_seconds"] for c in cs) * 1000
        row.append(f"{med[v]:.1f} ms, {cs[0]['logit']:.7g}")
    print(f"| {label} | {tokens} | " + " | ".join(row) + f" | {med[versions[-1]] / med[versions[0]]:.3f} |")
PY
