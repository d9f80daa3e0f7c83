#!/usr/bin/env bash
# Fetches the JavaScript the web interface uses that Debian does not ship in a working form:
# xterm.js (Debian 12's libjs-xterm 3.8.1 holds only a CommonJS stub: `require("./public/Terminal")`,
# unusable in a browser). The exact version is pinned with the npm registry's SHA-512 integrity
# value and fetched with npm from the registry the machine's npm is configured with (npm comes from
# Debian when the machine has none). noVNC comes from Debian (package novnc).
# Result: CACHE/web/xterm/{xterm.js,xterm.css,LICENSE,VERSION}, CACHE = $CLOISON_CACHE or
# ~/.cache/cloison; cloisond serves it at /ui/vendor/xterm/. Idempotent; works offline once cached.
set -euo pipefail

PACKAGE=@xterm/xterm
VERSION=5.5.0
INTEGRITY=sha512-hqJHYaQb5OptNunnyAnkHyM8aCjZ1MEIDTQu1iIbbTD/xops91NB5yq1ZK/dC2JDbVWtF23zUtl9JE2NqwT87A==

cache=${CLOISON_CACHE:-$HOME/.cache/cloison}/web
out=$cache/xterm
if [ "$(cat "$out/VERSION" 2>/dev/null)" = "$PACKAGE@$VERSION" ] && [ -s "$out/xterm.js" ]; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "web-fetch: installing npm (Debian) to fetch $PACKAGE@$VERSION" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends npm >/dev/null
fi
mkdir -p "$cache"
tmp=$(mktemp -d "$cache/fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$PACKAGE@$VERSION" >/dev/null 2>"$tmp/npm.log") || {
  cat "$tmp/npm.log" >&2
  echo "web-fetch: npm could not fetch $PACKAGE@$VERSION" >&2
  exit 1
}
tgz=$(ls "$tmp"/*.tgz)
got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
if [ "$got" != "$INTEGRITY" ]; then
  echo "web-fetch: $PACKAGE@$VERSION: checksum mismatch (got $got, pinned $INTEGRITY)" >&2
  exit 1
fi
mkdir -p "$tmp/x" "$tmp/out"
tar -xzf "$tgz" -C "$tmp/x" package/lib/xterm.js package/css/xterm.css package/LICENSE
cp "$tmp/x/package/lib/xterm.js" "$tmp/x/package/css/xterm.css" "$tmp/x/package/LICENSE" "$tmp/out/"
echo "$PACKAGE@$VERSION" > "$tmp/out/VERSION"
rm -rf "$out.old"
[ -d "$out" ] && mv "$out" "$out.old"
mv "$tmp/out" "$out"
rm -rf "$out.old"
echo "web-fetch: $PACKAGE@$VERSION (checksum verified) in $out" >&2
