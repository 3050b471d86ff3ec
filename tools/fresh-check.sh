#!/bin/bash
# tools/fresh-check.sh: what a new user meets on a fresh Debian 12. In a
# Debian 12 (bookworm) minbase chroot with only make, git and
# ca-certificates added, it clones this repository's committed HEAD, runs
# CI there (`CI=true bash .ci/run </dev/null`, which installs everything
# else itself), then `make run` in the background and one POST /stylize
# against it. Run it before resolving an issue that changes how things are
# installed (README, "Contributing"). It downloads packages: not part of CI.
#
# Cached between runs in $ATELIER_FRESH_DIR (default build-fresh/, which
# `make clean` keeps): the debootstrap root (tools/debian-rootfs.sh) and
# that root with make, git and ca-certificates. Each run starts from a new
# copy of the latter in build-fresh/root (removed at the next run). Logs:
# build-fresh/ci.log, build-fresh/serve.log. Needs root and debootstrap.
# Exit status 0 when CI passed and /stylize answered 200; the last lines
# are CI's "N passed, N failed, N skipped" and the /stylize status.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
out=${ATELIER_FRESH_DIR:-$repo/build-fresh}
mkdir -p "$out"
out=$(cd "$out" && pwd -P)   # physical: compared with /proc/PID/root
base=$out/debian-bookworm-minbase.tar
tools=$out/bookworm-make-git.tar
root=$out/root
server_pid=""

say() { echo "fresh-check: $*" >&2; }

[ "$(id -u)" = 0 ] || { say "needs root (debootstrap, chroot, mounts)"; exit 1; }

mounted() {   # the mounts under $1, deepest first
    awk -v r="$1/" 'index($2 "/", r) == 1 { print $2 }' /proc/self/mounts | sort -r
}

mount_root() {
    mount -t proc proc "$1/proc"
    mount -t sysfs sysfs "$1/sys"
    mount --rbind /dev "$1/dev"
    mount --make-rslave "$1/dev"
}

unmount_root() {
    local m
    for m in $(mounted "$1"); do
        umount "$m" 2>/dev/null || umount -l "$m"
    done
}

# Every process whose root is the chroot: all started by this script.
kill_chroot_processes() {
    local p pids=""
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/root" 2>/dev/null)" = "$1" ] && pids="$pids ${p#/proc/}"
    done
    [ -z "$pids" ] && return 0
    kill -TERM $pids 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 $pids 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL $pids 2>/dev/null || true
}

cleanup() {
    local rc=$?
    [ -n "$server_pid" ] && kill -TERM -- "-$server_pid" 2>/dev/null || true
    for r in "$root" "$out/tools-root"; do
        if [ -d "$r" ]; then
            kill_chroot_processes "$r"
            unmount_root "$r"
        fi
    done
    [ -z "$(mounted "$root")" ] || say "mounts remain under $root: $(mounted "$root" | tr '\n' ' ')"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Removes a chroot folder, never through a mount left in it.
remove_root() {
    unmount_root "$1"
    if [ -n "$(mounted "$1")" ]; then
        say "cannot unmount everything under $1; not removing it"
        exit 1
    fi
    rm -rf --one-file-system "$1"
}

# The workplace this runs in reaches the Internet through a TLS proxy whose
# CA its machines trust (the host's /usr/local/share/ca-certificates); a
# fresh machine on this network is given it the same way. It is copied in
# for that network only: a fresh machine elsewhere needs nothing of the sort.
add_site_cas() {
    local f n=0
    for f in /usr/local/share/ca-certificates/*.crt; do
        [ -f "$f" ] || continue
        cp "$f" "$1/usr/local/share/ca-certificates/"
        n=$((n + 1))
    done
    [ "$n" -gt 0 ] && chroot "$1" update-ca-certificates >/dev/null 2>&1
    return 0
}

# root, command...: the command in the chroot with a login-like
# environment and no stdin. It runs in the background and is waited for, so
# that INT or TERM reach the traps at once (bash runs a trap only after a
# foreground command ends), and cleanup stops it.
in_root() {
    local r=$1; shift
    chroot "$r" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@" </dev/null &
    wait $!
}

# 1. The cached roots.
start=$(date +%s)
tools/debian-rootfs.sh "$base"
if [ ! -s "$tools" ]; then
    say "adding make, git and ca-certificates (once)"
    remove_root "$out/tools-root"
    mkdir -p "$out/tools-root"
    tar -C "$out/tools-root" -xf "$base"
    cp /etc/resolv.conf "$out/tools-root/etc/resolv.conf"
    mount_root "$out/tools-root"
    in_root "$out/tools-root" sh -c 'apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        make git ca-certificates' >"$out/tools.log" 2>&1 || {
        tail -n 20 "$out/tools.log" >&2
        exit 1
    }
    unmount_root "$out/tools-root"
    rm -rf "$out/tools-root"/var/lib/apt/lists/* "$out/tools-root/etc/resolv.conf"
    tar --numeric-owner --xattrs -C "$out/tools-root" -cf "$tools.tmp" .
    mv "$tools.tmp" "$tools"
    remove_root "$out/tools-root"
fi

# 2. A new root and the clone.
remove_root "$root"
mkdir -p "$root"
tar -C "$root" -xf "$tools"
cp /etc/resolv.conf "$root/etc/resolv.conf"
add_site_cas "$root"
head=$(git rev-parse HEAD)
git clone -q --no-hardlinks "$repo" "$root/root/atelier"
git -C "$root/root/atelier" checkout -q --detach "$head"
say "clone of $head ($(git log -1 --format=%s "$head" | cut -c1-60)...)"
mount_root "$root"

# 3. CI, as a new user's machine runs it.
say "CI=true bash .ci/run in the chroot (log: $out/ci.log)"
ci_rc=0
in_root "$root" sh -c 'cd /root/atelier && CI=true bash .ci/run' >"$out/ci.log" 2>&1 || ci_rc=$?
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out/ci.log" | tail -n 1 || true)
ci_s=$(( $(date +%s) - start ))

# 4. make run, and one POST /stylize from outside (same network).
rm -f "$root/tmp/port"
setsid chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    ATELIER_HOST=127.0.0.1 ATELIER_PORT=0 ATELIER_PORT_FILE=/tmp/port \
    sh -c 'cd /root/atelier && exec make run' </dev/null >"$out/serve.log" 2>&1 &
server_pid=$!
port=""
for _ in $(seq 600); do
    port=$(cat "$root/tmp/port" 2>/dev/null || true)
    [ -n "$port" ] && curl -sf -o /dev/null "http://127.0.0.1:$port/readyz" && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.5
done
photo=$root/root/atelier/docs/sheet.jpg
stylize="no answer (make run did not become ready; see $out/serve.log)"
st=0
if [ -n "$port" ]; then
    st=$(curl -s -o "$out/stylized.jpg" -D "$out/stylize.headers" -w '%{http_code}' \
        --data-binary @"$photo" -H 'Content-Type: image/jpeg' \
        "http://127.0.0.1:$port/stylize?max_size=512" || true)
    model=$(grep -i '^X-Atelier-Model:' "$out/stylize.headers" | tr -d '\r' | cut -d' ' -f2 ||
            true)
    bytes=$(stat -c %s "$out/stylized.jpg" 2>/dev/null || echo 0)
    stylize="$st ($bytes bytes, model ${model:-none})"
fi
kill -TERM -- "-$server_pid" 2>/dev/null || true
wait "$server_pid" 2>/dev/null || true
server_pid=""

say "CI exit status $ci_rc after $ci_s s; make run: POST /stylize on port ${port:-?}"
echo "${summary:-CI printed no summary line (see $out/ci.log)}"
echo "POST /stylize: $stylize"
[ "$ci_rc" -eq 0 ] && [ "$st" = 200 ]
