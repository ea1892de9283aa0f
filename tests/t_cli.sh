#!/bin/sh
# t_cli.sh - conventions every command shares (cmd/cli.c, lib/io.c's
# outputs): outputs named by another name of stdout or stderr, closed
# standard descriptors, stdout that is an input, names too long, binary
# output to a terminal by any name, strict sizes and numbers, option
# errors naming the option at fault, SOURCE_DATE_EPOCH.  A small random
# model (tool_mkmodel): no ../shared needed.
. tests/lib.sh
MK=build/tests/tool_mkmodel
M=$TMP/m.gguf
$MK "$M" 64 2 4 2 160 512 128 7 || { fail mkmodel "tool_mkmodel failed"; exit 1; }
cd "$TMP" || exit 1
sum0=$(cksum <"$M")

# ---- another name of stderr or stdout: written through, never replaced ----
printf 'old line\n' >run.log
llm-quant -t q8_0 --report /dev/stderr -o q.gguf "$M" 2>>run.log
rc=$?
if [ "$rc" -eq 0 ] && [ "$(head -n 1 run.log)" = "old line" ] && grep -q '^name	' run.log; then
	ok report_dev_stderr_appends
else
	fail report_dev_stderr_appends "exit $rc: $(head -c 200 run.log)"
fi
# the report and the GGUF on one stdout: refused before anything is written
llm-quant -q -t q8_0 --report /dev/stdout "$M" >o.gguf 2>err.txt
rc=$?
expect report_dev_stdout_with_gguf "$rc:$(wc -c <o.gguf | tr -d ' '):$(grep -c 'needs -o FILE' err.txt)" "2:0:1"
# binary output through stderr would mix the notices into the GGUF
llm-quant -t q8_0 -o /dev/stderr "$M" 2>bin.err >/dev/null
expect binary_to_stderr_refused "$?:$(grep -c 'names standard error' bin.err)" "2:1"
# -o naming the file stdout is redirected to: written through stdout
llm-quant -q --no-provenance -t q8_0 -o same.gguf "$M" >same.gguf
llm-quant -q --no-provenance -t q8_0 -o ref.gguf "$M"
if cmp -s same.gguf ref.gguf; then ok output_is_stdout_file; else fail output_is_stdout_file "differs"; fi

# ---- closed stdin/stdout: the temporary output never becomes fd 1 ----
llm-quant -q -t q8_0 --report - -o closed.gguf "$M" >&- 2>err.txt
rc=$?
if [ "$rc" -eq 1 ] && [ ! -e closed.gguf ] && grep -q "write error" err.txt; then ok closed_stdout; else
	fail closed_stdout "exit $rc, $(ls closed.gguf 2>&1), $(cat err.txt)"; fi
llm-info "$M" <&- >/dev/null 2>err.txt
expect closed_stdin_harmless "$?" 0

# ---- stdout that is an input: refused as cat refuses `cat f >> f` ----
cp "$M" c.gguf
llm-quant -q -t q8_0 c.gguf >>c.gguf 2>err.txt
rc=$?
if [ "$rc" -eq 2 ] && cmp -s c.gguf "$M" && grep -q "standard output is the input" err.txt; then
	ok stdout_appends_to_input
else
	fail stdout_appends_to_input "exit $rc: $(cat err.txt)"
fi
llm-run -q -n 2 -p hi --kv-out - c.gguf >>c.gguf 2>err.txt
rc=$?
if [ "$rc" -eq 2 ] && cmp -s c.gguf "$M"; then ok kv_out_stdout_is_model; else
	fail kv_out_stdout_is_model "exit $rc: $(cat err.txt)"; fi
llm-svd-delta -q -r 2 -o ad.gguf "$M" q.gguf || fail svd_delta "exit $?"
cp ad.gguf ad2.gguf
llm-lora-merge -q -o /dev/stdin "$M" - <ad2.gguf 2>err.txt
rc=$?
if [ "$rc" -eq 2 ] && cmp -s ad.gguf ad2.gguf; then ok output_dev_stdin_adapter; else
	fail output_dev_stdin_adapter "exit $rc: $(cat err.txt)"; fi

# stdin that is stdout's file: `llm-quant - < f >> f`, and --score,
# whose lines would never end
llm-quant -q -t q8_0 - <c.gguf >>c.gguf 2>err.txt
rc=$?
if [ "$rc" -eq 2 ] && cmp -s c.gguf "$M"; then ok stdout_appends_to_stdin_input; else
	fail stdout_appends_to_stdin_input "exit $rc: $(cat err.txt)"; fi
printf 'a\tb\n' >s.tsv
timeout 20 llm-run -q --score "$M" <s.tsv >>s.tsv 2>err.txt
rc=$?
if [ "$rc" -eq 2 ] && [ "$(wc -l <s.tsv)" -eq 1 ]; then ok score_stdout_is_stdin; else
	fail score_stdout_is_stdin "exit $rc, $(wc -l <s.tsv) lines: $(cat err.txt)"; fi
# /dev/null is no name of stdout, even when stdout is /dev/null
llm-quant -q -t q8_0 -o /dev/null --report - "$M" >/dev/null 2>err.txt
expect dev_null_output_and_stdout "$?:$(cat err.txt)" "0:"
llm-quant -q -t q8_0 -o /dev/null "$M" >&- 2>err.txt
expect dev_null_output_closed_stdout "$?:$(cat err.txt)" "0:"

# ---- a name past the file system's limit fails before the work ----
long=$(printf 'a%.0s' $(seq 300)).gguf
llm-quant -q -o "$long" "$M" 2>err.txt
rc=$?
if [ "$rc" -eq 1 ] && grep -q "File name too long" err.txt && [ "$(wc -l <err.txt)" -eq 1 ]; then
	ok name_too_long
else
	fail name_too_long "exit $rc: $(head -c 200 err.txt)"
fi
llm-quant -q -t q8_0 --report nodir/r.tsv -o x.gguf "$M" 2>err.txt
rc=$?
if [ "$rc" -eq 1 ] && grep -q "nodir/r.tsv" err.txt && [ ! -e x.gguf ]; then ok report_dir_missing; else
	fail report_dir_missing "exit $rc: $(cat err.txt)"; fi

# ---- binary output to a terminal, by any name ----
if command -v script >/dev/null 2>&1; then
	for o in /dev/stdout /dev/tty; do
		script -qec "llm-quant -q -o $o '$M'" /dev/null >tty.out 2>&1
		if grep -q "refusing to write binary output to a terminal" tty.out && ! grep -q GGUF tty.out; then
			ok "binary_tty_refused_$o"
		else
			fail "binary_tty_refused_$o" "$(head -c 120 tty.out)"
		fi
	done
	# a bar only for work that lasts a second, unless --progress asks;
	# blanks, not an escape sequence, clear a longer line
	script -qec "llm-quant -t f32 -o bar.gguf '$M'" /dev/null >tty.out 2>&1
	if grep -q '\[#' tty.out; then fail progress_short_job_quiet "$(head -c 120 tty.out)"; else ok progress_short_job_quiet; fi
	script -qec "llm-quant --progress -t f32 -o bar.gguf '$M'" /dev/null >tty.out 2>&1
	if grep -q '\[#*  *\] *[0-9]*%' tty.out && ! grep -q "$(printf '\033')" tty.out; then ok progress_forced; else
		fail progress_forced "$(head -c 120 tty.out | od -c | head -3)"; fi
else
	skip binary_tty_refused "no script(1) to make a terminal"
fi

# ---- sizes and numbers: decimal, the unit right after ----
for v in '1 ' '1 B' '0x10' ' 1K' '1KX' '-1'; do
	check_status 2 "size_refused_'$v'" llm-quant -q --merge --split-max-size "$v" -o sp.gguf "$M"
done
check_status 2 energy_hex_refused llm-svd-delta -q --energy 0x1p-1 -o sv.gguf "$M" q.gguf
check_status 0 size_units_accepted llm-quant -q --merge --split-max-size 1KiB -o sp.gguf "$M"

# ---- option errors name the option at fault ----
usage_says() {
	_n=$1 _w=$2; shift 2
	"$@" >/dev/null 2>err.txt
	_rc=$?
	if [ "$_rc" -eq 2 ] && grep -qF -- "$_w" err.txt; then ok "$_n"; else fail "$_n" "exit $_rc: $(cat err.txt)"; fi
}
usage_says opt_cluster_after_long "unknown option '-x'" llm-info --json -x.gguf
usage_says opt_cluster_first "unknown option '-Z'" llm-quant --pure -Zq "$M"
usage_says opt_cluster_last "unknown option '-Z'" llm-run -qZ "$M"
usage_says opt_missing_arg_cluster "option '-t' needs an argument" llm-run -qt
usage_says opt_ambiguous_builtin "option '--ver' is ambiguous" llm-run --ver "$M"
usage_says opt_flag_given_arg "option '--json' does not take an argument" llm-info --json=1 "$M"
expect list_options_lists_itself "$(llm-info --list-options | grep -c '^--list-options$')" 1

# ---- paths in text output: control bytes escaped, one line each ----
cp "$M" "$(printf 'new\nline.gguf')"
expect info_path_escaped "$(llm-info "$(printf 'new\nline.gguf')" | head -n 1)" 'file:     new\x0aline.gguf'

# ---- SOURCE_DATE_EPOCH: a malformed value is an error, not 1970 ----
for v in abc 99999999999999999999 ' 12' 12x -5; do
	SOURCE_DATE_EPOCH=$v llm-quant -q -o sde.gguf "$M" 2>err.txt
	rc=$?
	if [ "$rc" -eq 1 ] && [ ! -e sde.gguf ] && grep -q SOURCE_DATE_EPOCH err.txt; then ok "sde_refused_'$v'"; else
		fail "sde_refused_'$v'" "exit $rc: $(cat err.txt)"; fi
done
SOURCE_DATE_EPOCH=1700000000 llm-quant -q -o sde.gguf "$M"
expect sde_recorded "$(llm-info -p sde.gguf | head -n 1 | sed 's/.* at //')" 2023-11-14T22:13:20Z

# a weight beyond f16's range in a tensor no adapter touches, merged
# with -t f16: refused as llm-quant refuses it, naming the base
"${PYTHON:-python3}" - "$M" big.gguf "$OLDPWD/tests" <<'PY' || fail big_model "python failed"
import struct, sys
sys.path.insert(0, sys.argv[3])
import gguf_ref
g = gguf_ref.read(sys.argv[1])
t = [t for t in g["tensors"] if t["name"] == "blk.1.ffn_down.weight"][0]
assert t["type_name"] == "f32"
b = bytearray(open(sys.argv[1], "rb").read())
struct.pack_into("<f", b, g["data_offset"] + t["offset"] + 40, 1e6)
open(sys.argv[2], "wb").write(b)
PY
llm-svd-delta -q -r 2 --include 'attn_q' -o adq.gguf "$M" q.gguf 2>err.txt || fail svd_delta_q "$(cat err.txt)"
llm-lora-merge -q -t f16 -o bm.gguf big.gguf adq.gguf 2>err.txt
rc=$?
if [ "$rc" -eq 1 ] && [ ! -e bm.gguf ] && grep -q "big.gguf: tensor blk.1.ffn_down.weight: a value of magnitude 1e+06 becomes inf in f16" err.txt; then
	ok merge_untouched_overflow
else
	fail merge_untouched_overflow "exit $rc: $(cat err.txt)"
fi

expect inputs_untouched "$(cksum <"$M")" "$sum0"
