#!/bin/sh
# make install into a staging directory, then build and run a program
# against the installed library through pkg-config.
. tests/lib.sh
D=$TMP/stage
if make -s install PREFIX=/opt/llm DESTDIR="$D" >"$TMP/log" 2>&1; then ok install_runs; else fail install_runs "$(tail -3 "$TMP/log")"; exit 0; fi
for f in bin/llm-quant bin/llm-info include/llm/llm.h lib/libllm.a lib/libllm.so lib/pkgconfig/llm.pc \
	share/man/man1/llm-quant.1 share/man/man7/llm.7 share/man/man5/llm-gguf.5 \
	share/bash-completion/completions/llm-quant share/zsh/site-functions/_llm share/fish/vendor_completions.d/llm-quant.fish; do
	[ -e "$D/opt/llm/$f" ] && ok "installed_$f" || fail "installed_$f" "missing"
done
grep -q '^prefix=/opt/llm$' "$D/opt/llm/lib/pkgconfig/llm.pc" && ok pc_prefix || fail pc_prefix "$(head -1 "$D/opt/llm/lib/pkgconfig/llm.pc")"
cat >"$TMP/use.c" <<'C'
#include <stdio.h>
#include <llm.h>
int main(int argc, char **argv)
{
	llm_ckpt *c;
	if (argc < 2 || llm_ckpt_open(&c, argv[1], NULL)) {
		fprintf(stderr, "%s\n", llm_errmsg());
		return 1;
	}
	printf("%lld\n", (long long)llm_ckpt_n_tensors(c));
	llm_ckpt_free(c);
	return 0;
}
C
sed "s|^prefix=.*|prefix=$D/opt/llm|; s|^libdir=.*|libdir=$D/opt/llm/lib|; s|^includedir=.*|includedir=$D/opt/llm/include/llm|" \
	"$D/opt/llm/lib/pkgconfig/llm.pc" >"$TMP/llm.pc"
if cc -o "$TMP/use" "$TMP/use.c" $(PKG_CONFIG_PATH=$TMP pkg-config --cflags llm) \
	"$D/opt/llm/lib/libllm.a" $(pkg-config --libs libzstd libgit2 jansson libpcre2-8 openblas) -lm -pthread 2>"$TMP/cc"; then
	ok link_against_installed_library
	build/tests/tool_mkmodel "$TMP/m.gguf" 64 1 4 2 64 512 64 1
	[ "$("$TMP/use" "$TMP/m.gguf")" = 12 ] && ok run_against_installed_library || fail run_against_installed_library "wrong tensor count"
else
	fail link_against_installed_library "$(head -3 "$TMP/cc")"
fi
