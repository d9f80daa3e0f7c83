#!/usr/bin/env bash
# Runs every test suite and ends with the plain summary line
# "N passed, N failed" (Meson's own summary is not one CI recognizes).
#   1. all suites (unit, diff, integration) on the regular build;
#   2. unit and diff suites again on an ASan+UBSan build (build-san);
#   3. the libFuzzer harnesses, a few seconds each, on a clang build (build-fuzz).
set -uo pipefail
build=${1:-build}
san=${SAN_BUILD:-build-san}
fuzz=${FUZZ_BUILD:-build-fuzz}
status=0
build_failures=0 # a build that fails counts as a failed suite in the summary

meson test -C "$build" --print-errorlogs || status=1

if [ -z "${CLOISON_NO_SANITIZERS:-}" ]; then
  if [ ! -f "$san/build.ninja" ]; then
    meson setup "$san" -Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false \
      ${CI:+-Dwerror=true} >/dev/null || status=1
  fi
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  if ninja -C "$san" >/dev/null; then
    meson test -C "$san" --print-errorlogs --suite unit --suite diff || status=1
  else
    ninja -C "$san" 2>&1 | grep -E "error" | head -20
    status=1 build_failures=$((build_failures + 1))
  fi
fi

if [ -z "${CLOISON_NO_FUZZ:-}" ]; then
  if [ ! -f "$fuzz/build.ninja" ]; then
    CC=clang meson setup "$fuzz" -Dfuzz=true -Dbuildtype=debugoptimized -Db_sanitize=address,undefined \
      -Db_lundef=false >/dev/null || status=1
  fi
  if ninja -C "$fuzz" >/dev/null; then
    meson test -C "$fuzz" --print-errorlogs --suite fuzz || status=1
  else
    ninja -C "$fuzz" 2>&1 | grep -E "error" | head -20
    status=1 build_failures=$((build_failures + 1))
  fi
fi

python3 - "$build_failures" "$build/meson-logs/testlog.json" "$san/meson-logs/testlog.json" "$fuzz/meson-logs/testlog.json" <<'PY'
import json, os, sys
passed = skipped = 0
failed = int(sys.argv[1])
for path in sys.argv[2:]:
    if not os.path.exists(path):
        continue
    for line in open(path):
        r = json.loads(line)["result"]
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
if passed + failed == 0:
    failed = 1
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
PY
exit $status
