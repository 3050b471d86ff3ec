#!/bin/sh
# Runs each cmocka test program given on the command line, prints its output,
# and ends with one line "N passed, N failed, N skipped" summed over them.
# A program that crashes or exits non-zero without cmocka's summary counts
# as one failure. Exit status is non-zero when anything failed.
passed=0; failed=0; skipped=0
log=$(mktemp); trap 'rm -f "$log"' EXIT
for t in "$@"; do
    echo "== $t"
    "$t" >"$log" 2>&1
    rc=$?
    cat "$log"
    p=$(grep -o "\[  PASSED  \] [0-9][0-9]* test" "$log" | grep -o "[0-9][0-9]*"  | tail -n 1)
    f=$(grep -o "\[  FAILED  \] [0-9][0-9]* test" "$log" | grep -o "[0-9][0-9]*"  | tail -n 1)
    s=$(grep -o "\[  SKIPPED \] [0-9][0-9]* test" "$log" | grep -o "[0-9][0-9]*"  | tail -n 1)
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${s:-0}))
    if [ $rc -ne 0 ] && [ -z "$f" ]; then
        echo "!! $t exited with status $rc without a cmocka summary"
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
