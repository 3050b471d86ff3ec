#!/bin/sh
# Checks that a binary was built hardened, as checksec would, with readelf:
#   PIE        the ELF type is DYN and the dynamic section has FLAGS_1 PIE
#   RELRO      a GNU_RELRO program header
#   BIND_NOW   the dynamic section has BIND_NOW (or FLAGS NOW): full RELRO
#   canary     __stack_chk_fail is imported (-fstack-protector-strong)
#   fortify    at least one __*_chk function is imported (_FORTIFY_SOURCE)
#   NX         the GNU_STACK header is not executable
# Usage: tools/check-hardening.sh [binary...]  (default build/atelier).
# Prints one line per check and exits non-zero when any fails.
[ $# -eq 0 ] && set -- build/atelier
status=0
check() {   # name, result (0 = ok), detail
    if [ "$2" -eq 0 ]; then echo "  ok    $1 $3"; else echo "  FAIL  $1 $3"; status=1; fi
}
for bin in "$@"; do
    if [ ! -f "$bin" ]; then
        echo "$bin: no such file"; status=1; continue
    fi
    echo "$bin:"
    hdr=$(readelf -h "$bin") dyn=$(readelf -d "$bin") ph=$(readelf -lW "$bin")
    syms=$(readelf --dyn-syms -W "$bin")
    echo "$hdr" | grep -q "Type:.*DYN" && echo "$dyn" | grep -q "FLAGS_1.*PIE"
    check PIE $? ""
    echo "$ph" | grep -q GNU_RELRO
    check RELRO $? ""
    echo "$dyn" | grep -Eq "BIND_NOW|FLAGS.*NOW"
    check BIND_NOW $? ""
    echo "$syms" | grep -q "__stack_chk_fail"
    check canary $? ""
    chk=$(echo "$syms" | grep -Eo "__[a-z0-9_]+_chk" | grep -v "^__stack_chk$" | sort -u)
    n=$(echo "$chk" | grep -c .)
    [ "$n" -gt 0 ]
    check fortify $? "($n fortified functions: $(echo $chk))"
    echo "$ph" | grep GNU_STACK | grep -vq "RWE"
    check NX $? ""
done
exit $status
