/* hftok.c - a Hugging Face tokenizer.json of a byte-level BPE model as
 * tokenizer.ggml.* keys (ckpt_impl.h), as llama.cpp's converter takes it.
 *
 * What is read:
 *   model          type "BPE", its vocab (text -> id) and merges ("a b"
 *                  strings or [a, b] pairs); byte_fallback (SentencePiece
 *                  models written as BPE, which keep their scores only in
 *                  tokenizer.model) is refused
 *   added_tokens   ids past (or inside) the vocab: special ones, and
 *                  those that look special (looks_special), become
 *                  control tokens, the others user-defined with U+2581
 *                  as spaces, as llama.cpp's converter writes them
 *   pre_tokenizer  (with the normalizer and model.ignore_merges) matched
 *                  whole against the ones llama.cpp knows by name
 *                  (tokenizer.ggml.pre): GPT-2, GPT-4's cl100k, Llama 3,
 *                  Qwen2, Mistral's tekken (Nemo), StarCoder, Falcon,
 *                  DeepSeek Coder and V3.
 *                  llama.cpp tells them apart by hashing a sample's tokens;
 *                  here the description itself is compared, and any other
 *                  one is refused rather than cut differently.  Like
 *                  llama.cpp, Qwen2's NFC normalizer is not applied: text
 *                  not in NFC can tokenize differently from Hugging Face.
 * Special tokens as gguf-py's SpecialVocab finds them: the post-processor's
 * template (a special token before the text: BOS, added; after it: EOS,
 * added), then beside the file, when present, tokenizer_config.json's
 * bos/eos/unk/pad tokens (a string or {"content": ...}) and add_bos_token /
 * add_eos_token, which win, and config.json's bos/eos/unk/pad_token_id
 * for ids still unknown.
 * tokenizer_config.json's chat_template (else chat_template.jinja or
 * chat_template.json beside it) becomes tokenizer.chat_template.
 * For a tokenizer.model (spm.c), the same files beside it and
 * added_tokens.json give its added tokens and special ids
 * (llm_hf_added_tokens, llm_hf_specials).
 * Ids without a token (gaps, and embedding rows past the last) get unused
 * "[PADid]" tokens, as the converter writes them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt_impl.h"
#include "error.h"
#include "io.h"
#include "json.h"
#include "meta.h"

/* a growing string */
struct buf {
	char *s;
	size_t n, cap;
	int oom;
};

static void put(struct buf *b, const char *s)
{
	size_t k = strlen(s);
	if (b->oom)
		return;
	if (b->n + k + 1 > b->cap) {
		size_t c = (b->n + k + 1) * 2;
		char *p = realloc(b->s, c);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->s = p, b->cap = c;
	}
	memcpy(b->s + b->n, s, k + 1);
	b->n += k;
}

static int jbool(const llm_json *j, int dflt)
{
	int v;
	return llm_json_bool(j, &v) == 0 ? v : dflt;
}

/* One pre-tokenizer (sequences flattened) as a line of the signature. */
static void sig_pre(struct buf *b, const llm_json *p)
{
	const char *type = llm_json_str(llm_json_get(p, "type"));
	char line[96];
	if (!type) {
		put(b, "?\n");
	} else if (strcmp(type, "Sequence") == 0) {
		const llm_json *a = llm_json_get(p, "pretokenizers");
		for (size_t i = 0; i < llm_json_len(a); i++)
			sig_pre(b, llm_json_at(a, i));
	} else if (strcmp(type, "ByteLevel") == 0) {
		snprintf(line, sizeof line, "ByteLevel prefix=%d regex=%d\n",
			 jbool(llm_json_get(p, "add_prefix_space"), 1), jbool(llm_json_get(p, "use_regex"), 1));
		put(b, line);
	} else if (strcmp(type, "Digits") == 0) {
		snprintf(line, sizeof line, "Digits %d\n", jbool(llm_json_get(p, "individual_digits"), 0));
		put(b, line);
	} else if (strcmp(type, "Punctuation") == 0) {
		const char *bh = llm_json_str(llm_json_get(p, "behavior"));
		put(b, "Punctuation "), put(b, bh ? bh : "Isolated"), put(b, "\n");
	} else if (strcmp(type, "Split") == 0) {
		const llm_json *pat = llm_json_get(p, "pattern");
		const char *re = llm_json_str(llm_json_get(pat, "Regex"));
		const char *bh = llm_json_str(llm_json_get(p, "behavior"));
		put(b, "Split "), put(b, bh ? bh : "?");
		put(b, jbool(llm_json_get(p, "invert"), 0) ? " invert " : " ");
		put(b, re ? re : "?"), put(b, "\n");
	} else {
		put(b, type), put(b, " ?\n");
	}
}

#define RE_LLAMA3_HF "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_DS3_HF "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"
#define RE_TEKKEN_HF "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_QWEN2_HF "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

/* The normalizers, pre-tokenizers and ignore_merges of the models whose
 * tokenizer.json llama.cpp's converter names (by the hash of a sample's
 * tokens; GPT-4's cl100k, which DBRX uses, is its "dbrx"). */
static const struct {
	const char *sig, *pre;
} known[] = {
	{ "ByteLevel prefix=0 regex=1\n", "gpt-2" },
	{ "Split Isolated " RE_LLAMA3_HF "\nByteLevel prefix=0 regex=0\nIgnoreMerges\n", "llama-bpe" },
	{ "Split Isolated " RE_LLAMA3_HF "\nByteLevel prefix=0 regex=0\n", "dbrx" },
	{ "Split Removed invert " RE_LLAMA3_HF "\nByteLevel prefix=0 regex=0\n", "dbrx" },
	{ "Split Isolated \\p{N}{1,3}\n"
	  "Split Isolated [\xe4\xb8\x80-\xe9\xbe\xa5\xe3\x81\x80-\xe3\x82\x9f\xe3\x82\xa0-\xe3\x83\xbf]+\n"
	  "Split Isolated " RE_DS3_HF "\nByteLevel prefix=0 regex=0\n",
	  "deepseek-v3" },
	{ "Split Isolated " RE_QWEN2_HF "\nByteLevel prefix=0 regex=0\n", "qwen2" },
	{ "Normalizer NFC\nSplit Isolated " RE_QWEN2_HF "\nByteLevel prefix=0 regex=0\n", "qwen2" },
	{ "Split Isolated " RE_TEKKEN_HF "\nByteLevel prefix=0 regex=0\nIgnoreMerges\n", "tekken" },
	{ "Digits 1\nByteLevel prefix=0 regex=1\n", "starcoder" },
	{ "Punctuation Contiguous\nByteLevel prefix=0 regex=1\nDigits 0\nSplit Isolated [0-9][0-9][0-9]\n",
	  "falcon" },
	{ "Split Isolated [\r\n]\nSplit Isolated \\s?\\p{L}+\nSplit Isolated \\s?\\p{P}+\n"
	  "Split Isolated [\xe4\xb8\x80-\xe9\xbe\xa5\xe0\xa0\x80-\xe4\xb8\x80\xea\xb0\x80-\xed\x9f\xbf]+\n"
	  "Digits 1\nByteLevel prefix=0 regex=0\n",
	  "deepseek-coder" },
};

/* A normalizer (sequences flattened: an empty one is none) as lines. */
static void sig_norm(struct buf *b, const llm_json *n)
{
	const char *type = llm_json_str(llm_json_get(n, "type"));
	if (llm_json_kind(n) == LLM_JSON_NONE || llm_json_kind(n) == LLM_JSON_NULL)
		return;
	if (type && strcmp(type, "Sequence") == 0) {
		const llm_json *a = llm_json_get(n, "normalizers");
		for (size_t i = 0; i < llm_json_len(a); i++)
			sig_norm(b, llm_json_at(a, i));
		return;
	}
	put(b, "Normalizer "), put(b, type ? type : "?"), put(b, "\n");
}

/* tokenizer.ggml.pre for the JSON's normalizer, pre-tokenizer and the
 * model's ignore_merges, or NULL. */
static const char *match_pre(const llm_json *root, int *oom)
{
	struct buf b = { 0 };
	sig_norm(&b, llm_json_get(root, "normalizer"));
	sig_pre(&b, llm_json_get(root, "pre_tokenizer"));
	if (jbool(llm_json_get(llm_json_get(root, "model"), "ignore_merges"), 0))
		put(&b, "IgnoreMerges\n");
	const char *pre = NULL;
	for (size_t i = 0; !b.oom && b.s && i < sizeof known / sizeof known[0]; i++)
		if (strcmp(b.s, known[i].sig) == 0)
			pre = known[i].pre;
	*oom = b.oom;
	free(b.s);
	return pre;
}

/* Content of a tokenizer_config.json token entry: "text" or {"content": "text"}. */
static const char *token_text(const llm_json *v)
{
	return llm_json_kind(v) == LLM_JSON_OBJ ? llm_json_str(llm_json_get(v, "content")) : llm_json_str(v);
}

static int64_t find_token(const struct llm_str *tok, int64_t n, const char *s)
{
	for (int64_t i = 0; s && i < n; i++)
		if (tok[i].s && strcmp(tok[i].s, s) == 0)
			return i;
	return -1;
}

/* Whether an added token not marked special is still a control token, as
 * llama.cpp's converter decides (does_token_look_special): "<pad>",
 * "<mask>", "<2mass>", "[@BOS@]", and "<|...|>", "<｜...｜>" (U+FF5C),
 * "<unused...>". */
static int looks_special(const char *s)
{
	static const char *const names[] = { "<pad>", "<mask>", "<2mass>", "[@BOS@]" };
	static const char *const ends[][2] = { { "<|", "|>" }, { "<\xef\xbd\x9c", "\xef\xbd\x9c>" }, { "<unused", ">" } };
	size_t n = strlen(s);
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (strcmp(s, names[i]) == 0)
			return 1;
	for (size_t i = 0; i < sizeof ends / sizeof *ends; i++) {
		size_t a = strlen(ends[i][0]), b = strlen(ends[i][1]);
		if (n >= a && n >= b && memcmp(s, ends[i][0], a) == 0 && memcmp(s + n - b, ends[i][1], b) == 0)
			return 1;
	}
	return 0;
}

/* An added token's type as the converter writes it: control (3) when
 * marked special or looking special, else user-defined (4), whose text
 * then has U+2581 as spaces (user_text). */
static int32_t added_type(const char *content, int special)
{
	return special || looks_special(content) ? 3 : 4;
}

/* s with U+2581 as spaces into out (room for strlen(s) + 1), or only its
 * length when out is NULL. */
static size_t user_text(const char *s, char *out)
{
	size_t k = 0;
	for (; *s; s++, k++) {
		int sp = strncmp(s, "\xe2\x96\x81", 3) == 0;
		if (out)
			out[k] = sp ? ' ' : *s;
		s += sp ? 2 : 0;
	}
	if (out)
		out[k] = 0;
	return k;
}

/* An optional JSON file beside path: 0 with *out NULL when absent. */
static int load_beside(llm_json **out, const char *path, const char *name)
{
	char *p = llm_path_beside(path, name);
	if (!p)
		return llm_err(LLM_ENOMEM, "out of memory");
	int rc = llm_json_load(out, p);
	free(p);
	if (rc == LLM_ENOTFOUND) {
		*out = NULL;
		return 0;
	}
	return rc;
}

struct vocab {
	struct llm_str *tok;
	int32_t *type;
	int64_t n;
	char *user; /* the user-defined added tokens' text (user_text) */
};

/* Put text at id (type ty); the first writer of an id wins unless over. */
static int set_token(struct vocab *v, const char *path, int64_t id, const char *text, int32_t ty, int over)
{
	if (v->tok[id].s && !over) {
		if (strcmp(v->tok[id].s, text) == 0)
			return 0;
		return llm_err(LLM_EFORMAT, "%s: id %lld is both \"%s\" and \"%s\"", path, (long long)id,
			       v->tok[id].s, text);
	}
	v->tok[id].s = (char *)text; /* borrowed from the JSON tree or v->user */
	v->tok[id].len = strlen(text);
	v->type[id] = ty;
	return 0;
}

static int read_vocab(struct vocab *v, char **pads, const char *path, const llm_json *model,
		      const llm_json *added, int64_t n_vocab)
{
	const llm_json *vj = llm_json_get(model, "vocab"), *val;
	const char *k;
	void *it = NULL;
	int64_t id, max = -1;
	if (llm_json_kind(vj) != LLM_JSON_OBJ)
		return llm_err(LLM_EFORMAT, "%s: model.vocab is not an object", path);
	while ((k = llm_json_next(vj, &it, &val)))
		if (llm_json_int(val, &id) || id < 0 || id >= INT32_MAX)
			return llm_err(LLM_EFORMAT, "%s: model.vocab[\"%s\"] is not an id", path, k);
		else if (id > max)
			max = id;
	size_t user = 0;
	for (size_t i = 0; i < llm_json_len(added); i++) {
		const llm_json *a = llm_json_at(added, i);
		const char *c = llm_json_str(llm_json_get(a, "content"));
		if (llm_json_int(llm_json_get(a, "id"), &id) || id < 0 || id >= INT32_MAX || !c)
			return llm_err(LLM_EFORMAT, "%s: added_tokens[%zu] has no id or content", path, i);
		max = id > max ? id : max;
		if (added_type(c, jbool(llm_json_get(a, "special"), 0)) == 4)
			user += user_text(c, NULL) + 1;
	}
	if (max < 0)
		return llm_err(LLM_EFORMAT, "%s: an empty vocabulary", path);
	/* gaps are padded: bound them before allocating for the largest id */
	int64_t entries = (int64_t)llm_json_len(vj) + (int64_t)llm_json_len(added);
	if (n_vocab > 0 && max >= n_vocab)
		return llm_err(LLM_EINVAL, "%s: token id %lld for a model of %lld", path, (long long)max,
			       (long long)n_vocab);
	if (max >= entries + (1 << 20))
		return llm_err(LLM_EFORMAT, "%s: token ids up to %lld for %lld tokens", path, (long long)max,
			       (long long)entries);
	v->n = max + 1 > n_vocab ? max + 1 : n_vocab;
	v->tok = calloc((size_t)v->n, sizeof *v->tok);
	v->type = calloc((size_t)v->n, sizeof *v->type);
	v->user = malloc(user ? user : 1);
	if (!v->tok || !v->type || !v->user)
		return llm_err(LLM_ENOMEM, "%s: out of memory for %lld tokens", path, (long long)v->n);
	it = NULL;
	int rc = 0;
	while (!rc && (k = llm_json_next(vj, &it, &val))) {
		llm_json_int(val, &id);
		rc = set_token(v, path, id, k, 1, 0);
	}
	/* added tokens take their ids, inside the vocab too (as the converter) */
	char *u = v->user;
	for (size_t i = 0; !rc && i < llm_json_len(added); i++) {
		const llm_json *a = llm_json_at(added, i);
		const char *c = llm_json_str(llm_json_get(a, "content"));
		int32_t ty = added_type(c, jbool(llm_json_get(a, "special"), 0));
		llm_json_int(llm_json_get(a, "id"), &id);
		if (ty == 4) {
			size_t k = user_text(c, u);
			c = u, u += k + 1;
		}
		rc = set_token(v, path, id, c, ty, 1);
	}
	return rc ? rc : llm_vocab_pad(v->tok, v->type, (uint64_t)v->n, pads);
}

/* model.merges as "a b" strings (the pair form joined) */
static int read_merges(struct llm_str **out, uint64_t *n_out, char **store, const char *path,
		       const llm_json *model)
{
	const llm_json *mj = llm_json_get(model, "merges");
	size_t n = llm_json_len(mj), bytes = 0;
	*out = NULL, *n_out = 0, *store = NULL;
	if (llm_json_kind(mj) != LLM_JSON_ARR)
		return llm_err(LLM_EFORMAT, "%s: model.merges is not an array", path);
	for (size_t i = 0; i < n; i++) {
		const llm_json *e = llm_json_at(mj, i);
		const char *a = llm_json_str(e), *b = NULL;
		if (!a && llm_json_len(e) == 2)
			a = llm_json_str(llm_json_at(e, 0)), b = llm_json_str(llm_json_at(e, 1));
		if (!a || (!b && !strchr(a, ' ')) || (b && (!*a || !*b)))
			return llm_err(LLM_EFORMAT, "%s: model.merges[%zu] is not a pair", path, i);
		bytes += strlen(a) + (b ? strlen(b) + 1 : 0) + 1;
	}
	struct llm_str *m = calloc(n ? n : 1, sizeof *m);
	char *s = malloc(bytes ? bytes : 1);
	if (!m || !s) {
		free(m), free(s);
		return llm_err(LLM_ENOMEM, "%s: out of memory for %zu merges", path, n);
	}
	char *p = s;
	for (size_t i = 0; i < n; i++) {
		const llm_json *e = llm_json_at(mj, i);
		const char *a = llm_json_str(e);
		m[i].s = p;
		if (a) {
			strcpy(p, a);
		} else {
			strcpy(p, llm_json_str(llm_json_at(e, 0)));
			strcat(p, " ");
			strcat(p, llm_json_str(llm_json_at(e, 1)));
		}
		m[i].len = strlen(p);
		p += m[i].len + 1;
	}
	*out = m, *n_out = n, *store = s;
	return 0;
}

/* The post-processor's TemplateProcessing (alone or in a sequence), or NULL. */
static const llm_json *template_of(const llm_json *pp)
{
	const char *t = llm_json_str(llm_json_get(pp, "type"));
	if (t && strcmp(t, "TemplateProcessing") == 0)
		return pp;
	const llm_json *a = t && strcmp(t, "Sequence") == 0 ? llm_json_get(pp, "processors") : NULL;
	for (size_t i = 0; i < llm_json_len(a); i++) {
		const llm_json *r = template_of(llm_json_at(a, i));
		if (r)
			return r;
	}
	return NULL;
}

/* The special token at item i of a template's "single" list, or NULL. */
static const char *template_special(const llm_json *single, size_t i)
{
	return llm_json_str(llm_json_get(llm_json_get(llm_json_at(single, i), "SpecialToken"), "id"));
}

/* tokenizer.chat_template as gguf-py writes it: a string, or a list of
 * {name, template} whose "default" is tokenizer.chat_template and whose
 * others are tokenizer.chat_template.NAME (the name's characters outside
 * [A-Za-z0-9] as '_'), listed in tokenizer.chat_templates. */
static int set_chat_template(llm_meta *tm, const llm_json *ct)
{
	static const char prefix[] = "tokenizer.chat_template.";
	const size_t pl = sizeof prefix - 1;
	if (llm_json_str(ct))
		return llm_meta_set_str(tm, "tokenizer.chat_template", llm_json_str(ct));
	size_t n = llm_json_len(ct), k = 0;
	if (llm_json_kind(ct) != LLM_JSON_ARR || !n)
		return 0;
	char **keys = calloc(n, sizeof *keys); /* the named ones' keys, each name once */
	struct llm_str *names = calloc(n, sizeof *names);
	int rc = keys && names ? 0 : llm_err(LLM_ENOMEM, "out of memory");
	for (size_t i = 0; !rc && i < n; i++) {
		const char *name = llm_json_str(llm_json_get(llm_json_at(ct, i), "name"));
		const char *t = llm_json_str(llm_json_get(llm_json_at(ct, i), "template"));
		if (!name || !*name || !t)
			continue;
		if (strcmp(name, "default") == 0) {
			rc = llm_meta_set_str(tm, "tokenizer.chat_template", t);
			continue;
		}
		size_t len = strlen(name), j = 0;
		if (!(keys[k] = malloc(pl + len + 1))) {
			rc = llm_err(LLM_ENOMEM, "out of memory");
			break;
		}
		memcpy(keys[k], prefix, pl);
		for (size_t c = 0; c <= len; c++) {
			char ch = name[c];
			keys[k][pl + c] = !ch || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
						  (ch >= '0' && ch <= '9') ? ch : '_';
		}
		rc = llm_meta_set_str(tm, keys[k], t);
		while (j < k && strcmp(keys[j], keys[k]) != 0)
			j++;
		if (j < k) { /* a name again: its template replaced the first's */
			free(keys[k]);
			keys[k] = NULL;
			continue;
		}
		names[k] = (struct llm_str){ len, keys[k] + pl };
		k++;
	}
	if (!rc && k)
		rc = llm_meta_set_arr_str(tm, "tokenizer.chat_templates", names, k);
	for (size_t j = 0; keys && j < k; j++)
		free(keys[j]);
	free(keys);
	free(names);
	return rc;
}

/* The chat template when there is a tokenizer_config.json (tc), as
 * gguf-py's SpecialVocab finds it: tc's chat_template (null: none), else
 * chat_template.jinja beside path, else chat_template.json's
 * chat_template. */
static int read_chat_template(llm_meta *tm, const char *path, const llm_json *tc)
{
	const llm_json *ct = llm_json_get(tc, "chat_template");
	if (!tc || llm_json_kind(ct) != LLM_JSON_NONE)
		return set_chat_template(tm, ct);
	char *p = llm_path_beside(path, "chat_template.jinja");
	struct llm_map m;
	int rc = p ? llm_map_open(&m, p) : llm_err(LLM_ENOMEM, "out of memory");
	free(p);
	if (!rc) {
		rc = llm_meta_set_strn(tm, "tokenizer.chat_template", (const char *)m.data, (size_t)m.size);
		llm_map_close(&m);
		return rc;
	}
	if (rc != LLM_ENOTFOUND)
		return rc;
	llm_json *cj = NULL;
	if ((rc = load_beside(&cj, path, "chat_template.json")) == 0)
		rc = set_chat_template(tm, llm_json_get(cj, "chat_template"));
	llm_json_free(cj);
	return rc;
}

/* Special ids and add_bos/add_eos: the post-processor's template first (a
 * special token before the text is BOS, one after it EOS; root NULL: no
 * template), then tokenizer_config.json, whose add_bos_token/add_eos_token
 * win; ids still missing from config.json's *_token_id.  As gguf-py's
 * SpecialVocab. */
static int read_specials(llm_meta *tm, const char *path, const struct llm_str *tok, int64_t n,
			 const llm_json *root)
{
	static const char *const names[] = { "bos_token", "eos_token", "unk_token", "pad_token" };
	static const char *const ids_cf[] = { "bos_token_id", "eos_token_id", "unk_token_id", "pad_token_id" };
	static const char *const keys[] = { "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
					    "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id" };
	llm_json *tc = NULL, *cf = NULL;
	int64_t ids[4] = { -1, -1, -1, -1 };
	const llm_json *single = llm_json_get(template_of(llm_json_get(root, "post_processor")), "single");
	size_t ns = llm_json_len(single);
	const char *tb = ns > 1 ? template_special(single, 0) : NULL;
	const char *te = ns > 1 ? template_special(single, ns - 1) : NULL;
	int add_bos = ns ? tb != NULL : -1, add_eos = ns ? te != NULL : -1;
	int rc = load_beside(&tc, path, "tokenizer_config.json");
	if (!rc)
		rc = load_beside(&cf, path, "config.json");
	for (int i = 0; !rc && i < 4; i++) {
		ids[i] = find_token(tok, n, token_text(llm_json_get(tc, names[i])));
		if (ids[i] < 0 && i < 2)
			ids[i] = find_token(tok, n, i ? te : tb);
		/* an id, or a list of them (Llama 3.1's eos): the first */
		const llm_json *cj = llm_json_get(cf, ids_cf[i]);
		int64_t id;
		if (llm_json_kind(cj) == LLM_JSON_ARR)
			cj = llm_json_at(cj, 0);
		if (ids[i] < 0 && !llm_json_int(cj, &id) && id >= 0 && id < n)
			ids[i] = id;
		if (ids[i] >= 0)
			rc = llm_meta_set_u32(tm, keys[i], (uint32_t)ids[i]);
	}
	if (!rc)
		rc = read_chat_template(tm, path, tc);
	llm_json_bool(llm_json_get(tc, "add_bos_token"), &add_bos);
	llm_json_bool(llm_json_get(tc, "add_eos_token"), &add_eos);
	if (!rc && add_bos >= 0)
		rc = llm_meta_set_bool(tm, "tokenizer.ggml.add_bos_token", add_bos);
	if (!rc && add_eos >= 0)
		rc = llm_meta_set_bool(tm, "tokenizer.ggml.add_eos_token", add_eos);
	llm_json_free(tc);
	llm_json_free(cf);
	return rc;
}

int llm_hf_specials(llm_meta *m, const char *path, const struct llm_str *tok, int64_t n)
{
	return read_specials(m, path, tok, n, NULL);
}

/* An id as a tokenizer_config.json added_tokens_decoder key: decimal
 * digits, at most INT32_MAX - 1. */
static int64_t key_id(const char *k)
{
	int64_t id = 0;
	if (!*k)
		return -1;
	for (; *k; k++) {
		if (*k < '0' || *k > '9' || id > INT32_MAX / 10)
			return -1;
		id = id * 10 + (*k - '0');
	}
	return id < INT32_MAX ? id : -1;
}

/* One pass over the added tokens beside a tokenizer.model (see
 * llm_hf_added_tokens): with u NULL, check them and count the bytes of
 * their text (*bytes); otherwise put those with ids below n into
 * tok/score/type, their text copied to u. */
static int added_pass(const char *dir_at, const llm_json *at, const char *dir_tc, const llm_json *dec,
		      struct llm_str *tok, float *score, int32_t *type, int64_t n, char *u, size_t *bytes)
{
	const llm_json *val;
	const char *k;
	void *it = NULL;
	int64_t id;
	if (at && llm_json_kind(at) != LLM_JSON_OBJ)
		return llm_err(LLM_EFORMAT, "%s: not an object of token -> id", dir_at);
	while ((k = llm_json_next(at, &it, &val))) {
		if (llm_json_int(val, &id) || id < 0 || id >= INT32_MAX)
			return llm_err(LLM_EFORMAT, "%s: \"%s\" has no id", dir_at, k);
		if (!*k)
			return llm_err(LLM_EFORMAT, "%s: an empty token (id %lld)", dir_at, (long long)id);
		if (id >= n) /* as the converter: past the embedding, ignored */
			continue;
		if (!u) {
			*bytes += strlen(k) + 1;
			continue;
		}
		strcpy(u, k);
		tok[id] = (struct llm_str){ strlen(u), u };
		u += tok[id].len + 1;
		score[id] = -1000.0f, type[id] = 4;
	}
	if (dec && llm_json_kind(dec) != LLM_JSON_OBJ)
		return llm_err(LLM_EFORMAT, "%s: added_tokens_decoder is not an object", dir_tc);
	it = NULL;
	while ((k = llm_json_next(dec, &it, &val))) {
		const char *c = llm_json_str(llm_json_get(val, "content"));
		if ((id = key_id(k)) < 0 || !c || !*c)
			return llm_err(LLM_EFORMAT, "%s: added_tokens_decoder[\"%s\"] has no id or content", dir_tc, k);
		if (id >= n)
			continue;
		int32_t ty = added_type(c, jbool(llm_json_get(val, "special"), 0));
		size_t len = ty == 4 ? user_text(c, u) : strlen(c);
		if (!u) {
			*bytes += len + 1;
			continue;
		}
		if (ty == 3)
			strcpy(u, c);
		tok[id] = (struct llm_str){ len, u };
		u += len + 1;
		score[id] = -1000.0f, type[id] = ty;
	}
	return 0;
}

int llm_hf_config_vocab(const char *path, int64_t *n_vocab)
{
	llm_json *cfg = NULL;
	int64_t v;
	*n_vocab = -1;
	int rc = load_beside(&cfg, path, "config.json");
	if (!rc && llm_json_int(llm_json_get(cfg, "vocab_size"), &v) == 0 && v > 0 && v <= INT32_MAX)
		*n_vocab = v;
	llm_json_free(cfg);
	return rc;
}

int llm_hf_added_tokens(const char *path, struct llm_str *tok, float *score, int32_t *type, int64_t n,
			char **store)
{
	llm_json *at = NULL, *tc = NULL;
	char *p_at = llm_path_beside(path, "added_tokens.json");
	char *p_tc = llm_path_beside(path, "tokenizer_config.json");
	size_t bytes = 0;
	*store = NULL;
	int rc = p_at && p_tc ? 0 : llm_err(LLM_ENOMEM, "out of memory");
	if (!rc)
		rc = load_beside(&at, path, "added_tokens.json");
	if (!rc)
		rc = load_beside(&tc, path, "tokenizer_config.json");
	const llm_json *dec = llm_json_get(tc, "added_tokens_decoder");
	if (!rc)
		rc = added_pass(p_at, at, p_tc, dec, tok, score, type, n, NULL, &bytes);
	if (!rc && bytes && !(*store = malloc(bytes)))
		rc = llm_err(LLM_ENOMEM, "%s: out of memory for the added tokens", path);
	if (!rc && bytes)
		rc = added_pass(p_at, at, p_tc, dec, tok, score, type, n, *store, &bytes);
	llm_json_free(at);
	llm_json_free(tc);
	free(p_at);
	free(p_tc);
	return rc;
}

static uint64_t skip_ws(const uint8_t *d, uint64_t size, uint64_t i)
{
	while (i < size && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' || d[i] == '\r'))
		i++;
	return i;
}

int llm_hftok_sniff(const uint8_t *d, uint64_t size)
{
	/* an object whose first key begins: '{' then '"' (a llama2.c
	 * tokenizer.bin of max_token_length 123 starts with '{' and a 0) */
	uint64_t i = skip_ws(d, size, 0);
	if (i >= size || d[i] != '{')
		return 0;
	i = skip_ws(d, size, i + 1);
	return i < size && d[i] == '"';
}

int llm_hftok_tokenizer(llm_meta *tm, const char *path, const uint8_t *d, uint64_t size, int64_t n_vocab)
{
	llm_json *root = NULL;
	struct vocab v = { 0 };
	struct llm_str *merges = NULL;
	uint64_t n_merges = 0;
	char *pads = NULL, *mstore = NULL;
	int oom = 0;
	int rc = llm_json_parse(&root, d, (size_t)size, path);
	if (rc)
		return rc;
	const llm_json *model = llm_json_get(root, "model");
	const char *type = llm_json_str(llm_json_get(model, "type"));
	const char *pre = NULL;
	if (!type || strcmp(type, "BPE") != 0)
		rc = llm_err(LLM_EUNSUPPORTED, "%s: model type %s: only byte-level BPE tokenizer.json is read", path,
			     type ? type : "(none)");
	else if (jbool(llm_json_get(model, "byte_fallback"), 0))
		rc = llm_err(LLM_EUNSUPPORTED, "%s: a SentencePiece vocabulary (byte_fallback): give its tokenizer.model",
			     path);
	else if (!(pre = match_pre(root, &oom)))
		rc = oom ? llm_err(LLM_ENOMEM, "out of memory")
			 : llm_err(LLM_EUNSUPPORTED, "%s: a pre-tokenizer (with its normalizer) llama.cpp does not name (GPT-2, GPT-4, Llama 3, "
				   "Qwen2, tekken, StarCoder, Falcon, DeepSeek Coder and V3 are read): convert the model with llama.cpp and "
				   "give the GGUF with --tokenizer", path);
	if (!rc) rc = read_vocab(&v, &pads, path, model, llm_json_get(root, "added_tokens"), n_vocab);
	if (!rc) rc = read_merges(&merges, &n_merges, &mstore, path, model);
	if (!rc) rc = llm_meta_set_str(tm, "tokenizer.ggml.model", "gpt2");
	if (!rc) rc = llm_meta_set_str(tm, "tokenizer.ggml.pre", pre);
	if (!rc) rc = llm_meta_set_arr_str(tm, "tokenizer.ggml.tokens", v.tok, (uint64_t)v.n);
	if (!rc) rc = llm_meta_set_arr(tm, "tokenizer.ggml.token_type", LLM_V_I32, v.type, (uint64_t)v.n);
	if (!rc) rc = llm_meta_set_arr_str(tm, "tokenizer.ggml.merges", merges, n_merges);
	if (!rc) rc = read_specials(tm, path, v.tok, v.n, root);
	free(v.tok);
	free(v.type);
	free(v.user);
	free(pads);
	free(merges);
	free(mstore);
	llm_json_free(root);
	return rc;
}
