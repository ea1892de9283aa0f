/* tokenizer.c - SentencePiece-style and byte-level BPE tokenizers built from
 * tokenizer.ggml.* metadata, following llama.cpp's semantics (which its
 * published test vectors check against Hugging Face's tokenizers).
 *
 *   vocabulary      every token string lives in one arena; a hash table maps
 *                   bytes -> id (a duplicated string maps to its last id, as
 *                   in llama.cpp).
 *   SPM ("llama")   spaces -> U+2581, a leading U+2581 (add_space_prefix),
 *                   then greedy merging of the adjacent pair whose joined
 *                   text is the best-scoring token (ties: leftmost), over
 *                   UTF-8 characters; pieces that are not tokens become
 *                   <0xNN> byte tokens (or unk).
 *   BPE ("gpt2")    the text is cut by the pre-tokenizer regexes chosen by
 *                   tokenizer.ggml.pre (a sequence: each splits the pieces
 *                   of the previous one, gaps kept), every piece's bytes go
 *                   through GPT-2's bytes-to-unicode map, then the adjacent
 *                   pair with the lowest merge rank is merged (ties:
 *                   leftmost) until none applies.
 *
 * BPE works on ids, not strings: every merge "a b" is stored as
 * (id(a), id(b)) -> (rank, id(ab)).  Strings that merges mention but the
 * vocabulary lacks are interned as extra ids >= n_vocab, so merging behaves
 * exactly as with strings; such an id left at the end is spelled out byte by
 * byte as llama.cpp does.
 *
 * Text handling, as llama.cpp with parse_special = false:
 *   - user-defined tokens (token_type 4) are cut out of the text first
 *     (Hugging Face matches added tokens even without special-token
 *     parsing); control tokens ("<s>", "<|endoftext|>") in the text are
 *     plain text.  SPM gives each run of text its space prefix.
 *   - LLM_TOKENIZE_SPECIAL (llama.cpp's parse_special = true, what
 *     llama-cli does with a prompt) cuts out the control and unknown tokens
 *     as well.
 *   - tokens are cut out as llama.cpp cuts them: the longest first, each
 *     at every place in what is still raw text, ties by id.  Hugging
 *     Face's leftmost-longest gives the same unless two overlap.
 *   - tokenizer.ggml.pre "default" (or no key) is llama.cpp's default list of
 *     four regexes; a name we do not know is refused, as llama.cpp refuses
 *     it ("unknown pre-tokenizer type"): cutting the text with some other
 *     regex would give other tokens without a word.  So is a BPE
 *     vocabulary without tokenizer.ggml.merges.
 *   - invalid UTF-8 is read as llama.cpp reads it: BPE decodes the text
 *     leniently, U+FFFD for what cannot be decoded (llm_utf8_as_llama);
 *     SPM cuts characters by the lead byte's announced length whatever
 *     follows, and a piece that is no token is spelt as <0xNN> tokens.
 *   - whitespace next to a cut-out token is dropped where llama.cpp sets
 *     its lstrip/rstrip attributes, which it does by name, not from the
 *     file: a model whose general.name holds "phi-3" or "phi3" drops the
 *     whitespace after its control, user-defined and unknown tokens and
 *     "</s>" (not after "<unk>", "<s>", "<|endoftext|>"), so that
 *     "<|user|>\nHi" is <|user|> then " Hi"; jina-v2 vocabularies
 *     (tokenizer.ggml.pre) and modern-bert models drop the whitespace
 *     before "<mask>" / "[MASK]".
 * add_eos_token is the caller's to honour (LLM_TOKENIZE_EOS appends EOS).
 * Not done: the pre-tokenizers llama.cpp implements by hand (kimi-k2,
 * afmoe, superbpe), and tokenizer models other than "llama" and "gpt2"
 * (bert, t5, rwkv).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "regex.h"
#include "tokenizer.h"
#include "unicode.h"

enum { TK_SPM = 1, TK_BPE = 2 };

/* tokenizer.ggml.token_type values */
enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER = 4, TT_UNUSED = 5, TT_BYTE = 6 };

#define MAX_REGEX 8

static int byte_token_value(const char *s, size_t n);

/* Tokens matched in raw text: ids grouped by first byte, longest first
 * within a group (ties by id); the group of byte b is
 * ids[at[b] .. at[b + 1]). */
struct cut_set {
	int32_t *ids;
	uint32_t at[257];
};

struct llm_tokenizer {
	int kind;
	int32_t n_vocab;      /* ids [0, n_vocab) are real tokens */
	int32_t n_all;        /* plus interned merge strings [n_vocab, n_all) */
	char *blob;           /* all strings, each NUL-terminated */
	size_t blob_len, blob_cap;
	size_t *off;          /* (n_all) offset of each string in blob */
	uint32_t *len;        /* (n_all) byte length */
	int32_t cap_all;      /* allocated entries of off/len */
	float *score;         /* (n_vocab) */
	uint8_t *type;        /* (n_vocab) TT_* (0 when absent/out of range) */
	uint8_t *eog;         /* (n_vocab) end-of-generation flags */
	int32_t *ht;          /* string hash table: ids, -1 empty */
	size_t ht_cap;        /* power of two */

	/* tokens cut out of raw text before anything else: user-defined ones
	 * (type 4) always, and with LLM_TOKENIZE_SPECIAL the control and
	 * unknown ones too */
	struct cut_set user, special;
	/* (n_vocab) STRIP_* flags of the tokens cut out, or NULL for none */
	uint8_t *strip;

	int32_t bos, eos, unk, eot, eom;
	int add_bos, add_eos, add_space_prefix;

	/* SPM: text may be merged word by word (see spm_tokenize) */
	int spm_word_split;
	/* SPM: id emitted for each byte that no token covers */
	int32_t byte_tok[256];

	/* BPE */
	uint64_t *mkey;       /* merge hash: (left id << 32 | right id), ~0 empty */
	int32_t *mrank, *mres;
	size_t m_cap;
	int32_t byte_sym[256]; /* id of the mapped character of each byte */
	char byte_utf8[256][3]; /* GPT-2 map: byte -> UTF-8 of its character */
	uint8_t byte_utf8_len[256];
	int ignore_merges;    /* a piece that is a whole token is taken as is */
	llm_regex *re[MAX_REGEX];
	int n_re;
};

/* ---------------------------------------------------------------- */
/* strings and the hash table                                       */

static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h ^ (h >> 29);
}

static const char *tk_str(const llm_tokenizer *tk, int32_t id) { return tk->blob + tk->off[id]; }

/* Id of the string s[0..n), or -1 (including interned extra ids). */
static int32_t lookup_any(const llm_tokenizer *tk, const char *s, size_t n)
{
	size_t mask = tk->ht_cap - 1;
	for (size_t i = hash_bytes(s, n) & mask;; i = (i + 1) & mask) {
		int32_t id = tk->ht[i];
		if (id < 0)
			return -1;
		if (tk->len[id] == n && memcmp(tk_str(tk, id), s, n) == 0)
			return id;
	}
}

/* Id of a real vocabulary token spelled s[0..n), or -1. */
static int32_t lookup(const llm_tokenizer *tk, const char *s, size_t n)
{
	int32_t id = lookup_any(tk, s, n);
	return id < tk->n_vocab ? id : -1;
}

static void ht_insert(llm_tokenizer *tk, int32_t id)
{
	size_t mask = tk->ht_cap - 1, n = tk->len[id];
	const char *s = tk_str(tk, id);
	for (size_t i = hash_bytes(s, n) & mask;; i = (i + 1) & mask) {
		int32_t o = tk->ht[i];
		if (o < 0 || (tk->len[o] == n && memcmp(tk_str(tk, o), s, n) == 0)) {
			tk->ht[i] = id; /* a later duplicate wins */
			return;
		}
	}
}

static int ht_resize(llm_tokenizer *tk, size_t cap)
{
	int32_t *ht = malloc(cap * sizeof *ht);
	if (!ht)
		return llm_err(LLM_ENOMEM, "tokenizer: out of memory");
	memset(ht, 0xff, cap * sizeof *ht);
	free(tk->ht);
	tk->ht = ht;
	tk->ht_cap = cap;
	for (int32_t id = 0; id < tk->n_all; id++)
		ht_insert(tk, id);
	return 0;
}

/* Append string s[0..n) as the next id (no hashing). */
static int add_string(llm_tokenizer *tk, const char *s, size_t n)
{
	if (tk->n_all == tk->cap_all) {
		int32_t cap = tk->cap_all ? 2 * tk->cap_all : 1024;
		size_t *off = realloc(tk->off, cap * sizeof *off);
		if (!off)
			return llm_err(LLM_ENOMEM, "tokenizer: out of memory");
		tk->off = off;
		uint32_t *len = realloc(tk->len, cap * sizeof *len);
		if (!len)
			return llm_err(LLM_ENOMEM, "tokenizer: out of memory");
		tk->len = len;
		tk->cap_all = cap;
	}
	if (tk->blob_len + n + 1 > tk->blob_cap) {
		size_t cap = tk->blob_cap ? tk->blob_cap : 65536;
		while (cap < tk->blob_len + n + 1)
			cap *= 2;
		char *b = realloc(tk->blob, cap);
		if (!b)
			return llm_err(LLM_ENOMEM, "tokenizer: out of memory");
		tk->blob = b;
		tk->blob_cap = cap;
	}
	memcpy(tk->blob + tk->blob_len, s, n);
	tk->blob[tk->blob_len + n] = 0;
	tk->off[tk->n_all] = tk->blob_len;
	tk->len[tk->n_all] = (uint32_t)n;
	tk->blob_len += n + 1;
	tk->n_all++;
	return 0;
}

/* Id of s (interning it as an extra id when absent), or a negative error. */
static int64_t intern(llm_tokenizer *tk, const char *s, size_t n)
{
	int32_t id = lookup_any(tk, s, n);
	if (id >= 0)
		return id;
	if (add_string(tk, s, n))
		return LLM_ENOMEM;
	if ((size_t)tk->n_all * 2 > tk->ht_cap && ht_resize(tk, tk->ht_cap * 2))
		return LLM_ENOMEM;
	ht_insert(tk, tk->n_all - 1);
	return tk->n_all - 1;
}

/* ---------------------------------------------------------------- */
/* pre-tokenizer regexes                                            */

/* White_Space as Unicode (and Oniguruma, which Hugging Face uses) define
 * it; PCRE2's \s would add U+180E.  Patterns below are written with \s and
 * \S and rewritten to these classes before compiling. */
#define WS_CLASS "\\t-\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"

#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define RE_CONTRACT "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
#define RE_LLAMA3 RE_CONTRACT "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_QWEN2 RE_CONTRACT "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_PORO " ?[^(\\s|.,!?\\x{2026}\\x{3002}\\x{FF0C}\\x{3001}\\x{964}\\x{6D4}\\x{60C})]+"
#define RE_DS3 "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
/* Cased letters, as listed in DeepSeek LLM's tokenizer.json. */
#define RE_DS_LETTERS \
	"\\s?[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}\\x{1C4}-\\x{293}" \
	"\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}\\x{37F}\\x{386}\\x{388}-\\x{38A}" \
	"\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}" \
	"\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}" \
	"\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}" \
	"\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}" \
	"\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}" \
	"\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}" \
	"\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}\\x{2128}\\x{212A}-\\x{212D}" \
	"\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}\\x{214E}\\x{2183}\\x{2184}" \
	"\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}" \
	"\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}" \
	"\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}" \
	"\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}" \
	"\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}]+"
/* Flags of a pre-tokenizer beyond its regexes. */
enum { PRE_IGNORE_MERGES = 1, PRE_ADD_BOS = 2 };

struct pre_def {
	const char *names; /* "|"-separated tokenizer.ggml.pre values */
	int flags;
	const char *re[MAX_REGEX];
};

/* The regex lists of llama.cpp's pre-tokenizers (llama-vocab.cpp), with
 * the tokenizer.json originals where llama.cpp had to rewrite them for
 * std::regex (PCRE2 takes (?i:...), \p{Lu} and possessive quantifiers). */
static const struct pre_def pre_defs[] = {
	{"gpt-2|gpt2|phi-2|jina-es|jina-de|gigachat|jina-v2-es|jina-v2-de|a.x-4.0|mellum|"
	 "jina-v1-en|jina-v2-code|roberta-bpe|exaone4|mpt|olmo|jais|trillion|granite-docling",
	 0, {RE_GPT2}},
	{"default", 0,
	 {"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"}},
	{"llama3|llama-v3|llama-bpe|falcon3|falcon-h1|pixtral|midm-2.0|lfm2",
	 PRE_IGNORE_MERGES | PRE_ADD_BOS, {RE_LLAMA3}},
	{"dbrx|smaug-bpe", 0, {RE_LLAMA3}},
	{"chatglm-bpe|glm4", 0, {RE_LLAMA3}},
	{"deepseek-llm", 0,
	 {"[\\r\\n]", RE_DS_LETTERS,
	  "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+",
	  "\\s+$", "[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+", "\\p{N}+"}},
	{"deepseek-coder", 0,
	 {"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+",
	  "[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+", "\\p{N}"}},
	{"deepseek-v3|hunyuan-dense", 0,
	 {"\\p{N}{1,3}", "[\\x{4E00}-\\x{9FA5}\\x{3040}-\\x{309F}\\x{30A0}-\\x{30FF}]+", RE_DS3}},
	{"falcon", 0, {"[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]"}},
	{"starcoder|refact|command-r|smollm|codeshell|exaone|minerva-7b", 0, {"\\p{N}", RE_GPT2}},
	{"qwen2|deepseek-r1-qwen|kormo|megrez|stablelm2|hunyuan|grok-2", 0, {RE_QWEN2}},
	{"poro-chat|bloom|gpt3-finnish", 0, {RE_PORO}},
	{"viking", 0, {RE_PORO, "\\p{N}"}},
	{"tekken", PRE_IGNORE_MERGES | PRE_ADD_BOS,
	 {"[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|"
	  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|"
	  "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
	{"gpt-4o|llama4|minimax-m2", 0,
	 {"[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"
	  "(?i:'s|'t|'re|'ve|'m|'ll|'d)?|"
	  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*"
	  "(?i:'s|'t|'re|'ve|'m|'ll|'d)?|"
	  "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
	{"chameleon", PRE_ADD_BOS,
	 {"<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", "([\\t\\n]|    |  )", "\\p{N}",
	  "[\\p{P}!-/:-@\\[-`{-~]", RE_GPT2}},
	{"bailingmoe|bailingmoe2|llada-moe", 0,
	 {"'(?i:[sdmt]|ll|ve|re)|[^\\r\\n\\p{L}\\p{N}]?+\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]++[\\r\\n]*|"
	  "\\s*[\\r\\n]|\\s+(?!\\S)|\\s+"}},
	{"seed-coder", 0,
	 {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+|"
	  "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
};

static int name_in(const char *names, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = names;;) {
		const char *e = strchr(p, '|');
		size_t k = e ? (size_t)(e - p) : strlen(p);
		if (k == n && memcmp(p, name, n) == 0)
			return 1;
		if (!e)
			return 0;
		p = e + 1;
	}
}

/* The definition for tokenizer.ggml.pre: "default" (and an absent key) is
 * llama.cpp's default list; NULL for a name we do not know. */
static const struct pre_def *pre_find(const char *name)
{
	if (!name)
		name = "default";
	for (size_t i = 0; i < sizeof pre_defs / sizeof pre_defs[0]; i++)
		if (name_in(pre_defs[i].names, name))
			return &pre_defs[i];
	return NULL;
}

/* Rewrite \s and \S to explicit White_Space classes (see WS_CLASS). */
static char *rewrite_ws(const char *p)
{
	size_t need = strlen(p) + 1;
	for (const char *q = p; *q; q++)
		if (q[0] == '\\' && (q[1] == 's' || q[1] == 'S'))
			need += sizeof WS_CLASS + 3;
	char *o = malloc(need), *w = o;
	if (!o)
		return NULL;
	int in_class = 0;
	while (*p) {
		if (p[0] == '\\' && p[1]) {
			if (p[1] == 's') {
				w += sprintf(w, in_class ? "%s" : "[%s]", WS_CLASS);
			} else if (p[1] == 'S' && !in_class) {
				w += sprintf(w, "[^%s]", WS_CLASS);
			} else {
				*w++ = p[0];
				*w++ = p[1];
			}
			p += 2;
			continue;
		}
		if (!in_class && p[0] == '[') {
			in_class = 1;
			*w++ = *p++;
			if (*p == '^')
				*w++ = *p++;
			if (*p == ']') /* a leading ] is literal */
				*w++ = *p++;
			continue;
		}
		if (in_class && p[0] == ']')
			in_class = 0;
		*w++ = *p++;
	}
	*w = 0;
	return o;
}

/* ---------------------------------------------------------------- */
/* building                                                         */

void llm_tokenizer_free(llm_tokenizer *tk)
{
	if (!tk)
		return;
	free(tk->blob);
	free(tk->off);
	free(tk->len);
	free(tk->score);
	free(tk->type);
	free(tk->eog);
	free(tk->ht);
	free(tk->user.ids);
	free(tk->special.ids);
	free(tk->strip);
	free(tk->mkey);
	free(tk->mrank);
	free(tk->mres);
	for (int i = 0; i < tk->n_re; i++)
		llm_regex_free(tk->re[i]);
	free(tk);
}

static uint64_t merge_hash(uint64_t key)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdull;
	key ^= key >> 33;
	return key;
}

/* Slot of key in the merge table (its own or the empty one to fill). */
static size_t merge_slot(const llm_tokenizer *tk, uint64_t key)
{
	size_t mask = tk->m_cap - 1;
	size_t i = merge_hash(key) & mask;
	while (tk->mkey[i] != UINT64_MAX && tk->mkey[i] != key)
		i = (i + 1) & mask;
	return i;
}

static int load_merges(llm_tokenizer *tk, const llm_meta *m)
{
	enum llm_vtype at;
	uint64_t n = 0;
	const void *data;
	int rc = llm_meta_get_arr(m, "tokenizer.ggml.merges", &at, &n, &data);
	if (rc == LLM_ENOTFOUND)
		return llm_err(LLM_EFORMAT, "tokenizer.ggml.merges: missing (a \"gpt2\" vocabulary needs its merges)");
	if (rc)
		return rc;
	if (at != LLM_V_STR)
		return llm_err(LLM_EFORMAT, "tokenizer.ggml.merges: not an array of strings");
	if (n > INT32_MAX / 4)
		return llm_err(LLM_EFORMAT, "tokenizer.ggml.merges: %llu merges", (unsigned long long)n);
	tk->m_cap = 16;
	while (tk->m_cap < 2 * n + 16)
		tk->m_cap *= 2;
	tk->mkey = malloc(tk->m_cap * sizeof *tk->mkey);
	tk->mrank = malloc(tk->m_cap * sizeof *tk->mrank);
	tk->mres = malloc(tk->m_cap * sizeof *tk->mres);
	if (!tk->mkey || !tk->mrank || !tk->mres)
		return llm_err(LLM_ENOMEM, "tokenizer: out of memory");
	memset(tk->mkey, 0xff, tk->m_cap * sizeof *tk->mkey);
	const struct llm_str *s = data;
	char *buf = NULL;
	size_t bufcap = 0;
	for (uint64_t r = 0; r < n; r++) {
		/* "left right": split at the first space after the first byte */
		const char *sp = s[r].len > 1 ? memchr(s[r].s + 1, ' ', s[r].len - 1) : NULL;
		if (!sp) {
			free(buf);
			return llm_err(LLM_EFORMAT, "tokenizer.ggml.merges[%llu]: no space in \"%.*s\"",
				       (unsigned long long)r, (int)(s[r].len > 64 ? 64 : s[r].len), s[r].s);
		}
		size_t nl = (size_t)(sp - s[r].s), nr = s[r].len - nl - 1;
		if (nl + nr > bufcap) {
			bufcap = 2 * (nl + nr) + 64;
			char *b = realloc(buf, bufcap);
			if (!b) {
				free(buf);
				return llm_err(LLM_ENOMEM, "tokenizer: out of memory");
			}
			buf = b;
		}
		memcpy(buf, s[r].s, nl);
		memcpy(buf + nl, sp + 1, nr);
		int64_t l = intern(tk, s[r].s, nl), rr = intern(tk, sp + 1, nr), res = intern(tk, buf, nl + nr);
		if (l < 0 || rr < 0 || res < 0) {
			free(buf);
			return LLM_ENOMEM;
		}
		uint64_t key = (uint64_t)l << 32 | (uint64_t)rr;
		size_t i = merge_slot(tk, key);
		if (tk->mkey[i] == key)
			continue; /* a repeated merge keeps its first (best) rank */
		tk->mkey[i] = key;
		tk->mrank[i] = (int32_t)r;
		tk->mres[i] = (int32_t)res;
	}
	free(buf);
	return 0;
}

static int setup_bpe(llm_tokenizer *tk, const llm_meta *m)
{
	const char *pre = NULL;
	if (llm_meta_get_str(m, "tokenizer.ggml.pre", &pre, NULL) != 0)
		pre = NULL;
	const struct pre_def *d = pre_find(pre);
	if (!d)
		return llm_err(LLM_EUNSUPPORTED,
			       "tokenizer.ggml.pre \"%s\": a pre-tokenizer llm does not know (see llm-run(1))",
			       pre);
	for (int i = 0; i < MAX_REGEX && d->re[i]; i++) {
		char *pat = rewrite_ws(d->re[i]);
		if (!pat)
			return llm_err(LLM_ENOMEM, "tokenizer: out of memory");
		int rc = llm_regex_compile(&tk->re[i], pat);
		free(pat);
		if (rc)
			return llm_err_prefix(rc, "tokenizer pre-tokenizer");
		tk->n_re = i + 1;
	}
	tk->ignore_merges = !!(d->flags & PRE_IGNORE_MERGES);
	if (d->flags & PRE_ADD_BOS)
		tk->add_bos = 1;
	for (int b = 0; b < 256; b++) {
		tk->byte_utf8_len[b] = (uint8_t)llm_utf8_encode(tk->byte_utf8[b], llm_gpt2_byte_cp(b));
		int64_t id = intern(tk, tk->byte_utf8[b], tk->byte_utf8_len[b]);
		if (id < 0)
			return (int)id;
		tk->byte_sym[b] = (int32_t)id;
	}
	return load_merges(tk, m);
}

static void setup_spm(llm_tokenizer *tk)
{
	/* can text be cut before a U+2581 that follows another character?
	 * Only if no token holds U+2581 past its leading run of them */
	tk->spm_word_split = 1;
	for (int32_t id = 0; id < tk->n_vocab && tk->spm_word_split; id++) {
		const char *s = tk_str(tk, id);
		size_t n = tk->len[id], i = 0;
		while (i + 3 <= n && memcmp(s + i, "\xe2\x96\x81", 3) == 0)
			i += 3;
		if (i < n && memmem(s + i, n - i, "\xe2\x96\x81", 3))
			tk->spm_word_split = 0;
	}
	for (int b = 0; b < 256; b++) {
		char hex[8];
		snprintf(hex, sizeof hex, "<0x%02X>", b);
		int32_t id = lookup(tk, hex, 6);
		if (id < 0) {
			char c = (char)b;
			id = lookup(tk, &c, 1);
		}
		tk->byte_tok[b] = id >= 0 ? id : tk->unk;
	}
}

/* End-of-generation, as llama.cpp decides it: eos, eot, eom and the tokens
 * spelled like chat end markers, which also become control tokens
 * (never cut out of text, nothing when decoded).  A vocabulary with
 * "<|return|>" and "<|call|>" (OpenAI harmony) keeps "<|end|>" as text. */
static void setup_eog(llm_tokenizer *tk)
{
	static const char *const ends[] = {
		"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<end_of_turn>",
		"<|endoftext|>", "<|eom_id|>", "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>",
	};
	for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
		int32_t id = lookup(tk, ends[i], strlen(ends[i]));
		if (id >= 0) {
			tk->eog[id] = 1;
			tk->type[id] = TT_CONTROL;
		}
	}
	int32_t end = lookup(tk, "<|end|>", 7);
	if (end >= 0 && lookup(tk, "<|return|>", 10) >= 0 && lookup(tk, "<|call|>", 8) >= 0) {
		tk->eog[end] = 0;
		tk->type[end] = TT_USER;
	}
	int32_t ids[3] = {tk->eos, tk->eot, tk->eom};
	for (int i = 0; i < 3; i++)
		if (ids[i] >= 0)
			tk->eog[ids[i]] = 1;
}

struct cut_key {
	unsigned char first;
	uint32_t len;
	int32_t id;
};

static int cut_cmp(const void *a, const void *b)
{
	const struct cut_key *x = a, *y = b;
	if (x->first != y->first)
		return x->first < y->first ? -1 : 1;
	if (x->len != y->len)
		return x->len > y->len ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* The cut set of the non-empty tokens whose type is in types (a bit per
 * TT_* value). */
static int setup_cut(llm_tokenizer *tk, struct cut_set *cs, unsigned types)
{
	size_t n = 0;
	for (int32_t id = 0; id < tk->n_vocab; id++)
		n += (types >> tk->type[id] & 1) && tk->len[id] > 0;
	memset(cs->at, 0, sizeof cs->at);
	if (n == 0)
		return 0;
	struct cut_key *k = malloc(n * sizeof *k);
	cs->ids = malloc(n * sizeof *cs->ids);
	if (!k || !cs->ids) {
		free(k);
		return llm_err(LLM_ENOMEM, "tokenizer: out of memory");
	}
	n = 0;
	for (int32_t id = 0; id < tk->n_vocab; id++)
		if ((types >> tk->type[id] & 1) && tk->len[id] > 0)
			k[n++] = (struct cut_key){(unsigned char)tk_str(tk, id)[0], tk->len[id], id};
	qsort(k, n, sizeof *k, cut_cmp);
	for (size_t i = 0; i < n; i++) {
		cs->ids[i] = k[i].id;
		cs->at[k[i].first + 1]++;
	}
	free(k);
	for (int b = 0; b < 256; b++)
		cs->at[b + 1] += cs->at[b];
	return 0;
}

enum { STRIP_LEFT = 1, STRIP_RIGHT = 2 };

/* 1 when s contains any of the strings of list (NULL-terminated) */
static int has_any(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strstr(s, *list))
			return 1;
	return 0;
}

static void strip_token(llm_tokenizer *tk, const char *text, int flag, int on)
{
	int32_t id = lookup(tk, text, strlen(text));
	if (id >= 0)
		tk->strip[id] = on ? tk->strip[id] | flag : tk->strip[id] & ~flag;
}

/* llama.cpp's lstrip/rstrip token attributes, which it sets from the
 * model's name (lowercased), tokenizer.ggml.pre and general.architecture
 * rather than from anything in the file: the same names give the same
 * rules here. */
static int setup_strip(llm_tokenizer *tk, const llm_meta *m)
{
	const char *name = "", *pre = "", *arch = "";
	llm_meta_get_str(m, "general.name", &name, NULL);
	llm_meta_get_str(m, "tokenizer.ggml.pre", &pre, NULL);
	llm_meta_get_str(m, "general.architecture", &arch, NULL);
	char *lower = strdup(name);
	if (!lower)
		return llm_err(LLM_ENOMEM, "tokenizer: out of memory");
	for (char *c = lower; *c; c++)
		*c = *c >= 'A' && *c <= 'Z' ? (char)(*c - 'A' + 'a') : *c;
	int jina = has_any(pre, (const char *const[]){ "jina-v2-de", "jina-v2-es", "jina-v2-code", NULL }) ||
		   has_any(arch, (const char *const[]){ "nomic-bert-moe", "jina-bert-v3", NULL });
	int phi3 = !jina && has_any(lower, (const char *const[]){ "phi-3", "phi3", NULL });
	int mbert = !jina && !phi3 && strstr(lower, "modern-bert");
	free(lower);
	if (!jina && !phi3 && !mbert)
		return 0;
	if (!(tk->strip = calloc((size_t)tk->n_vocab, 1)))
		return llm_err(LLM_ENOMEM, "tokenizer: out of memory");
	if (jina)
		strip_token(tk, "<mask>", STRIP_LEFT, 1);
	if (mbert)
		strip_token(tk, "[MASK]", STRIP_LEFT, 1);
	if (phi3) {
		for (int32_t id = 0; id < tk->n_vocab; id++)
			if (tk->type[id] == TT_CONTROL || tk->type[id] == TT_USER || tk->type[id] == TT_UNKNOWN)
				tk->strip[id] |= STRIP_RIGHT;
		strip_token(tk, "</s>", STRIP_RIGHT, 1);
		for (int i = 0; i < 3; i++)
			strip_token(tk, (const char *[]){ "<unk>", "<s>", "<|endoftext|>" }[i], STRIP_RIGHT, 0);
	}
	return 0;
}

static int32_t meta_id(const llm_meta *m, const char *key, int32_t dflt, int32_t n_vocab)
{
	int64_t v = llm_meta_int(m, key, dflt);
	return v >= 0 && v < n_vocab ? (int32_t)v : dflt;
}

static int load_vocab(llm_tokenizer *tk, const llm_meta *m)
{
	enum llm_vtype at;
	uint64_t n;
	const void *data;
	int rc = llm_meta_get_arr(m, "tokenizer.ggml.tokens", &at, &n, &data);
	if (rc == LLM_ENOTFOUND)
		return llm_err(LLM_ENOTFOUND, "tokenizer.ggml.tokens: missing");
	if (rc)
		return rc;
	if (at != LLM_V_STR)
		return llm_err(LLM_EFORMAT, "tokenizer.ggml.tokens: not an array of strings");
	if (n == 0 || n > INT32_MAX / 4)
		return llm_err(LLM_EFORMAT, "tokenizer.ggml.tokens: %llu tokens", (unsigned long long)n);
	const struct llm_str *s = data;
	tk->n_vocab = (int32_t)n;
	for (uint64_t i = 0; i < n; i++)
		if (add_string(tk, s[i].s, s[i].len))
			return LLM_ENOMEM;
	size_t cap = 1024;
	while (cap < 2 * n + 1024)
		cap *= 2;
	if (ht_resize(tk, cap))
		return LLM_ENOMEM;

	tk->score = calloc(n, sizeof *tk->score);
	tk->type = calloc(n, 1);
	tk->eog = calloc(n, 1);
	if (!tk->score || !tk->type || !tk->eog)
		return llm_err(LLM_ENOMEM, "tokenizer: out of memory");
	const struct llm_kv *kv = llm_meta_get(m, "tokenizer.ggml.scores");
	if (kv && kv->type == LLM_V_ARR && kv->atype != LLM_V_STR) {
		if (kv->n != n)
			return llm_err(LLM_EFORMAT, "tokenizer.ggml.scores: %llu scores for %llu tokens",
				       (unsigned long long)kv->n, (unsigned long long)n);
		for (uint64_t i = 0; i < n; i++)
			tk->score[i] = (float)llm_kv_arr_num(kv, i);
	}
	kv = llm_meta_get(m, "tokenizer.ggml.token_type");
	if (kv && kv->type == LLM_V_ARR && kv->atype != LLM_V_STR) {
		if (kv->n != n)
			return llm_err(LLM_EFORMAT, "tokenizer.ggml.token_type: %llu types for %llu tokens",
				       (unsigned long long)kv->n, (unsigned long long)n);
		for (uint64_t i = 0; i < n; i++) {
			double t = llm_kv_arr_num(kv, i);
			tk->type[i] = t >= 1 && t <= 6 ? (uint8_t)t : 0;
		}
	} else {
		memset(tk->type, 0, n); /* unknown yet: see guess_types() */
	}
	return 0;
}

/* Without tokenizer.ggml.token_type (a hand-made or converted vocabulary):
 * "<0xNN>" are byte tokens for SPM, unk is unknown, bos/eos are control,
 * everything else is normal. */
static void guess_types(llm_tokenizer *tk)
{
	for (int32_t id = 0; id < tk->n_vocab; id++) {
		if (tk->type[id])
			return; /* the metadata had types */
	}
	for (int32_t id = 0; id < tk->n_vocab; id++) {
		int byte = tk->kind == TK_SPM && byte_token_value(tk_str(tk, id), tk->len[id]) >= 0;
		tk->type[id] = byte ? TT_BYTE : TT_NORMAL;
	}
	if (tk->unk >= 0)
		tk->type[tk->unk] = TT_UNKNOWN;
	if (tk->bos >= 0)
		tk->type[tk->bos] = TT_CONTROL;
	if (tk->eos >= 0)
		tk->type[tk->eos] = TT_CONTROL;
}

int llm_tokenizer_open(llm_tokenizer **out, const llm_meta *m)
{
	*out = NULL;
	const char *model = NULL;
	int grc = llm_meta_get_str(m, "tokenizer.ggml.model", &model, NULL);
	if (grc == LLM_ENOTFOUND)
		return llm_err(LLM_ENOTFOUND, "tokenizer.ggml.model: missing");
	if (grc)
		return grc; /* not a string: the getter's message */
	int kind = strcmp(model, "llama") == 0 ? TK_SPM : strcmp(model, "gpt2") == 0 ? TK_BPE : 0;
	if (!kind)
		return llm_err(LLM_EUNSUPPORTED, "tokenizer.ggml.model \"%s\": only \"llama\" and \"gpt2\" are supported", model);
	llm_tokenizer *tk = calloc(1, sizeof *tk);
	if (!tk)
		return llm_err(LLM_ENOMEM, "tokenizer: out of memory");
	tk->kind = kind;
	int rc = load_vocab(tk, m);
	if (rc)
		goto fail;
	int32_t nv = tk->n_vocab;
	int spm = kind == TK_SPM;
	tk->bos = meta_id(m, "tokenizer.ggml.bos_token_id", spm && nv > 1 ? 1 : -1, nv);
	tk->eos = meta_id(m, "tokenizer.ggml.eos_token_id", spm && nv > 2 ? 2 : -1, nv);
	tk->unk = meta_id(m, "tokenizer.ggml.unknown_token_id", spm ? 0 : -1, nv);
	tk->eot = meta_id(m, "tokenizer.ggml.eot_token_id", -1, nv);
	tk->eom = meta_id(m, "tokenizer.ggml.eom_token_id", -1, nv);
	tk->add_bos = spm;
	tk->add_space_prefix = spm;
	guess_types(tk);
	if (kind == TK_BPE && (rc = setup_bpe(tk, m)))
		goto fail;
	if (kind == TK_SPM)
		setup_spm(tk);
	int b;
	if (llm_meta_get_bool(m, "tokenizer.ggml.add_bos_token", &b) == 0)
		tk->add_bos = b;
	if (llm_meta_get_bool(m, "tokenizer.ggml.add_eos_token", &b) == 0)
		tk->add_eos = b;
	if (llm_meta_get_bool(m, "tokenizer.ggml.add_space_prefix", &b) == 0)
		tk->add_space_prefix = b;
	setup_eog(tk);
	if ((rc = setup_cut(tk, &tk->user, 1u << TT_USER)) ||
	    (rc = setup_cut(tk, &tk->special, 1u << TT_USER | 1u << TT_CONTROL | 1u << TT_UNKNOWN)) ||
	    (rc = setup_strip(tk, m)))
		goto fail;
	*out = tk;
	return 0;
fail:
	llm_tokenizer_free(tk);
	return rc;
}

int32_t llm_tokenizer_n_vocab(const llm_tokenizer *tk) { return tk->n_vocab; }
int32_t llm_tokenizer_bos(const llm_tokenizer *tk) { return tk->bos; }
int32_t llm_tokenizer_eos(const llm_tokenizer *tk) { return tk->eos; }
int llm_tokenizer_add_bos(const llm_tokenizer *tk) { return tk->add_bos; }
int llm_tokenizer_add_eos(const llm_tokenizer *tk) { return tk->add_eos; }

int llm_tokenizer_is_eog(const llm_tokenizer *tk, int32_t id)
{
	return id >= 0 && id < tk->n_vocab && tk->eog[id];
}

const char *llm_token_str(const llm_tokenizer *tk, int32_t id)
{
	return id >= 0 && id < tk->n_vocab ? tk_str(tk, id) : NULL;
}

/* ---------------------------------------------------------------- */
/* tokenizing                                                       */

/* Room for one more element in the array *v of *cap (n in use) elements of
 * size bytes: full, it doubles (first the first time). */
static int room(void **v, size_t *cap, size_t n, size_t size, size_t first)
{
	if (n < *cap)
		return 0;
	size_t c = *cap ? 2 * *cap : first;
	void *p = realloc(*v, c * size);
	if (!p)
		return llm_err(LLM_ENOMEM, "tokenizer: out of memory");
	*v = p, *cap = c;
	return 0;
}

struct ids {
	int32_t *v;
	size_t n, cap;
};

static int ids_push(struct ids *o, int32_t id)
{
	int rc = room((void **)&o->v, &o->cap, o->n, sizeof *o->v, 64);
	if (rc == 0)
		o->v[o->n++] = id;
	return rc;
}

/* A symbol of the merge loops: a run of bytes [start, start+n) of the
 * (escaped) text, linked to its live neighbours; n == 0 once merged away. */
struct sym {
	int32_t prev, next;
	uint32_t start, n;
	int32_t id; /* BPE: id of the symbol's (mapped) text */
};

/* Candidate merge of symbols left and left's right neighbour.  SPM orders
 * by score (higher first), BPE by rank (lower first); then leftmost. */
struct pair {
	double key; /* SPM: -score; BPE: rank */
	int32_t left, right;
	uint32_t size;        /* SPM: byte size of the joined text */
	int32_t lid, rid;     /* BPE: ids the symbols had when queued */
};

struct heap {
	struct pair *v;
	size_t n, cap;
};

static int pair_less(const struct pair *a, const struct pair *b)
{
	return a->key < b->key || (a->key == b->key && a->left < b->left);
}

static int heap_push(struct heap *h, struct pair p)
{
	int rc = room((void **)&h->v, &h->cap, h->n, sizeof *h->v, 256);
	if (rc)
		return rc;
	size_t i = h->n++;
	while (i > 0) {
		size_t up = (i - 1) / 2;
		if (!pair_less(&p, &h->v[up]))
			break;
		h->v[i] = h->v[up];
		i = up;
	}
	h->v[i] = p;
	return 0;
}

static struct pair heap_pop(struct heap *h)
{
	struct pair top = h->v[0], last = h->v[--h->n];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && pair_less(&h->v[c + 1], &h->v[c]))
			c++;
		if (!pair_less(&h->v[c], &last))
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (h->n)
		h->v[i] = last;
	return top;
}

/* Scratch space reused across the words of one llm_tokenize call. */
struct work {
	struct sym *sym;
	size_t sym_cap;
	struct heap heap;
	char *buf;
	size_t buf_cap;
};

static int work_syms(struct work *w, size_t n)
{
	if (n > w->sym_cap) {
		size_t cap = n + n / 2 + 16;
		struct sym *s = realloc(w->sym, cap * sizeof *s);
		if (!s)
			return llm_err(LLM_ENOMEM, "tokenizer: out of memory");
		w->sym = s, w->sym_cap = cap;
	}
	return 0;
}

static int work_buf(struct work *w, size_t n)
{
	if (n > w->buf_cap) {
		size_t cap = n + n / 2 + 64;
		char *b = realloc(w->buf, cap);
		if (!b)
			return llm_err(LLM_ENOMEM, "tokenizer: out of memory");
		w->buf = b, w->buf_cap = cap;
	}
	return 0;
}

/* ---- SPM ---- */

static int spm_try_pair(const llm_tokenizer *tk, struct work *w, const char *text, int32_t l, int32_t r)
{
	if (l < 0 || r < 0)
		return 0;
	const struct sym *a = &w->sym[l], *b = &w->sym[r];
	int32_t id = lookup(tk, text + a->start, a->n + b->n);
	if (id < 0)
		return 0;
	struct pair p = {.key = -tk->score[id], .left = l, .right = r, .size = a->n + b->n};
	return heap_push(&w->heap, p);
}

static int spm_emit(const llm_tokenizer *tk, const char *text, const struct sym *s, struct ids *out)
{
	int32_t id = lookup(tk, text + s->start, s->n);
	if (id >= 0)
		return ids_push(out, id);
	for (uint32_t j = 0; j < s->n; j++) {
		int32_t b = tk->byte_tok[(unsigned char)text[s->start + j]];
		if (b >= 0 && ids_push(out, b))
			return LLM_ENOMEM;
	}
	return 0;
}

/* Merge the symbols of t[0..n) (escaped text) and emit their tokens. */
static int spm_merge(const llm_tokenizer *tk, struct work *w, const char *t, size_t n, struct ids *out)
{
	/* one symbol per UTF-8 character, as long as its lead byte says
	 * whatever follows (llama.cpp's cut: a broken sequence takes the next
	 * bytes with it, and is spelt in byte tokens) */
	if (work_syms(w, n))
		return LLM_ENOMEM;
	int32_t ns = 0;
	for (size_t o = 0; o < n; ns++) {
		size_t k = llm_utf8_lead_len((unsigned char)t[o]);
		if (k > n - o)
			k = n - o;
		w->sym[ns] = (struct sym){.prev = ns - 1, .next = o + k == n ? -1 : ns + 1,
					  .start = (uint32_t)o, .n = (uint32_t)k};
		o += k;
	}
	w->heap.n = 0;
	for (int32_t i = 1; i < ns; i++)
		if (spm_try_pair(tk, w, t, i - 1, i))
			return LLM_ENOMEM;
	while (w->heap.n) {
		struct pair p = heap_pop(&w->heap);
		struct sym *a = &w->sym[p.left], *b = &w->sym[p.right];
		if (a->n == 0 || b->n == 0 || a->n + b->n != p.size)
			continue; /* stale: one side was merged meanwhile */
		a->n += b->n;
		b->n = 0;
		a->next = b->next;
		if (b->next >= 0)
			w->sym[b->next].prev = p.left;
		if (spm_try_pair(tk, w, t, a->prev, p.left) || spm_try_pair(tk, w, t, p.left, a->next))
			return LLM_ENOMEM;
	}
	for (int32_t i = 0; i != -1 && ns > 0; i = w->sym[i].next)
		if (spm_emit(tk, t, &w->sym[i], out))
			return LLM_ENOMEM;
	return 0;
}

#define SPACE_MARK "\xe2\x96\x81" /* U+2581 */

static int is_mark(const char *t, size_t n, size_t o)
{
	return o + 3 <= n && memcmp(t + o, SPACE_MARK, 3) == 0;
}

/* Whether cutting t[0..n) by lead bytes (spm_merge) starts a character
 * at every U+2581: so unless a sequence swallows a byte that is not a
 * continuation byte (a broken sequence in the text). */
static int lead_cut_keeps_marks(const char *t, size_t n)
{
	for (size_t o = 0; o < n;) {
		size_t k = llm_utf8_lead_len((unsigned char)t[o]);
		for (size_t j = 1; j < k && o + j < n; j++)
			if (((unsigned char)t[o + j] & 0xC0) != 0x80)
				return 0;
		o += k;
	}
	return 1;
}

static int spm_tokenize(const llm_tokenizer *tk, struct work *w, const char *in, size_t len, int prefix,
			struct ids *out)
{
	if (len == 0)
		return 0;
	/* escape: optional leading U+2581, every ' ' -> U+2581 (3 bytes) */
	if (len > (UINT32_MAX - 3) / 3)
		return llm_err(LLM_EINVAL, "tokenize: text of %zu bytes is too long", len);
	if (work_buf(w, 3 * len + 3))
		return LLM_ENOMEM;
	char *t = w->buf;
	size_t n = 0;
	if (prefix) {
		memcpy(t, SPACE_MARK, 3);
		n = 3;
	}
	for (size_t i = 0; i < len; i++) {
		if (in[i] == ' ') {
			memcpy(t + n, SPACE_MARK, 3);
			n += 3;
		} else {
			t[n++] = in[i];
		}
	}
	if (!tk->spm_word_split || !lead_cut_keeps_marks(t, n))
		return spm_merge(tk, w, t, n, out);
	/* No token has U+2581 after another character, so no merge crosses
	 * the start of a U+2581 run: merge word by word (same result, small
	 * heaps that stay in cache). */
	size_t a = 0;
	for (size_t o = 1; o < n; o++) {
		if (is_mark(t, n, o) && !(o >= 3 && is_mark(t, n, o - 3))) {
			if (spm_merge(tk, w, t + a, o - a, out))
				return LLM_ENOMEM;
			a = o;
		}
	}
	return spm_merge(tk, w, t + a, n - a, out);
}

/* ---- BPE ---- */

static int bpe_try_pair(const llm_tokenizer *tk, struct work *w, int32_t l, int32_t r)
{
	if (l < 0 || r < 0)
		return 0;
	uint64_t key = (uint64_t)(uint32_t)w->sym[l].id << 32 | (uint32_t)w->sym[r].id;
	size_t i = merge_slot(tk, key);
	if (tk->mkey[i] != key)
		return 0;
	struct pair p = {.key = tk->mrank[i], .left = l, .right = r,
			 .lid = w->sym[l].id, .rid = w->sym[r].id};
	return heap_push(&w->heap, p);
}

/* Result id of merging the symbols' ids (known to be a merge). */
static int32_t bpe_result(const llm_tokenizer *tk, int32_t lid, int32_t rid)
{
	uint64_t key = (uint64_t)(uint32_t)lid << 32 | (uint32_t)rid;
	return tk->mres[merge_slot(tk, key)];
}

/* A symbol that is no vocabulary token: each byte of its mapped text on its
 * own, where that byte alone is a token (llama.cpp's fallback). */
static int bpe_spell(const llm_tokenizer *tk, const char *word, const struct sym *s, struct ids *out)
{
	for (uint32_t j = 0; j < s->n; j++) {
		unsigned char b = (unsigned char)word[s->start + j];
		for (int k = 0; k < tk->byte_utf8_len[b]; k++) {
			int32_t id = lookup(tk, &tk->byte_utf8[b][k], 1);
			if (id >= 0 && ids_push(out, id))
				return LLM_ENOMEM;
		}
	}
	return 0;
}

static int bpe_word(const llm_tokenizer *tk, struct work *w, const char *word, size_t n, struct ids *out)
{
	if (tk->ignore_merges) {
		if (work_buf(w, 2 * n))
			return LLM_ENOMEM;
		size_t m = 0;
		for (size_t i = 0; i < n; i++) {
			unsigned char b = (unsigned char)word[i];
			memcpy(w->buf + m, tk->byte_utf8[b], tk->byte_utf8_len[b]);
			m += tk->byte_utf8_len[b];
		}
		int32_t id = lookup(tk, w->buf, m);
		if (id >= 0)
			return ids_push(out, id);
	}
	if (work_syms(w, n))
		return LLM_ENOMEM;
	int32_t ns = (int32_t)n;
	for (int32_t i = 0; i < ns; i++)
		w->sym[i] = (struct sym){.prev = i - 1, .next = i + 1 == ns ? -1 : i + 1, .start = (uint32_t)i,
					 .n = 1, .id = tk->byte_sym[(unsigned char)word[i]]};
	w->heap.n = 0;
	for (int32_t i = 1; i < ns; i++)
		if (bpe_try_pair(tk, w, i - 1, i))
			return LLM_ENOMEM;
	while (w->heap.n) {
		struct pair p = heap_pop(&w->heap);
		struct sym *a = &w->sym[p.left], *b = &w->sym[p.right];
		if (a->n == 0 || b->n == 0 || a->id != p.lid || b->id != p.rid)
			continue; /* stale */
		a->id = bpe_result(tk, a->id, b->id);
		a->n += b->n;
		b->n = 0;
		a->next = b->next;
		if (b->next >= 0)
			w->sym[b->next].prev = p.left;
		if (bpe_try_pair(tk, w, a->prev, p.left) || bpe_try_pair(tk, w, p.left, a->next))
			return LLM_ENOMEM;
	}
	for (int32_t i = 0; i != -1 && ns > 0; i = w->sym[i].next) {
		const struct sym *s = &w->sym[i];
		int rc = s->id < tk->n_vocab ? ids_push(out, s->id) : bpe_spell(tk, word, s, out);
		if (rc)
			return rc;
	}
	return 0;
}

static int bpe_split(const llm_tokenizer *tk, struct work *w, const char *text, size_t len, struct ids *out);

/* Text that is not well-formed UTF-8 is first read as llama.cpp reads it
 * (llm_utf8_as_llama: U+FFFD for what cannot be decoded), so a stray 0xFF
 * gives the tokens of U+FFFD, not those of a byte-level "ÿ". */
static int bpe_tokenize(const llm_tokenizer *tk, struct work *w, const char *text, size_t len, struct ids *out)
{
	if (len == 0)
		return 0;
	if (llm_utf8_valid_len(text, len) == len)
		return bpe_split(tk, w, text, len, out);
	if (len > SIZE_MAX / 3)
		return llm_err(LLM_EINVAL, "tokenize: text of %zu bytes is too long", len);
	char *t = malloc(3 * len);
	if (!t)
		return llm_err(LLM_ENOMEM, "tokenizer: out of memory");
	int rc = bpe_split(tk, w, t, llm_utf8_as_llama(t, text, len), out);
	free(t);
	return rc;
}

/* text (llama.cpp's reading of it) cut by the pre-tokenizer, each piece
 * merged */
static int bpe_split(const llm_tokenizer *tk, struct work *w, const char *text, size_t len, struct ids *out)
{
	size_t *lens = malloc(sizeof *lens), n = 1;
	if (!lens)
		return llm_err(LLM_ENOMEM, "tokenizer: out of memory");
	lens[0] = len;
	for (int i = 0; i < tk->n_re; i++) {
		size_t *nl, nn;
		int rc = llm_regex_split(tk->re[i], text, lens, n, &nl, &nn);
		free(lens);
		if (rc)
			return rc;
		lens = nl, n = nn;
	}
	int rc = 0;
	size_t off = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (lens[i] > UINT32_MAX / 2)
			rc = llm_err(LLM_EINVAL, "tokenize: a pre-token of %zu bytes is too long", lens[i]);
		else
			rc = bpe_word(tk, w, text + off, lens[i], out);
		off += lens[i];
	}
	free(lens);
	return rc;
}

/* A piece of the text being cut: raw text [off, off + len), or (id >= 0)
 * a token cut out of it. */
struct frag {
	int32_t id;
	size_t off, len;
};
struct frags {
	struct frag *v;
	size_t n, cap;
};

static int frag_push(struct frags *f, int32_t id, size_t off, size_t len)
{
	int rc = room((void **)&f->v, &f->cap, f->n, sizeof *f->v, 16);
	if (rc == 0)
		f->v[f->n++] = (struct frag){ id, off, len };
	return rc;
}

/* The tokens of cs that occur anywhere in text (overlapping or not),
 * longest first, ties by id: the order in which llama.cpp cuts them out.
 * *out NULL when none occurs. */
static int cut_order(const llm_tokenizer *tk, const struct cut_set *cs, const char *text, size_t len,
		     int32_t **out, size_t *n_out)
{
	*out = NULL, *n_out = 0;
	uint32_t total = cs->at[256];
	if (!cs->ids || !total)
		return 0;
	uint8_t *seen = calloc(total, 1);
	if (!seen)
		return llm_err(LLM_ENOMEM, "tokenizer: out of memory");
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		for (uint32_t j = cs->at[c]; j < cs->at[c + 1]; j++) {
			int32_t id = cs->ids[j];
			if (!seen[j] && tk->len[id] <= len - i && memcmp(text + i, tk_str(tk, id), tk->len[id]) == 0)
				seen[j] = 1, n++;
		}
	}
	if (n == 0) {
		free(seen);
		return 0;
	}
	struct cut_key *k = malloc(n * sizeof *k);
	int32_t *ids = malloc(n * sizeof *ids);
	if (!k || !ids) {
		free(seen), free(k), free(ids);
		return llm_err(LLM_ENOMEM, "tokenizer: out of memory");
	}
	n = 0;
	for (uint32_t j = 0; j < total; j++)
		if (seen[j])
			k[n++] = (struct cut_key){ 0, tk->len[cs->ids[j]], cs->ids[j] };
	free(seen);
	qsort(k, n, sizeof *k, cut_cmp); /* first all 0: longest first, ties by id */
	for (size_t i = 0; i < n; i++)
		ids[i] = k[i].id;
	free(k);
	*out = ids, *n_out = n;
	return 0;
}

/* isspace() in the C locale, as llama.cpp strips */
static int c_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* Cut token id out of every raw piece of f (into g, emptied first), left
 * to right, dropping the whitespace its strip flags name. */
static int cut_token(const llm_tokenizer *tk, const char *text, int32_t id, const struct frags *f,
		     struct frags *g)
{
	const char *t = tk_str(tk, id);
	size_t tl = tk->len[id];
	int strip = tk->strip ? tk->strip[id] : 0, rc = 0;
	g->n = 0;
	for (size_t k = 0; k < f->n && rc == 0; k++) {
		struct frag p = f->v[k];
		if (p.id >= 0) {
			rc = frag_push(g, p.id, p.off, p.len);
			continue;
		}
		size_t o = p.off, e = p.off + p.len;
		const char *hit;
		while (rc == 0 && o < e && (hit = memmem(text + o, e - o, t, tl))) {
			size_t m = (size_t)(hit - text), le = m;
			while ((strip & STRIP_LEFT) && le > o && c_space(text[le - 1]))
				le--;
			if (le > o)
				rc = frag_push(g, -1, o, le - o);
			if (rc == 0)
				rc = frag_push(g, id, m, tl);
			o = m + tl;
			while ((strip & STRIP_RIGHT) && o < e && c_space(text[o]))
				o++;
		}
		if (rc == 0 && o < e)
			rc = frag_push(g, -1, o, e - o);
	}
	return rc;
}

/* Tokenize raw text (no token of the cut set inside).  Raw text starts the
 * text or follows a token cut out: SPM gives every such run its space
 * prefix, as llama.cpp does. */
static int tokenize_raw(const llm_tokenizer *tk, struct work *w, const char *text, size_t len, struct ids *out)
{
	if (tk->kind == TK_SPM)
		return spm_tokenize(tk, w, text, len, tk->add_space_prefix, out);
	return bpe_tokenize(tk, w, text, len, out);
}

int llm_tokenize(const llm_tokenizer *tk, const char *text, size_t len, unsigned flags,
		 int32_t **out, size_t *n_out)
{
	const struct cut_set *cs = flags & LLM_TOKENIZE_SPECIAL ? &tk->special : &tk->user;
	*out = NULL;
	*n_out = 0;
	struct ids o = {0};
	struct work w = {0};
	int rc = 0;
	if ((flags & LLM_TOKENIZE_BOS) && tk->bos >= 0)
		rc = ids_push(&o, tk->bos);
	/* the cut set's tokens are cut out first, longest first over the whole
	 * text, as llama.cpp does (Hugging Face's leftmost-longest gives the
	 * same unless two overlap); the raw text between them, less the
	 * whitespace their strip flags drop, is tokenized */
	int32_t *order = NULL;
	size_t n_order = 0;
	struct frags f = {0}, g = {0};
	if (rc == 0 && (rc = cut_order(tk, cs, text, len, &order, &n_order)) == 0 && len)
		rc = frag_push(&f, -1, 0, len);
	for (size_t k = 0; k < n_order && rc == 0; k++) {
		rc = cut_token(tk, text, order[k], &f, &g);
		struct frags t = f;
		f = g, g = t;
	}
	for (size_t k = 0; k < f.n && rc == 0; k++)
		rc = f.v[k].id >= 0 ? ids_push(&o, f.v[k].id) : tokenize_raw(tk, &w, text + f.v[k].off, f.v[k].len, &o);
	free(order);
	free(f.v);
	free(g.v);
	free(w.sym);
	free(w.heap.v);
	free(w.buf);
	if (rc == 0 && (flags & LLM_TOKENIZE_EOS) && tk->eos >= 0)
		rc = ids_push(&o, tk->eos);
	if (rc) {
		free(o.v);
		return rc;
	}
	if (!o.v && (o.v = malloc(sizeof *o.v)) == NULL) /* never hand back NULL on success */
		return llm_err(LLM_ENOMEM, "tokenizer: out of memory");
	*out = o.v;
	*n_out = o.n;
	return 0;
}

/* ---------------------------------------------------------------- */
/* decoding                                                         */

/* Writes what fits of src into buf, returns the full length. */
static size_t put(char *buf, size_t cap, size_t at, const char *src, size_t n)
{
	if (at < cap)
		memcpy(buf + at, src, n < cap - at ? n : cap - at);
	return at + n;
}

/* "<0xNN>" -> NN, or -1. */
static int byte_token_value(const char *s, size_t n)
{
	if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>')
		return -1;
	int v = 0;
	for (int i = 3; i < 5; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

int llm_token_is_control(const llm_tokenizer *tk, int32_t id)
{
	if (id < 0 || id >= tk->n_vocab)
		return 1;
	int type = tk->type[id];
	return type == TT_CONTROL || type == TT_UNKNOWN || type == TT_UNUSED || id == tk->bos || id == tk->eos;
}

size_t llm_token_piece(const llm_tokenizer *tk, int32_t prev, int32_t id, char *buf, size_t cap)
{
	if (llm_token_is_control(tk, id))
		return 0;
	int type = tk->type[id];
	const char *s = tk_str(tk, id);
	size_t n = tk->len[id], at = 0;
	if (type == TT_USER) /* kept as written, in both kinds */
		return put(buf, cap, 0, s, n);
	if (type == TT_BYTE) {
		int v = byte_token_value(s, n);
		if (v >= 0) {
			char c = (char)v;
			return put(buf, cap, 0, &c, 1);
		}
	}
	if (tk->kind == TK_SPM) {
		int drop = tk->add_space_prefix && prev < 0;
		for (size_t i = 0; i < n;) {
			if (n - i >= 3 && memcmp(s + i, "\xe2\x96\x81", 3) == 0) {
				if (!(drop && i == 0))
					at = put(buf, cap, at, " ", 1);
				i += 3;
			} else {
				at = put(buf, cap, at, s + i, 1);
				i++;
			}
		}
		return at;
	}
	/* byte-level BPE: every character stands for one byte */
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t k = llm_utf8_decode(s + i, n - i, &cp);
		int b = k ? llm_gpt2_cp_byte(cp) : -1;
		if (b >= 0) {
			char c = (char)b;
			at = put(buf, cap, at, &c, 1);
		} else { /* not from the byte map: pass through */
			if (!k)
				k = 1;
			at = put(buf, cap, at, s + i, k);
		}
		i += k;
	}
	return at;
}

/* ---------------------------------------------------------------- */
/* streaming UTF-8                                                  */

size_t llm_utf8_stream_feed(struct llm_utf8_stream *s, const char *in, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		if (s->npend > 0) {
			if (llm_utf8_may_follow(s->pend, s->npend, c)) {
				s->pend[s->npend++] = c;
				if (s->npend == llm_utf8_seq_len(s->pend[0])) {
					memcpy(out + o, s->pend, (size_t)s->npend);
					o += (size_t)s->npend;
					s->npend = 0;
				}
				continue;
			}
			/* the pending sequence is broken: let it through as is */
			memcpy(out + o, s->pend, (size_t)s->npend);
			o += (size_t)s->npend;
			s->npend = 0;
		}
		int k = llm_utf8_seq_len(c);
		if (k == 1 || k == 0)
			out[o++] = (char)c; /* ASCII, or a byte that is invalid anyway */
		else
			s->pend[s->npend++] = c;
	}
	return o;
}

size_t llm_utf8_stream_flush(struct llm_utf8_stream *s, char *out)
{
	size_t n = (size_t)s->npend;
	memcpy(out, s->pend, n);
	s->npend = 0;
	return n;
}
