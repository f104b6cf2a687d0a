#!/usr/bin/env bash
# Formatting: Prettier for the TypeScript and JavaScript, clang-format (.clang-format) for
# the C++ and BPF C. `check` fails on any file that is not as they write it; `write`
# rewrites them. Files named in .format-pending are passed over: they predate the
# formatters, and the one reformat commit that formats them empties that list.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-check}

pending=$(mktemp)
trap 'rm -f "$pending"' EXIT
grep -v '^#' .format-pending | grep . > "$pending" || true

prettier=(npx --no-install prettier --ignore-path .gitignore --ignore-path .format-pending)
js=('lib/**/*.ts' 'test/**/*.js' 'bin/*.js' 'bench/**/*.js' 'examples/**/*.js' 'scripts/**/*.js' 'esm/*.mjs' 'esm/*.d.mts' '*.mjs')
# Tracked and new files alike, as they are in the working tree.
mapfile -t native < <(git ls-files -co --exclude-standard 'native/*.cc' 'native/*.h' 'native/*.c' 'test/native/*.cc' 'test/native/*.c' 'bench/*.c' |
  while read -r f; do [ -f "$f" ] && echo "$f"; done | grep -vxF -f "$pending" || true)

command -v clang-format >/dev/null || { echo "format: clang-format is not installed (apt-get install clang-format)" >&2; exit 1; }
if [ "$mode" = write ]; then
  "${prettier[@]}" --log-level warn --write "${js[@]}"
  [ "${#native[@]}" -eq 0 ] || clang-format -i "${native[@]}"
else
  status=0
  "${prettier[@]}" --log-level warn --check "${js[@]}" || status=1
  [ "${#native[@]}" -eq 0 ] || clang-format --dry-run --Werror "${native[@]}" || status=1
  [ "$status" -eq 0 ] || echo "format: run npm run format to rewrite these files" >&2
  exit "$status"
fi
