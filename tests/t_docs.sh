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
