#!/bin/sh
# Runs each libFuzzer target named for SECONDS: tests/fuzz/run.sh SECONDS NAME...
# The working corpus is build-fuzz/corpus/NAME (new inputs go there), seeded
# from tests/fuzz/corpus/NAME; dictionaries tests/fuzz/NAME.dict are used
# when present. A finding is written to build-fuzz/artifacts/NAME/ and ends
# the run non-zero. FUZZ_RUNS=N also stops each after N executions.
# Set FUZZ_JOBS=2 to run two targets at a time (niced).
secs=$1; shift
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
status=0
run_one() {
    t=$1
    mkdir -p "build-fuzz/corpus/$t" "build-fuzz/artifacts/$t"
    dict=""
    [ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
    nice -n 10 "build-fuzz/fuzz/$t" -max_total_time="$secs" -print_final_stats=1 \
        -timeout=20 -rss_limit_mb=2048 ${FUZZ_RUNS:+-runs=$FUZZ_RUNS} -artifact_prefix="build-fuzz/artifacts/$t/" $dict \
        "build-fuzz/corpus/$t" "tests/fuzz/corpus/$t" >"build-fuzz/$t.log" 2>&1
    rc=$?
    grep -E "^stat::number_of_executed_units|^stat::peak_rss|Done [0-9]+ runs" "build-fuzz/$t.log" |
        sed "s/^/$t: /"
    echo "$t: corpus $(ls "build-fuzz/corpus/$t" | wc -l) files, exit $rc"
    return $rc
}
jobs=${FUZZ_JOBS:-1}
set -- "$@"
while [ $# -gt 0 ]; do
    if [ "$jobs" -ge 2 ] && [ $# -ge 2 ]; then
        run_one "$1" & p1=$!
        run_one "$2" || status=1
        wait $p1 || status=1
        shift 2
    else
        run_one "$1" || status=1
        shift
    fi
done
[ $status -eq 0 ] && echo "fuzz: no findings" || echo "fuzz: FINDINGS, see build-fuzz/artifacts/"
exit $status
