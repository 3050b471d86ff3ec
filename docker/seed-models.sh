#!/bin/sh
# atelier-seed-models REPO: copies the models that ship in the image
# (/models, or $ATELIER_SEED_FROM) into the model repository REPO, file by
# file, leaving every file REPO already has alone. Each file goes through a
# temporary name, fsync and a rename, so a server watching REPO never sees
# half a file, and several pods seeding at once do no harm.
# Used by the Kubernetes init containers (docker/k8s/) on the shared volume.
set -eu
if [ $# -ne 1 ] || [ "$1" = --help ]; then
    echo "usage: atelier-seed-models REPO" >&2
    [ $# -eq 1 ] && exit 0
    exit 2
fi
src=${ATELIER_SEED_FROM:-/models}
repo=$1
[ -d "$repo" ] || { echo "atelier-seed-models: $repo is not a folder" >&2; exit 1; }
cd "$src"
find . -type f ! -name '*.tmp' | while read -r f; do
    [ -e "$repo/$f" ] && continue
    mkdir -p "$repo/$(dirname "$f")"
    tmp="$repo/$f.seed-$(hostname 2>/dev/null || echo pod)-$$.tmp"
    cp "$f" "$tmp"
    sync "$tmp"
    mv "$tmp" "$repo/$f"
    echo "atelier-seed-models: $f"
done
