#!/bin/sh
# The browser tests of Atelier Studio (tests/web/*.test.mjs): installs the
# pinned playwright-core from package-lock.json (npm ci), then runs every
# file with Node's own runner against $BUILD/atelier (default build/) and
# Debian's chromium. node --test prints TAP ending in "# pass N", "# fail N"
# and "# skipped N", which tests/run.sh adds to its summary. Without a
# chromium the tests skip, saying so; without node or npm this fails.
cd "$(dirname "$0")" || exit 1
BUILD=$(cd ../.. && cd "${BUILD:-build}" && pwd) || exit 1
export BUILD
for tool in node npm; do
    if ! command -v $tool >/dev/null 2>&1; then
        echo "tests/web: $tool is missing: run tools/install-deps.sh (Debian's nodejs and npm)"
        exit 1
    fi
done
if [ ! -x /usr/bin/chromium ] && [ -z "${CHROMIUM:-}" ]; then
    echo "tests/web: no chromium: the browser tests skip (tools/install-deps.sh installs it)"
fi
if ! npm ci --no-audit --no-fund --loglevel=error >npm.log 2>&1; then
    cat npm.log
    echo "tests/web: npm ci failed (no network to the npm registry?)"
    exit 1
fi
rm -f npm.log
exec node --test ./*.test.mjs
