#!/usr/bin/env bash
# bench.sh: run the benchmarks of the given packages (default: every
# package with one) COUNT times each (default 3) and print, per benchmark
# and unit, the median of the runs, then the machine. BENCHMARKS.md is
# made from its output.
#
#   scripts/bench.sh                         # every benchmark, 3 runs
#   COUNT=5 scripts/bench.sh ./webhook/       # one package, 5 runs
#   MESD_BENCH_SMALL=1 BENCHTIME=1x scripts/bench.sh   # a smoke run
#
# Raw output is kept in ${BENCHOUT:-/tmp/mesd-bench.txt}.
set -u
cd "$(dirname "$0")/.." || exit 2
count=${COUNT:-3}
benchtime=${BENCHTIME:-1s}
out=${BENCHOUT:-/tmp/mesd-bench.txt}
pkgs=("$@")
if [ ${#pkgs[@]} -eq 0 ]; then
	mapfile -t pkgs < <(grep -rl --include='*_test.go' '^func Benchmark' . | xargs -n1 dirname | sort -u)
fi
: > "$out"
for p in "${pkgs[@]}"; do
	go test -run '^$' -bench . -benchtime "$benchtime" -count "$count" "$p" | tee -a "$out" | grep -E '^(pkg:|FAIL|---)' >&2
done
# Median per benchmark and unit; the -N GOMAXPROCS suffix is kept.
awk '
/^pkg:/ { pkg = $2 }
/^Benchmark/ {
	for (i = 3; i + 1 <= NF; i += 2) {
		k = pkg " " $1 " " $(i + 1)
		if (!(k in n)) { order[++keys] = k }
		v[k, ++n[k]] = $i
	}
}
END {
	for (j = 1; j <= keys; j++) {
		k = order[j]; m = n[k]
		for (a = 1; a <= m; a++) s[a] = v[k, a] + 0
		for (a = 2; a <= m; a++) { x = s[a]; b = a - 1; while (b >= 1 && s[b] > x) { s[b + 1] = s[b]; b-- } s[b + 1] = x }
		med = (m % 2) ? s[(m + 1) / 2] : (s[m / 2] + s[m / 2 + 1]) / 2
		split(k, f, " ")
		printf "%-45s %-60s %14.6g %s (median of %d)\n", f[1], f[2], med, f[3], m
	}
}' "$out"
echo
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ //'), $(go version), load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
