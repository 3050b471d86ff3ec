#!/bin/sh
# Soak run: starts `atelier serve` on a temporary repository on loopback and
# runs build/soak against it (soak.c says what it sends and checks), then
# stops the server with SIGTERM and checks it exits 0.
#   tools/soak/run.sh [MINUTES] [soak options...]     (default 5 minutes)
# The model is ml5's "wave" from ../shared/models (converted here), or the
# committed TransformerNet fixture when that is absent. Extra options go to
# soak, e.g. --concurrency 4 or --train (the job queue opens with the token;
# its jobs live in the temporary --data folder).
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
minutes=${1:-5}
[ $# -gt 0 ] && shift
BUILD=${BUILD:-build}
make -j2 "$BUILD/atelier" "$BUILD/soak" >/dev/null || exit 1
tmp=$(mktemp -d /tmp/atelier-soak-XXXXXX)
trap 'kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
mkdir -p "$tmp/models/wave"
if [ -d ../shared/models/ml5/wave ]; then
    "$BUILD/atelier" convert --from ml5 ../shared/models/ml5/wave "$tmp/models/wave/v1.safetensors" || exit 1
else
    cp tests/fixtures/torch/transformer_net.safetensors "$tmp/models/wave/v1.safetensors" || exit 1
fi
"$BUILD/atelier" serve --host 127.0.0.1 --port 0 --port-file "$tmp/port" --models "$tmp/models" \
    --token soak-token --data "$tmp/data" \
    --gate-min-edges 0 --gate-min-spread 0 --gate-style-slack 100000 2>"$tmp/server.log" &
pid=$!
for _ in $(seq 600); do
    [ -s "$tmp/port" ] && curl -fs "http://127.0.0.1:$(cat "$tmp/port")/readyz" >/dev/null && break
    sleep 0.1
done
port=$(cat "$tmp/port" 2>/dev/null)
[ -n "$port" ] || { echo "soak: the server did not start"; cat "$tmp/server.log"; exit 1; }
"$BUILD/soak" --port "$port" --pid "$pid" --minutes "$minutes" --model wave --token soak-token "$@"
status=$?
kill -TERM $pid
wait $pid
rc=$?
echo "server exit status $rc; $(grep -c '"status":5' "$tmp/server.log") 5xx lines in its log"
[ $rc -eq 0 ] || status=1
exit $status
