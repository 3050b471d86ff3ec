#!/bin/sh
# Runs each cmocka test program given on the command line, prints its output,
# and ends with one line "N passed, N failed, N skipped" summed over them.
# A program printing TAP's summary instead (node --test: "# pass N",
# "# fail N", "# cancelled N", "# skipped N"; tests/web/run.sh) is counted
# from that.
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
    if [ -z "$p$f$s" ] && grep -q "^# pass [0-9]" "$log"; then
        tap() { grep "^# $1 [0-9]" "$log" | tail -n 1 | grep -o "[0-9][0-9]*"; }
        p=$(tap pass); s=$(tap skipped); f=$(tap fail); c=$(tap cancelled)
        f=$(( ${f:-0} + ${c:-0} ))
        [ "$f" -gt 0 ] || f=""     # a non-zero exit then still counts
    fi
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${s:-0}))
    if [ $rc -ne 0 ] && [ -z "$f" ]; then
        echo "!! $t exited with status $rc without a cmocka summary"
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
