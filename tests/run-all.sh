#!/usr/bin/env bash
# Runs every test suite and ends with the plain summary line
# "N passed, N failed" (Meson's own summary is not one CI recognizes).
#   1. all suites (unit, diff, integration) on the regular build;
#   2. unit and diff suites again on an ASan+UBSan build (build-san);
#   3. the libFuzzer harnesses, a few seconds each, on a clang build (build-fuzz).
# Each suite (each integration test: they take one to two minutes each) says when it starts and
# how long it took, so a long run is never silent for more than one test.
set -uo pipefail
build=${1:-build}
san=${SAN_BUILD:-build-san}
fuzz=${FUZZ_BUILD:-build-fuzz}
status=0
build_failures=0 # a build that fails counts as a failed suite in the summary
started=$SECONDS
logs=()

duration() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# run_suite LABEL BUILD_DIR LOGBASE MESON_TEST_ARGS...: one `meson test` with its own log.
run_suite() {
  local label=$1 dir=$2 base=$3 t0=$SECONDS
  shift 3
  echo "=== $label: started at $(date +%H:%M:%S) ($(duration $((SECONDS - started))) into the run)"
  rm -f "$dir/meson-logs/$base.json"
  meson test -C "$dir" --print-errorlogs --logbase "$base" "$@" || status=1
  logs+=("$dir/meson-logs/$base.json")
  echo "=== $label: finished in $(duration $((SECONDS - t0)))"
}

run_suite "unit tests" "$build" unit --suite unit
run_suite "differential tests (against qemu-riscv64)" "$build" diff --suite diff
integration=$(meson test -C "$build" --list --suite integration 2>/dev/null | sed -n 's|^.*:integration / ||p')
[ -n "$integration" ] || { echo "no integration tests listed in $build"; build_failures=$((build_failures + 1)); }
for t in $integration; do
  run_suite "integration test $t" "$build" "integration-$t" "$t"
done

if [ -z "${CLOISON_NO_SANITIZERS:-}" ]; then
  if [ ! -f "$san/build.ninja" ]; then
    meson setup "$san" -Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false \
      ${CI:+-Dwerror=true} >/dev/null || status=1
  fi
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  echo "=== building the ASan+UBSan build ($san) at $(date +%H:%M:%S)"
  if ninja -C "$san" >/dev/null; then
    run_suite "unit and differential tests under ASan+UBSan" "$san" san --suite unit --suite diff
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
  echo "=== building the libFuzzer build ($fuzz) at $(date +%H:%M:%S)"
  if ninja -C "$fuzz" >/dev/null; then
    run_suite "fuzz harnesses" "$fuzz" fuzz --suite fuzz
  else
    ninja -C "$fuzz" 2>&1 | grep -E "error" | head -20
    status=1 build_failures=$((build_failures + 1))
  fi
fi

echo "=== all suites: $(duration $((SECONDS - started)))"
python3 - "$build_failures" "${logs[@]}" <<'PY'
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
