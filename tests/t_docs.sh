#!/bin/sh
# Docs travel with the options: every option a command accepts (its own
# --list-options, generated from the same table that parses them) is in its
# man page; every command has a man page and is named by each completion.
. tests/lib.sh
for b in "$BIN"/llm-*; do
	[ -x "$b" ] || continue
	c=$(basename "$b")
	page=man/$c.1
	if [ ! -f "$page" ]; then
		fail "man_$c" "no $page"
		continue
	fi
	missing=
	for o in $("$b" --list-options); do
		esc=$(printf '%s' "$o" | sed 's/-/\\\\-/g')
		grep -q -- "$esc" "$page" || missing="$missing $o"
	done
	if [ -z "$missing" ]; then ok "man_${c}_lists_every_option"; else fail "man_${c}_lists_every_option" "missing:$missing"; fi
	if man -l "$page" >/dev/null 2>"$TMP/manerr" && [ ! -s "$TMP/manerr" ]; then ok "man_${c}_renders"; else fail "man_${c}_renders" "$(head -2 "$TMP/manerr")"; fi
	for f in completions/bash/llm completions/zsh/_llm completions/fish/llm.fish; do
		grep -q -- "$c" "$f" || fail "completion_$c" "$f does not name $c"
	done
	ok "completions_name_$c"
	"$b" --help >"$TMP/help" && grep -q "^Usage: $c" "$TMP/help" && ok "help_$c" || fail "help_$c" "no Usage line"
done
# an option whose --help takes - for standard input or output says so in
# its man page entry too
for b in "$BIN"/llm-*; do
	[ -x "$b" ] || continue
	c=$(basename "$b")
	"$b" --help | grep -E -- '^ +-.*- for std(in|out)' | while IFS= read -r l; do
		o=$(printf '%s\n' "$l" | grep -oE -- '--[a-z0-9-]+' | head -n 1)
		case "$l" in *'- for stdin'*) s='standard input' ;; *) s='standard output' ;; esac
		# the entry: from the .TP whose tag names the option (as the
		# source spells it, \-\-report) to the next .TP, .SH, .SS, .PP
		O=$(printf '%s' "$o" | sed 's/-/\\-/g') awk '
			/^\.(TP|SH|SS|PP|IP)/ { if (p) exit; tp = $0 ~ /^\.TP/; next }
			tp && /^\.B[IR]? / { i = index($0, ENVIRON["O"]); c = substr($0, i + length(ENVIRON["O"]), 1)
				if (i && c !~ /[a-z-]/) p = 1 }
			{ tp = 0 }
			p' "man/$c.1" | tr '\n' ' ' | grep -q "$s" || echo "$c $o: no '$s'"
	done
done >"$TMP/dash"
expect help_dash_in_man "$(cat "$TMP/dash")" ""
for p in man/*.[157]; do
	if man -l "$p" >/dev/null 2>"$TMP/manerr" && [ ! -s "$TMP/manerr" ]; then ok "renders_$(basename "$p")"; else fail "renders_$(basename "$p")" "$(head -2 "$TMP/manerr")"; fi
done
if command -v bash >/dev/null; then
	bash -n completions/bash/llm && ok bash_completion_syntax || fail bash_completion_syntax "bash -n failed"
fi
# bash completion at work: options from --list-options, what follows an
# option from its --help placeholder (FILE: file names; a number: nothing),
# typed values from the lists
if command -v bash >/dev/null; then
	mkdir -p "$TMP/cw" && : >"$TMP/cw/model.gguf"
	top=$PWD
	got=$(cd "$TMP/cw" && TOP=$top B=$BIN bash -c '
		export PATH="$B:$PATH"
		. "$TOP/completions/bash/llm"
		t() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _llm_complete; printf "%s;" "${COMPREPLY[*]}"; }
		t llm-info --pro; t llm-run -c ""; t llm-run --tokenizer mo; t llm-kvstat --ctx ""
		t llm-bench --only bandwidth,ma; t llm-quant -t q8; t llm-run --echo mo; t llm-quant --shard mo' 2>&1)
	expect bash_completion_values "$got" "--provenance;;model.gguf;;bandwidth,matvec;q8_0;model.gguf;model.gguf;"
fi
# bash completion with COMP_LINE and COMP_POINT as bash sets them: c LINE
# WORD... completes the last WORD of LINE (split as bash splits it, at `=`
# too), cursor at the end; prints the candidates sorted, each in [] (a
# newline as <NL>), then `;`.  compopt only works while bash completes: it
# is recorded in CO instead.
if command -v bash >/dev/null; then
	mkdir -p "$TMP/cw3/sd ir" && : >"$TMP/cw3/model.gguf" && : >"$TMP/cw3/sp ace.gguf" &&
		: >"$TMP/cw3/s*.gguf" && : >"$TMP/cw3/sz.gguf" && : >"$TMP/cw3/nl
x.gguf"
	cat >"$TMP/comp.bash" <<'XEOF'
export PATH="$B:$PATH"
. "$TOP/completions/bash/llm"
compopt() { CO+="$*;"; }
c() {
	COMP_LINE=$1 COMP_POINT=${#1}; shift
	COMP_WORDS=("$@") COMP_CWORD=$(($# - 1)) COMPREPLY=() CO=
	_llm_complete
	local s=() x
	((${#COMPREPLY[@]})) && mapfile -d '' -t s < <(printf '%s\0' "${COMPREPLY[@]}" | LC_ALL=C sort -z)
	for x in "${s[@]}"; do printf '[%s]' "${x//$'\n'/<NL>}"; done
	printf ';'
}
XEOF
	cb() { (cd "$TMP/cw3" && TMP=$TMP TOP=$top B=$BIN H=$TMP/comp.bash bash -c ". \"\$H\"; $1" 2>&1); }
	# one candidate a file name, whatever it holds; directories too
	expect bash_completion_file_names "$(cb 'c "llm-info s" llm-info s; c "llm-info nl" llm-info nl; c "llm-info sp" llm-info sp; echo "$CO"
		c "llm-quant -o sd" llm-quant -o sd; c "llm-quant -o s*" llm-quant -o "s*"')" \
		"[s*.gguf][sd ir][sp ace.gguf][sz.gguf];[nl<NL>x.gguf];[sp ace.gguf];-o filenames;
[sd ir];[s*.gguf];"
	# --opt=value, split at `=` (COMP_WORDBREAKS has it: `--type` `=` ...)
	# or not, completes as --opt value does; a flag= or a size= gets nothing
	expect bash_completion_opt_eq "$(cb 'c "llm-quant --type=" llm-quant --type =; c "llm-quant --type=q8" llm-quant --type = q8
		c "llm-quant --type=q4" llm-quant --type=q4; COMP_LINE= ; c "" llm-quant --type = ""
		c "llm-quant --tokenizer=mo" llm-quant --tokenizer = mo; c "llm-quant --tokenizer=mo" llm-quant --tokenizer=mo
		c "llm-kvstat --kv-type=q" llm-kvstat --kv-type = q; c "llm-bench --only=bandwidth,s" llm-bench --only=bandwidth,s
		c "llm-bench -o=" llm-bench -o =; c "llm-quant --zstd=" llm-quant --zstd =; c "llm-quant --split-max-size=" llm-quant --split-max-size =
		c "llm-info --json=" llm-info --json =; c "llm-quant --type = q8" llm-quant --type = q8')" \
		"[bf16][f16][f32][q4_0][q4_1][q5_0][q5_1][q8_0];[q8_0];[--type=q4_0][--type=q4_1];[bf16][f16][f32][q4_0][q4_1][q5_0][q5_1][q8_0];[model.gguf];[--tokenizer=model.gguf];[q4_0][q8_0];[--only=bandwidth,sgemm];;[1][19][3][9];;;;"
	# a value list applies only where the command has the option (its
	# --help): elsewhere what follows is an operand, a file
	got= want=
	for b in "$BIN"/llm-*; do
		cmd=$(basename "$b")
		for o in -t -o --type --output-tensor-type --token-embedding-type --kv-type --preset --zstd-level --output --only; do
			"$b" --help | grep -qE -- "^ +(-., )?$o[ ,]" && continue
			got="$got$cmd $o: $(cb "c \"$cmd $o mo\" $cmd $o mo")
"
			want="$want$cmd $o: [model.gguf];
"
		done
	done
	expect bash_completion_values_per_command "$got" "$want"
	# every long option after -, --list-options too (once, whether the
	# command lists it or not)
	got= want=
	for b in "$BIN"/llm-*; do
		cmd=$(basename "$b")
		got="$got$(cb "c \"$cmd -\" $cmd -")
"
		want="$want$({ "$b" --list-options | grep -vx -- --list-options; echo --list-options; } | LC_ALL=C sort | sed 's/.*/[&]/' | tr -d '\n');
"
	done
	expect bash_completion_long_options "$got" "$want"
	# (commands whose --list-options omits it, llm-info here, or lists it,
	# twice here for llm-run)
	mkdir -p "$TMP/lo" &&
		printf '#!/bin/sh\n[ "$1" = --list-options ] || exec "%s" "$@"\n"%s" "$@" | grep -vx -- --list-options\n' "$BIN/llm-info" "$BIN/llm-info" >"$TMP/lo/llm-info" &&
		printf '#!/bin/sh\n"%s" "$@" && [ "$1" = --list-options ] && echo --list-options\n' "$BIN/llm-run" >"$TMP/lo/llm-run" &&
		chmod +x "$TMP/lo/llm-info" "$TMP/lo/llm-run"
	expect bash_completion_list_options "$(cb 'PATH=$TMP/lo:$PATH; c "llm-info --li" llm-info --li; c "llm-run --li" llm-run --li')" "[--list-options];[--list-options];"
fi
