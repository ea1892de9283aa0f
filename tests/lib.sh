# tests/lib.sh - helpers for shell tests (sourced; run from the repo root).
#   ok NAME | fail NAME WHY | skip NAME WHY
#   expect NAME GOT WANTED       passes when the two strings are equal
#   check NAME CMD...            passes when CMD exits 0
#   check_status N NAME CMD...   passes when CMD exits with status N
#   need_models / need_vocab / need_numpy   skip-and-return helpers
BIN=${BIN:-$PWD/bin}
SHARED=${LLM_SHARED:-$PWD/../shared}
MODELS=$SHARED/models
VOCAB=$SHARED/vocab
TMP=$(mktemp -d "${TMPDIR:-/tmp}/llmtest.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
export PATH="$BIN:$PATH"
ok() { echo "ok $1"; }
fail() { echo "not ok $1: $2"; }
skip() { echo "skip $1: $2"; }
expect() {
	if [ "$2" = "$3" ]; then ok "$1"; else fail "$1" "got '$2', wanted '$3'"; fi
}
check() {
	_n=$1; shift
	if "$@" >"$TMP/.out" 2>"$TMP/.err"; then ok "$_n"; else fail "$_n" "exit $? from: $* ($(head -c 300 "$TMP/.err" | tr '\n' ' '))"; fi
}
check_status() {
	_want=$1 _n=$2; shift 2
	"$@" >"$TMP/.out" 2>"$TMP/.err"; _rc=$?
	if [ "$_rc" -eq "$_want" ]; then ok "$_n"; else fail "$_n" "exit $_rc, wanted $_want: $* ($(head -c 300 "$TMP/.err" | tr '\n' ' '))"; fi
}
# A python3 that has numpy (Debian's python3-numpy lives in /usr/bin/python3).
PYTHON=
for _p in /usr/bin/python3 python3; do
	if "$_p" -c 'import numpy' 2>/dev/null; then PYTHON=$_p; break; fi
done
have_models() { [ -f "$MODELS/stories260K.gguf" ]; }
have_vocab() { [ -f "$VOCAB/ggml-vocab-llama-spm.gguf" ]; }
have_numpy() { [ -n "$PYTHON" ]; }
