#!/bin/sh
# Lints openapi.yaml with Redocly CLI, the version pinned in
# tools/openapi/package-lock.json (installed there with `npm ci` on first
# use, and again when the lockfile changes). Runs on Debian 12's own nodejs
# (18) and npm (9), which tools/install-deps.sh installs, and on newer ones;
# needs the npm registry the first time. Exit status non-zero when the
# document is invalid or the rules in tools/openapi/redocly.yaml fail.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/tools/openapi"
for t in node npm; do
    command -v $t >/dev/null 2>&1 ||
        { echo "lint-openapi: $t not found (tools/install-deps.sh installs Debian's nodejs and npm)" >&2; exit 1; }
done
node -e 'const [a, b] = process.versions.node.split(".").map(Number);
         process.exit(a > 18 || (a === 18 && b >= 17) ? 0 : 1)' ||
    { echo "lint-openapi: Node.js $(node --version) is too old (Redocly CLI 1.x needs 18.17)" >&2; exit 1; }
if [ ! -x "$dir/node_modules/.bin/redocly" ] ||
   [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    # --loglevel=error: npm 9.2 (Debian 12) warns that Redocly asks for npm
    # 9.5; the lockfile installs and the lint runs the same with it.
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >&2
fi
exec "$dir/node_modules/.bin/redocly" lint --config "$dir/redocly.yaml" "$root/openapi.yaml"
