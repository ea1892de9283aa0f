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
