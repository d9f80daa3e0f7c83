#!/usr/bin/env bash
# format.sh — every C file tracked under the source tree is formatted as
# .clang-format says (clang-format --dry-run --Werror); lists the ones that
# are not. `make format` fixes them.
set -euo pipefail
root=${1:?usage: format.sh SOURCE_ROOT}
cd "$root"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files '*.c' '*.h')
else
  mapfile -t files < <(find src tests tools bench -name '*.[ch]')
fi
[ ${#files[@]} -gt 0 ] || { echo "no C files found under $root"; exit 1; }
bad=$(clang-format --dry-run --Werror "${files[@]}" 2>&1 | grep -oE '^[^:]+\.[ch]' | sort -u || true)
if [ -n "$bad" ]; then
  echo "not formatted (run make format):"
  echo "$bad"
  exit 1
fi
echo "${#files[@]} files formatted as .clang-format says"
