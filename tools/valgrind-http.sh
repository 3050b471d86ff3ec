#!/bin/sh
# Runs the HTTP tests with the server under Valgrind's memcheck:
#   tools/valgrind-http.sh [test_name...]
# By default every tests/http test but test_shutdown and test_load: those
# check deadlines and throughput (a drain within --drain-seconds, a queue
# that fills at a given rate) that memcheck's 20-50x slowdown breaks; name
# them to run them anyway.
# Builds build/ first. Each server runs as
#   valgrind --error-exitcode=99 --leak-check=full ...  build/atelier serve ...
# so a memory error or a definite leak makes the server exit 99, which the
# harness reports as a failed test (harness_stop wants a clean exit). The
# reports are kept in $VG_DIR (default /tmp/atelier-valgrind), one per server
# process, and summed at the end. Slow: a run takes minutes.
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)"; exit 2; }
out=${VG_DIR:-/tmp/atelier-valgrind}
rm -rf "$out" && mkdir -p "$out"
[ $# -eq 0 ] && set -- $(ls tests/http/test_*.c | sed 's|tests/http/||; s|\.c$||' |
                          grep -v -e '^test_shutdown$' -e '^test_load$' -e '^test_killtrain$')
bins=""
for t in "$@"; do bins="$bins build/tests/http/$t"; done
make -j2 build/atelier $bins >/dev/null || exit 1
export ATELIER_SERVER_WRAPPER="valgrind --error-exitcode=99 --leak-check=full \
--errors-for-leak-kinds=definite --show-leak-kinds=definite --track-fds=no \
--num-callers=30 --log-file=$out/vg.%p.log"
BUILD=build tests/run.sh $bins
status=$?
errors=$(grep -h "ERROR SUMMARY" "$out"/vg.*.log | awk '{s += $4} END {print s + 0}')
leaks=$(grep -h "definitely lost:" "$out"/vg.*.log | awk '{gsub(",", "", $4); s += $4} END {print s + 0}')
# A server killed before it could exit (a test that timed out) leaves a
# report without a summary: its memory was not checked.
cut=$(grep -L "ERROR SUMMARY" "$out"/vg.*.log | wc -l)
echo "valgrind: $(ls "$out"/vg.*.log | wc -l) server runs, $errors errors, $leaks bytes definitely lost, $cut without a summary (reports in $out)"
[ "$status" -eq 0 ] && [ "$errors" -eq 0 ] && [ "$leaks" -eq 0 ] && [ "$cut" -eq 0 ]
