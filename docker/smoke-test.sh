#!/bin/bash
# docker/smoke-test.sh: runs the image built by docker/build-local.sh the way
# a container engine would, and checks it over HTTP. No Docker engine needed:
# `buildah run --isolation chroot` starts the image's own ENTRYPOINT as the
# image's USER with its ENV, in a chroot that shares the host's network, so
# the service listens on 127.0.0.1:$PORT (the "published" port; loopback only).
#
# Checks: the process runs as the image's non-root UID; /healthz and /readyz
# answer 200 (time to ready is measured from the start); POST /stylize on the
# default model answers an image; /metrics has atelier_ metrics; the image's
# own HEALTHCHECK command exits 0 inside the container; the image's
# STOPSIGNAL (SIGTERM) lets a request in flight finish and the process exit 0.
#
# When the image ships no model yet, a small test model
# (tests/fixtures/torch/transformer_net.safetensors) is copied into the
# container's model repository as tnet/v1 first.
#
# Environment: ATELIER_IMAGE (default localhost/atelier:latest),
# SMOKE_PORT (default: a free port), SMOKE_READY_S (default 120).
# Exit status 0 when every check passed; the last line says how many did.
set -uo pipefail
cd "$(dirname "$0")/.."
IMAGE=${ATELIER_IMAGE:-localhost/atelier:latest}
STORE="--storage-driver vfs"
READY_S=${SMOKE_READY_S:-120}
PY=/usr/bin/python3
passed=0
failed=0

say() { echo "smoke: $*"; }
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
check() { # check NAME COMMAND...: ok when the command succeeds
    local name=$1
    shift
    if "$@"; then ok "$name"; else bad "$name"; fi
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

for t in buildah podman curl; do
    command -v $t >/dev/null || { say "missing $t (apt-get install $t)"; exit 1; }
done
if ! podman $STORE image exists "$IMAGE"; then
    say "no image $IMAGE: build it first with make image (docker/build-local.sh)"
    exit 1
fi

tmp=$(mktemp -d /tmp/atelier-smoke-XXXXXX)
ctr=""
bpid=""
apid=""
cleanup() {
    # Only what this script started: the server, then buildah above it.
    [ -n "$apid" ] && kill -0 "$apid" 2>/dev/null && kill -KILL "$apid" 2>/dev/null
    [ -n "$bpid" ] && kill -0 "$bpid" 2>/dev/null && kill -KILL "$bpid" 2>/dev/null
    [ -n "$ctr" ] && buildah $STORE rm "$ctr" >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT

# The image's own configuration, as an engine would read it.
fmt() { buildah $STORE inspect --type image --format "$1" "$IMAGE"; }
entry=$(fmt '{{range .OCIv1.Config.Entrypoint}}{{.}} {{end}}')
entry=${entry% }
user=$(fmt '{{.OCIv1.Config.User}}')
stopsig=$(fmt '{{.OCIv1.Config.StopSignal}}')
health=$(fmt '{{if .Docker.Config.Healthcheck}}{{range .Docker.Config.Healthcheck.Test}}{{.}} {{end}}{{end}}')
health=${health% }
size=$(podman $STORE image inspect --format '{{.Size}}' "$IMAGE")
say "image $IMAGE: $((size / 1000000)) MB; ENTRYPOINT [$entry]; USER $user; STOPSIGNAL $stopsig; HEALTHCHECK [$health]"
check "image user is non-root with a fixed UID ($user)" test "${user%%:*}" = 10001
check "image STOPSIGNAL is SIGTERM" test "$stopsig" = SIGTERM
check "image has a HEALTHCHECK through the binary" test "$health" = "CMD atelier healthcheck"
health=${health#CMD }

ctr=$(buildah $STORE from --pull=never --name "atelier-smoke-$$" "$IMAGE")
mnt=$(buildah $STORE mount "$ctr")
if ls "$mnt"/models/*/v*.safetensors >/dev/null 2>&1; then
    say "models shipped in the image: $(cd "$mnt/models" && echo */v*.safetensors)"
else
    say "the image ships no model yet: adding the test model as /models/tnet/v1.safetensors"
    buildah $STORE copy --chown 10001:10001 "$ctr" \
        tests/fixtures/torch/transformer_net.safetensors /models/tnet/v1.safetensors >/dev/null
fi
buildah $STORE umount "$ctr" >/dev/null

# A free port on loopback, and test photos (PNG, made here, no tools needed).
port=${SMOKE_PORT:-$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
$PY - "$tmp" <<'PYEOF'
import struct, sys, zlib
def png(path, w, h):
    rows = b"".join(b"\0" + bytes(v for x in range(w)
                                   for v in (x * 255 // w, y * 255 // h, (x ^ y) & 255))
                    for y in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
png(sys.argv[1] + "/photo.png", 320, 240)
png(sys.argv[1] + "/big.png", 1600, 1200)
PYEOF

RUN=(buildah $STORE run --isolation chroot -e ATELIER_HOST=127.0.0.1 -e ATELIER_PORT="$port" "$ctr" --)
say "starting: ${RUN[*]} $entry"
t0=$(now)
# shellcheck disable=SC2086
"${RUN[@]}" $entry >"$tmp/serve.log" 2>&1 &
bpid=$!

# The server: the atelier process among buildah's descendants
# (buildah, buildah-chroot-runtime, buildah-chroot-exec, atelier).
find_server() {
    local todo=$bpid p
    while [ -n "$todo" ]; do
        set -- $todo
        p=$1
        shift
        todo="$* $(pgrep -P "$p" | tr '\n' ' ')"
        todo=${todo# }
        if [ "$p" != "$bpid" ] && [ "$(cat /proc/"$p"/comm 2>/dev/null)" = atelier ]; then
            echo "$p"
            return 0
        fi
    done
    return 1
}
url=http://127.0.0.1:$port
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@"; }
t_live=""
t_ready=""
deadline=$(( $(date +%s) + READY_S ))
while [ "$(date +%s)" -lt "$deadline" ] && kill -0 "$bpid" 2>/dev/null; do
    [ -z "$t_live" ] && [ "$(code "$url/healthz")" = 200 ] && t_live=$(elapsed "$t0" "$(now)")
    if [ "$(code "$url/readyz")" = 200 ]; then
        t_ready=$(elapsed "$t0" "$(now)")
        break
    fi
    sleep 0.05
done
if [ -z "$t_ready" ]; then
    apid=$(find_server || true)
    bad "ready within ${READY_S}s"
    say "server log:"
    cat "$tmp/serve.log"
    echo "$passed passed, $failed failed"
    exit 1
fi
ok "live after ${t_live:-$t_ready} s, ready (/readyz 200) after $t_ready s"
apid=$(find_server)

if [ -n "$apid" ]; then
    uid=$(awk '/^Uid:/ { print $2 }' /proc/"$apid"/status)
    check "server process runs as UID $uid (non-root 10001)" test "$uid" = 10001
    check "server process is the image's entrypoint ($(tr '\0' ' ' </proc/"$apid"/cmdline))" \
        grep -qz '^serve$' /proc/"$apid"/cmdline
else
    bad "found the atelier process under buildah (pid $bpid)"
fi

check "GET /healthz 200" test "$(code "$url/healthz")" = 200
check "GET /models 200" test "$(code "$url/models")" = 200

# POST /stylize on the default model: an image comes back.
hdr=$tmp/stylize.h
st=$(curl -s -D "$hdr" -o "$tmp/out.img" -w '%{http_code}' --max-time 60 \
    -H 'Content-Type: image/png' --data-binary @"$tmp/photo.png" "$url/stylize")
model=$(awk -F': ' 'tolower($1) == "x-atelier-model" { print $2 }' "$hdr" | tr -d '\r')
ctype=$(awk -F': ' 'tolower($1) == "content-type" { print $2 }' "$hdr" | tr -d '\r')
# The answer's bytes are the image its Content-Type says.
magic() { head -c 4 "$1" | od -An -tx1 | tr -d ' \n'; }
is_image() { # is_image FILE CONTENT-TYPE
    case "$2:$(magic "$1")" in
        image/png:89504e47 | image/jpeg:ffd8ff*) return 0 ;;
        *) return 1 ;;
    esac
}
check "POST /stylize (PNG in) -> $st, $ctype, $(stat -c %s "$tmp/out.img") bytes, model $model" \
    eval 'test "$st" = 200 && test -n "$model" && is_image "$tmp/out.img" "$ctype"'
st=$(curl -s -D "$hdr" -o "$tmp/out.img" -w '%{http_code}' --max-time 60 \
    -H 'Content-Type: image/png' --data-binary @"$tmp/photo.png" "$url/stylize?format=jpeg&quality=85")
ctype=$(awk -F': ' 'tolower($1) == "content-type" { print $2 }' "$hdr" | tr -d '\r')
check "POST /stylize?format=jpeg -> $st, $ctype, $(stat -c %s "$tmp/out.img") bytes" \
    eval 'test "$st" = 200 && test "$ctype" = image/jpeg && is_image "$tmp/out.img" "$ctype"'
head -c 200 "$tmp/photo.png" >"$tmp/truncated.png"
st=$(code -H 'Content-Type: image/png' --data-binary @"$tmp/truncated.png" "$url/stylize")
check "POST /stylize with a truncated PNG -> $st (422)" test "$st" = 422

curl -s --max-time 10 "$url/metrics" >"$tmp/metrics"
n=$(grep -c '^atelier_' "$tmp/metrics")
check "GET /metrics has $n atelier_ samples" test "$n" -gt 0
say "metrics sample: $(grep -m 3 '^atelier_' "$tmp/metrics" | tr '\n' ';')"

# The image's HEALTHCHECK, run inside the container as the engine would.
# shellcheck disable=SC2086
if out=$("${RUN[@]}" $health 2>&1); then ok "HEALTHCHECK [$health] in the container: $out"
else bad "HEALTHCHECK [$health] in the container: $out"; fi
if out=$("${RUN[@]}" atelier healthcheck --path /readyz 2>&1); then ok "atelier healthcheck --path /readyz: $out"
else bad "atelier healthcheck --path /readyz: $out"; fi

# The init containers' seeding of a shared repository (docker/k8s/).
if out=$("${RUN[@]}" sh -c 'r=$(mktemp -d) && atelier-seed-models "$r" >/dev/null &&
        atelier-seed-models "$r" && cd "$r" && find . -type f | sort' 2>&1) &&
   [ "$out" = "$("${RUN[@]}" sh -c 'cd /models && find . -type f | sort')" ] && [ -n "$out" ]; then
    ok "atelier-seed-models copies the image's models once: $(echo $out)"
else bad "atelier-seed-models: $out"; fi

if [ -n "$apid" ]; then
    rss=$(awk '/^VmRSS:/ { print int($2 / 1024) }' /proc/"$apid"/status)
    hwm=$(awk '/^VmHWM:/ { print int($2 / 1024) }' /proc/"$apid"/status)
    say "server memory: RSS $rss MB, peak $hwm MB"
fi

# Drain: a large request in flight, then the image's STOPSIGNAL.
curl -s -o "$tmp/big.jpg" -w '%{http_code}' --max-time 120 -H 'Content-Type: image/png' \
    --data-binary @"$tmp/big.png" "$url/stylize" >"$tmp/big.code" &
cpid=$!
for _ in $(seq 1 50); do
    grep -q '^atelier_workers_busy [1-9]' <(curl -s --max-time 2 "$url/metrics") && break
    sleep 0.02
done
sig=${stopsig#SIG}
ts=$(now)
if [ -n "$apid" ]; then kill -"$sig" "$apid"; else kill -"$sig" "$bpid"; fi
wait "$bpid"
rc=$?
t_exit=$(elapsed "$ts" "$(now)")
bpid=""
wait "$cpid"
check "$stopsig: exit status $rc after $t_exit s" test "$rc" = 0
check "request in flight at $stopsig finished: $(cat "$tmp/big.code")" test "$(cat "$tmp/big.code")" = 200
say "server log (last lines):"
tail -n 8 "$tmp/serve.log" | cut -c 1-200
echo "image: $((size / 1000000)) MB; ready after $t_ready s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
