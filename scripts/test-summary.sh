#!/usr/bin/env bash
# Usage: scripts/test-summary.sh <results-dir>
# Adds up the TRX files that `dotnet test --logger trx` wrote under <results-dir> and prints one final
# line: `Tests: N passed, M failed` (+ `, K skipped` when K > 0). Exits non-zero when M > 0 or no TRX
# file was found.
#
# What the TRX files hold (VSTest TRX logger, xunit 2.9 + xunit.runner.visualstudio 3.1):
#   <Counters total= executed= passed= failed= error= timeout= aborted= inconclusive= ...
#             notExecuted= .../>
#   A skipped xunit test is a <UnitTestResult outcome="NotExecuted"> that counts in `total` but not in
#   `executed`, while the `notExecuted` counter stays 0: skipped = total - executed (or notExecuted if
#   larger). failed = failed + error + timeout + aborted.
#   A crashed or hang-killed test host leaves all counters at 0 with <ResultSummary outcome="Failed">:
#   such a run counts as one failure so the summary never reads as green.
set -euo pipefail

dir=${1:?usage: $0 <results-dir>}

files=()
if [[ -d $dir ]]; then
  while IFS= read -r -d '' f; do files+=("$f"); done < <(find "$dir" -type f -name '*.trx' -print0 | sort -z)
fi
if ((${#files[@]} == 0)); then
  echo "test-summary: no .trx file under ${dir}" >&2
  echo "Tests: 0 passed, 0 failed"
  exit 1
fi

attr() { # attr <tag-text> <name>: the value of an integer attribute, 0 when absent
  local v
  v=$(sed -n "s/.* $2=\"\([0-9]*\)\".*/\1/p" <<<"$1")
  echo "${v:-0}"
}

passed=0 failed=0 skipped=0
for f in "${files[@]}"; do
  counters=$(grep -o '<Counters [^>]*>' "$f" | head -n 1 || true)
  outcome=$(grep -o '<ResultSummary [^>]*>' "$f" | head -n 1 | sed -n 's/.* outcome="\([^"]*\)".*/\1/p' || true)
  if [[ -z $counters ]]; then
    echo "test-summary: ${f}: no <Counters> element (truncated file?), counted as 1 failure" >&2
    failed=$((failed + 1))
    continue
  fi
  total=$(attr "$counters" total)
  executed=$(attr "$counters" executed)
  p=$(attr "$counters" passed)
  fl=$(($(attr "$counters" failed) + $(attr "$counters" error) + $(attr "$counters" timeout) + $(attr "$counters" aborted)))
  s=$((total - executed))
  ne=$(attr "$counters" notExecuted)
  ((ne > s)) && s=$ne
  ((s < 0)) && s=0
  case $outcome in
    Completed | Passed | Warning | Inconclusive | '') ;;
    *)
      if ((fl == 0)); then
        echo "test-summary: ${f}: run outcome '${outcome}' with no failed test (test host crashed or was killed on a hang), counted as 1 failure" >&2
        fl=1
      fi
      ;;
  esac
  passed=$((passed + p))
  failed=$((failed + fl))
  skipped=$((skipped + s))
done

line="Tests: ${passed} passed, ${failed} failed"
((skipped > 0)) && line+=", ${skipped} skipped"
echo "$line"
((failed == 0))
