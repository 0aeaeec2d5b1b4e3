#!/usr/bin/env bash
# A/B ingest with and without the reconciler (issue 9), on shared cores:
# each variant of internal/xref's BenchmarkIngest runs in its own process,
# the order rotated every round, and each variant's events/s is divided by
# the same round's run of the first variant (the baseline). Prints every
# run with the load average, then the median ratio per variant.
#
#   scripts/ab-ingest.sh ROUNDS EVENTS BASELINE VARIANT...
#   scripts/ab-ingest.sh 11 400000 mapped/no-reconciler mapped/reconciler-maxbusy=50
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rounds=$1 n=$2
shift 2
vs=("$@")
k=${#vs[@]}
bin="$(mktemp -d)/xref.test"
GOTOOLCHAIN=local go test -c -o "$bin" ./internal/xref
out="$(mktemp)"
for ((r = 0; r < rounds; r++)); do
	for ((j = 0; j < k; j++)); do
		v=${vs[$(((j + r) % k))]}
		load=$(cut -d' ' -f1 /proc/loadavg)
		rate=$("$bin" -test.run '^$' -test.bench "Ingest/${v%%/*}\$/^${v#*/}\$" -test.benchtime "${n}x" |
			awk '/^BenchmarkIngest/ { for (i = 1; i < NF; i++) if ($(i+1) == "events/s") print $i }')
		echo "round=$r load=$load variant=$v events/s=$rate" | tee -a "$out"
	done
done
# Per round, each variant ÷ the baseline of that round; median per variant.
awk -v base="${vs[0]}" '
	{ r = $1; v = $3; e = $4; sub(/^round=/, "", r); sub(/^variant=/, "", v); sub(/^events\/s=/, "", e); rate[r, v] = e; rounds[r] = 1; names[v] = 1 }
	END {
		for (v in names) {
			if (v == base) continue
			m = 0
			for (r in rounds) if (rate[r, base] > 0 && rate[r, v] > 0) x[++m] = rate[r, v] / rate[r, base]
			for (i = 2; i <= m; i++) for (j = i; j > 1 && x[j-1] > x[j]; j--) { t = x[j]; x[j] = x[j-1]; x[j-1] = t }
			med = (m % 2) ? x[(m + 1) / 2] : (x[m / 2] + x[m / 2 + 1]) / 2
			printf "%s ÷ %s: median %.3f over %d rounds (min %.3f, max %.3f)\n", v, base, med, m, x[1], x[m]
			delete x
		}
	}' "$out"
rm -f "$out"
