#!/bin/sh
# Test runner: runs every unit test binary (build/tests/test_*) and every
# shell test (tests/t_*.sh).  Each prints lines "ok NAME", "not ok NAME: why"
# or "skip NAME: why"; a program that exits non-zero without a "not ok" line
# counts as one failure.  Ends with "N passed, N failed, N skipped" and exits
# non-zero on any failure.  TESTS="pattern ..." restricts to names matching
# any of the patterns; TESTDIR (default build/tests) holds the test programs.
cd "$(dirname "$0")/.." || exit 2
pass=0 fail=0 skip=0
out=$(mktemp) || exit 2
trap 'rm -f "$out"' EXIT
for t in "${TESTDIR:-build/tests}"/test_* tests/t_*.sh; do
	[ -e "$t" ] || continue
	case "$t" in *.c|*.o|*.d) continue ;; esac
	if [ -n "${TESTS:-}" ]; then
		m=
		for pat in $TESTS; do
			case "$t" in *$pat*) m=1 ;; esac
		done
		[ -n "$m" ] || continue
	fi
	case "$t" in
	*.sh) timeout 900 sh "$t" >"$out" 2>&1 ;;
	*) timeout 900 "./$t" >"$out" 2>&1 ;;
	esac
	rc=$?
	p=$(grep -c '^ok ' "$out")
	f=$(grep -c '^not ok ' "$out")
	s=$(grep -c '^skip ' "$out")
	grep -E '^(not ok|skip) ' "$out" | sed "s|^|$(basename "$t"): |"
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "$(basename "$t"): not ok: exited with status $rc"
		tail -n 5 "$out" | sed 's/^/    /'
		f=1
	fi
	echo "$(basename "$t"): $p ok, $f failed, $s skipped"
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
done
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
