/* unicode.h - small UTF-8 helpers and GPT-2's byte-to-character map.
 *
 * Unicode character classes (\p{L}, \p{N}, ...) are PCRE2's business (see
 * regex.h); what is here is only what the tokenizers need byte-wise.
 * Pure functions, no state.
 */
#ifndef LLM_UNICODE_H
#define LLM_UNICODE_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of the sequence lead byte c announces, llama.cpp's rule: by the
 * high nibble (0xxx and stray 10xx: 1, 110x: 2, 1110: 3, 1111: 4).  For
 * cutting text into characters; does not validate. */
size_t llm_utf8_lead_len(unsigned char c);

/* Bytes of the well-formed sequence lead byte c starts (1..4), or 0 when c
 * can never start one (10xxxxxx, C0, C1, F5..FF). */
int llm_utf8_seq_len(unsigned char c);

/* Whether byte c may follow the pending bytes p[0..np) (1 <= np < 4) of a
 * well-formed sequence (the second byte also rules out overlongs,
 * surrogates and code points past U+10FFFF). */
int llm_utf8_may_follow(const unsigned char *p, int np, unsigned char c);

/* Write code point cp (<= 0x10FFFF) as UTF-8 to out (room for 4); returns
 * the byte count. */
size_t llm_utf8_encode(char *out, uint32_t cp);

/* Decode the well-formed character at s (n > 0 bytes available) into *cp;
 * returns its length, or 0 when s does not start a well-formed character. */
size_t llm_utf8_decode(const char *s, size_t n, uint32_t *cp);

/* Bytes of s[0..n) that are well-formed UTF-8 from the start (n when all). */
size_t llm_utf8_valid_len(const char *s, size_t n);

/* Text as llama.cpp's byte-level BPE sees it (unicode_cpts_from_utf8,
 * then back to UTF-8): a byte that starts no sequence, or a sequence cut
 * short or broken by a byte that is no continuation byte, becomes U+FFFD
 * (that one byte consumed); an overlong form is read for the code point it
 * spells (C0 AF is '/') and written in its shortest form; surrogates are
 * written as they came.  A code point past U+10FFFF (F4 90.. to F7 BF..),
 * on which llama.cpp throws, becomes U+FFFD too.  out needs 3 n bytes;
 * returns the length written.  Well-formed text comes out unchanged. */
size_t llm_utf8_as_llama(char *out, const char *s, size_t n);

/* GPT-2's bytes_to_unicode: the code point byte b is written as in
 * byte-level BPE vocabularies (printable Latin-1 bytes stand for
 * themselves; the other 68 take U+0100.. in byte order, so ' ' is U+0120
 * 'Ġ' and '\n' is U+010A 'Ċ'). */
uint32_t llm_gpt2_byte_cp(int b);
/* The inverse: the byte cp stands for, or -1. */
int llm_gpt2_cp_byte(uint32_t cp);

#endif
