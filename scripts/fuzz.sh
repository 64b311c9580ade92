#!/usr/bin/env bash
# fuzz.sh: run every fuzz target of the module for FUZZTIME each (default
# 30s), one target per `go test -fuzz` call (go test fuzzes one target at a
# time). Exits 1 if any target fails: go test then writes the crashing input
# under <package>/testdata/fuzz/<Target>/, where it stays as a regression
# case in the seed corpus that every `go test` run replays. Fix the bug,
# keep the file, commit both.
#
#   scripts/fuzz.sh                    # every target, 30s each
#   FUZZTIME=3s scripts/fuzz.sh        # a quick pass
#   scripts/fuzz.sh ./webhook/...      # only these packages
#
# Not part of .ci/run: CI replays the seed corpora in `go test` instead.
# FUZZPARALLEL sets -parallel (default: go test's, GOMAXPROCS).
set -u
cd "$(dirname "$0")/.." || exit 2

fuzztime=${FUZZTIME:-30s}
patterns=("$@")
[ ${#patterns[@]} -eq 0 ] && patterns=(./...)
parallel=()
[ -n "${FUZZPARALLEL:-}" ] && parallel=(-parallel "$FUZZPARALLEL")

pkgs=$(go list "${patterns[@]}") || exit 2
targets=()
for pkg in $pkgs; do
	# -list prints the matching names, then "ok <pkg> <time>".
	if ! listing=$(go test -list '^Fuzz' "$pkg" 2>&1); then
		echo "fuzz.sh: listing the fuzz targets of $pkg failed:" >&2
		echo "$listing" >&2
		exit 2
	fi
	names=$(grep -E '^Fuzz[A-Za-z0-9_]*$' <<<"$listing") || true
	for name in $names; do
		targets+=("$pkg $name")
	done
done
if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz.sh: no fuzz targets in ${patterns[*]}" >&2
	exit 2
fi
echo "fuzz.sh: ${#targets[@]} targets, ${fuzztime} each"

failed=()
start=$(date +%s)
for t in "${targets[@]}"; do
	pkg=${t% *}
	name=${t#* }
	echo "=== $pkg $name"
	if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "${parallel[@]}" "$pkg"; then
		failed+=("$pkg $name")
	fi
done
echo "fuzz.sh: ${#targets[@]} targets in $(( $(date +%s) - start ))s"

new=$(git status --porcelain --untracked-files=all -- '*testdata/fuzz/*' 2>/dev/null)
if [ -n "$new" ]; then
	echo "fuzz.sh: new inputs under testdata/fuzz (keep them once fixed):"
	echo "$new"
fi
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz.sh: FAILED:"
	printf '  %s\n' "${failed[@]}"
	exit 1
fi
echo "fuzz.sh: no crasher"
