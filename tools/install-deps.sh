#!/bin/sh
# Installs the Debian 12 packages Atelier needs to build and test, and any
# further packages named as arguments (CI adds clang and its sanitizer and
# fuzzer runtimes). As root it runs apt-get; with sudo it uses sudo;
# otherwise it prints the exact command and fails.
set -e
# One need a line: add a package to its line, or a line for a new need.
PKGS="gcc make pkg-config"                                          # the build
PKGS="$PKGS libopenblas-dev libturbojpeg0-dev libjpeg62-turbo-dev libpng-dev"
PKGS="$PKGS libjansson-dev libmicrohttpd-dev"                       # the service
PKGS="$PKGS libcmocka-dev libcurl4-openssl-dev"                     # the C tests
PKGS="$PKGS chromium"                                               # browser tests (tests/web)
PKGS="$PKGS yamllint"                                               # tools/lint-yaml.sh
# node and npm (the contract lint, tools/lint-openapi.sh, and the browser
# tests) from Debian, unless a node and an npm are on PATH already (e.g.
# nodesource's nodejs, which carries its npm: Debian's npm would not install
# beside it).
command -v node >/dev/null 2>&1 || PKGS="$PKGS nodejs"
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"
PKGS="$PKGS $*"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo"
else
    echo "atelier: missing Debian packages. Run as root:" >&2
    echo "  apt-get update && apt-get install -y$missing" >&2
    exit 1
fi
echo "atelier: installing$missing" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >&2
