#!/usr/bin/env bash
# npm run shellcheck: ShellCheck over every shell script in the repository, the files
# named *.sh and those whose first line runs a shell (.ci/run), tracked or new.
# Settings, and why any check is off, in .shellcheckrc.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v shellcheck >/dev/null || { echo "shellcheck: not installed (apt-get install shellcheck)" >&2; exit 1; }
mapfile -t scripts < <(git ls-files -co --exclude-standard | while read -r f; do
  [ -f "$f" ] || continue
  case $f in
    *.sh) echo "$f" ;;
    *) head -n1 "$f" 2>/dev/null | grep -Eq '^#!.*[/ ](ba|da)?sh( |$)' && echo "$f" ;;
  esac
done)
shellcheck "${scripts[@]}"
