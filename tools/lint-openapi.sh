#!/bin/sh
# Lints openapi.yaml with Redocly CLI, the version pinned in
# tools/openapi/package-lock.json (installed there with `npm ci` on first
# use; needs node >= 20.19 and the npm registry). Exit status non-zero when
# the document is invalid or the rules in tools/openapi/redocly.yaml fail.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/tools/openapi"
command -v npm >/dev/null 2>&1 || { echo "lint-openapi: npm not found (install Node.js >= 20.19)" >&2; exit 1; }
if [ ! -x "$dir/node_modules/.bin/redocly" ] ||
   [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >&2
fi
exec "$dir/node_modules/.bin/redocly" lint --config "$dir/redocly.yaml" "$root/openapi.yaml"
