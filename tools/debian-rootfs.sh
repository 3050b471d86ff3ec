#!/bin/sh
# tools/debian-rootfs.sh TAR: makes TAR, a Debian 12 (bookworm) root file
# system made by `debootstrap --variant=minbase`, with apt's sources as the
# official image has them (release, updates, security) and no package lists,
# caches, logs or device nodes. A TAR that exists already is kept (it is the
# cache: the caller removes it to make a new one). Used by
# docker/build-local.sh (the image's base) and tools/fresh-check.sh.
#
# The mirror is the first plain Debian archive in this machine's apt sources
# (not -security), else http://deb.debian.org/debian; ATELIER_DEBIAN_MIRROR
# overrides it. Needs root and debootstrap.
set -eu
tar_file=${1:?usage: tools/debian-rootfs.sh OUT.tar}
[ -s "$tar_file" ] && exit 0

say() { echo "debian-rootfs: $*" >&2; }

find_mirror() {
    if [ -n "${ATELIER_DEBIAN_MIRROR:-}" ]; then
        echo "$ATELIER_DEBIAN_MIRROR"
        return
    fi
    m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
            /etc/apt/sources.list.d/*.sources 2>/dev/null |
        awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }
             /^deb[ \t]/ { for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) { print $i; break } }' |
        grep -E '/debian/?$' | head -n 1 || true)
    echo "${m:-http://deb.debian.org/debian}"
}

command -v debootstrap >/dev/null 2>&1 || {
    say "debootstrap is missing; as root: apt-get install -y debootstrap"
    exit 1
}
mirror=$(find_mirror)
out=$(dirname "$tar_file")
root=$tar_file.root
mkdir -p "$out"
rm -rf "$root"
mkdir -p "$root"
say "debootstrap --variant=minbase bookworm from $mirror (a few minutes, once)"
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$tar_file.log" 2>&1 || {
    tail -n 20 "$tar_file.log" >&2
    rm -rf "$root"
    exit 1
}
rm -f "$root/etc/apt/sources.list"
cat >"$root/etc/apt/sources.list.d/debian.sources" <<SRC
Types: deb
URIs: ${mirror%/}
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/}-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
# No caches or package lists in an image; no translations fetched.
cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'CONF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CONF
echo 'Acquire::Languages "none";' >"$root/etc/apt/apt.conf.d/docker-no-languages"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
    "$root"/var/cache/apt/archives/*.deb "$root"/var/log/* "$root"/tmp/*
find "$root/dev" -mindepth 1 -delete
: >"$root/etc/hostname"
tar --numeric-owner --xattrs -C "$root" -cf "$tar_file.tmp" .
mv "$tar_file.tmp" "$tar_file"
rm -rf "$root"
