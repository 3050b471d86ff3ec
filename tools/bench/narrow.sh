#!/bin/sh
# narrow.sh: the engine's cost per megapixel for narrow, wide and square
# images of about the same pixels, measured in the same run (issue 15: a
# 5x8192 image used to cost 16 times what 8192x5 did).
#   tools/bench/narrow.sh [ATELIER] [MODEL] [RUNS]
# One line per shape: pixels, median ms and CPU ms of the forward pass on one
# thread, ms per megapixel and its ratio to the square's. A shape the model
# cannot take (too small after its downsampling) says so.
set -eu
BIN=${1:-build/atelier}
MODEL=${2:-starry_night}
RUNS=${3:-5}
printf '%-9s %8s %9s %9s %9s %7s\n' shape pixels ms cpu_ms ms/MP ratio
square_mp=""
for s in 203x203 5x8192 8192x5 1x20000 20000x1; do
    out=$("$BIN" bench --models models --model "$MODEL" --size "$s" --threads 1 --runs "$RUNS" \
          2>&1 | tail -1)
    case $out in
    \{*) ;;
    *) printf '%-9s %s\n' "$s" "refused: $out"; continue ;;
    esac
    echo "$out" | /usr/bin/python3 -c '
import json, sys
r = json.load(sys.stdin)
s, sq = sys.argv[1], sys.argv[2]
mp = r["width"] * r["height"] / 1e6
per = r["ms_median"] / mp
ratio = per / float(sq) if sq else 1.0
print("%-9s %8d %9.1f %9.1f %9.0f %7.2f" % (s, r["width"] * r["height"], r["ms_median"],
      r["cpu_ms_median"], per, ratio))
if not sq:
    open(sys.argv[3], "w").write(str(per))' "$s" "$square_mp" "${TMPDIR:-/tmp}/narrow.$$"
    [ -n "$square_mp" ] || square_mp=$(cat "${TMPDIR:-/tmp}/narrow.$$")
done
rm -f "${TMPDIR:-/tmp}/narrow.$$"
