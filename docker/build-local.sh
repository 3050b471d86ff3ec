#!/bin/sh
# docker/build-local.sh: builds the atelier image without a Docker engine.
#
#   1. Makes a Debian 12 base image with debootstrap (bookworm, minbase) from
#      the Debian mirror apt uses on this machine, and imports it with podman
#      as docker.io/library/debian:bookworm, plus a trimmed copy (no docs,
#      man pages or locales, and a dpkg filter that keeps them out) as
#      docker.io/library/debian:bookworm-slim. The debootstrap rootfs is
#      cached as a tarball in $ATELIER_IMAGE_BUILD (default build-image/,
#      beside build/ so that `make clean` keeps it), and a rerun skips it.
#   2. Builds docker/Dockerfile with buildah (chroot isolation, vfs storage,
#      never pulling), tagged localhost/atelier:latest (or $ATELIER_IMAGE).
#
# Everything comes from Debian's packages: buildah, podman and debootstrap
# are installed with apt-get when missing (as root). The same Dockerfile
# builds with `docker build -f docker/Dockerfile .` where an engine runs.
#
# Environment: ATELIER_IMAGE (tag), ATELIER_IMAGE_BUILD (cache folder),
# ATELIER_DEBIAN_MIRROR (overrides the mirror found in apt's sources),
# ATELIER_REBASE=1 (re-import the base images even if they exist).
set -eu
cd "$(dirname "$0")/.."
IMAGE=${ATELIER_IMAGE:-localhost/atelier:latest}
OUT=${ATELIER_IMAGE_BUILD:-build-image}
STORE="--storage-driver vfs"
BASE=docker.io/library/debian

say() { echo "build-local: $*" >&2; }

need_tools() {
    missing=""
    for t in buildah:buildah podman:podman debootstrap:debootstrap; do
        command -v "${t%%:*}" >/dev/null 2>&1 || missing="$missing ${t#*:}"
    done
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" != 0 ]; then
        say "missing Debian packages; run as root: apt-get install -y$missing"
        exit 1
    fi
    say "installing$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >&2
}

# Makes $OUT/debian-bookworm-minbase.tar unless it is there already
# (tools/debian-rootfs.sh: debootstrap, apt sources as the official image).
make_rootfs_tar() {
    tools/debian-rootfs.sh "$OUT/debian-bookworm-minbase.tar"
}

# The slim variant: the same rootfs without docs, man pages and locales, and
# a dpkg filter so packages installed later leave them out too (as the
# official slim images do).
make_slim_tar() {
    slim=$OUT/debian-bookworm-slim.tar
    [ -s "$slim" ] && [ "$slim" -nt "$OUT/debian-bookworm-minbase.tar" ] && return 0
    root=$OUT/rootfs-slim
    rm -rf "$root"
    mkdir -p "$root"
    tar -C "$root" -xf "$OUT/debian-bookworm-minbase.tar"
    cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'CONF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
CONF
    find "$root/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
    find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "$root"/usr/share/man/* "$root"/usr/share/groff/* "$root"/usr/share/info/* \
        "$root"/usr/share/lintian/* "$root"/usr/share/linda/*
    find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
    tar --numeric-owner --xattrs -C "$root" -cf "$slim.tmp" .
    mv "$slim.tmp" "$slim"
    rm -rf "$root"
}

import_base() {
    tag=$1 file=$2
    if [ "${ATELIER_REBASE:-0}" != 1 ] && podman $STORE image exists "$BASE:$tag"; then
        return 0
    fi
    say "podman import $file as $BASE:$tag"
    podman $STORE import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["bash"]' \
        "$file" "$BASE:$tag" >/dev/null
}

need_tools
mkdir -p "$OUT"
if [ "${ATELIER_REBASE:-0}" = 1 ] || ! podman $STORE image exists "$BASE:bookworm" ||
   ! podman $STORE image exists "$BASE:bookworm-slim"; then
    make_rootfs_tar
    make_slim_tar
    import_base bookworm "$OUT/debian-bookworm-minbase.tar"
    import_base bookworm-slim "$OUT/debian-bookworm-slim.tar"
fi

say "buildah bud -f docker/Dockerfile -t $IMAGE"
start=$(date +%s)
# --format docker keeps HEALTHCHECK, which the OCI image config has no field for.
buildah $STORE bud --isolation chroot --pull=never --format docker --layers=false \
    -f docker/Dockerfile -t "$IMAGE" .
end=$(date +%s)
size=$(podman $STORE image inspect --format '{{.Size}}' "$IMAGE")
say "built $IMAGE in $((end - start)) s; size $((size / 1000000)) MB ($size bytes)"
