#!/usr/bin/env bash
# Writes a man page from a program's own --help and --version (help2man), so the pages never drift
# from the help texts.
# Usage: mkman.sh PROGRAM SECTION OUT "ONE-LINE DESCRIPTION" [VERB]
#   with VERB, the page is `cloison-VERB` from `PROGRAM VERB --help`.
set -euo pipefail
prog=$1 section=$2 out=$3 what=$4 verb=${5:-}
name=$(basename "$prog")
see_also=$(mktemp)
trap 'rm -f "$see_also"' EXIT
{
  echo "[SEE ALSO]"
  pages=".BR cloison (1), .BR cloisond (8)"
  for v in run create snapshot clone migrate limits disk net ct pool volume cluster ha lb; do
    pages+=", .BR cloison-$v (1)"
  done
  echo "$pages" | sed 's/, /\n/g' | sed 's/^\(\.BR [^ ]*\) (\([18]\))$/\1 (\2),/' | sed '$ s/,$//'
  echo
  echo "The README and docs/ of the source tree describe the formats and the API."
} > "$see_also"
help_option=--help
[ -n "$verb" ] && help_option="$verb --help"
help2man --no-info --no-discard-stderr --section "$section" --name "$what" \
  --help-option "$help_option" --version-option --version --include "$see_also" "$prog" > "$out.part"
if [ -n "$verb" ]; then # the page of a verb is named after it: cloison-run(1)
  upper=$(echo "$name-$verb" | tr a-z A-Z)
  sed -i -e "s/^\.TH [A-Z]* /.TH $upper /" -e "/^\.SH NAME/{n;s/^$name /$name-$verb /}" "$out.part"
fi
mv "$out.part" "$out"
