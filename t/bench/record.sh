# t/bench/record.sh: sourced by the benchmark scripts.
#
#   bench_record NAME TABLE   put TABLE between <!-- NAME:start --> and
#                             <!-- NAME:end --> in docs/BENCHMARKS.md
#                             (if the markers are there), replacing what
#                             stood between them; uses $TMP
bench_record() {
	local name=$1 table=$2 doc=docs/BENCHMARKS.md
	grep -q "<!-- $name:start -->" "$doc" 2>/dev/null || return 0
	awk -v t="$table" -v s="<!-- $name:start -->" -v e="<!-- $name:end -->" '
	index($0, s) { print; print t; skip = 1; next }
	index($0, e) { skip = 0 }
	!skip' "$doc" >"$TMP/doc" && cat "$TMP/doc" >"$doc"
	echo "bench: recorded in $doc"
}
