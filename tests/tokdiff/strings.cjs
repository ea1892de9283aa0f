// Random test strings for tokdiff.sh, as a JSON array on stdout:
//   node strings.cjs SEED N [ascii-digits]
// Half are runs of words, contractions, numbers, punctuation and
// whitespace; half are random code points from many scripts and planes.
// ascii-digits leaves out numeric characters other than 0-9: tokenizers.js
// splits off only 0-9 as digits, Hugging Face's Rust code every numeric one.
// U+0085 and U+FEFF are left out: JavaScript's \s includes U+FEFF and
// leaves out U+0085, the reverse of Unicode's White_Space, which PCRE2,
// llama.cpp and Hugging Face's tokenizers follow.
'use strict';
let seed = (Number(process.argv[2]) || 1) >>> 0;
const n = Number(process.argv[3]) || 1000;
const asciiDigits = process.argv[4] === 'ascii-digits';
const allowed = t => !asciiDigits || !/[^\P{N}0-9]/u.test(t);
function rnd() {
	seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0;
	return seed / 4294967296;
}
const pick = a => a[Math.floor(rnd() * a.length)];
const pickOk = a => { for (;;) { const t = pick(a); if (allowed(t)) return t; } };
const words = ['the', 'The', 'THE', 'hello', 'world', "don't", "I'm", "you're", "we've", "they'll",
	"he'd", "IT'S", "can't", 'naïve', 'café', 'straße', 'Ελληνικά', 'русский', '日本語', '中文',
	'한국어', 'עברית', 'العربية', 'हिन्दी', 'ไทย', '😀', '👍🏽', '🇩🇪', 'a', 'x', 'foo_bar',
	'camelCase', 'HTTP', 'e.g.', 'U.S.A.', '123', '4567', '3.14159', '1,000,000', '0x1F',
	'2024-01-01', 'v1.2.3', '#include', '<div>', '&amp;', '@user', '...', '!!!', '--', '—',
	'“quoted”', '"double"', '(paren)', '{brace}', 'a+b=c', '50%', '$100', '€20', 'e\u0301',
	'ﬁ', 'Ⅻ', '½', '²', '٣', '१२३', '𝔘𝔫𝔦', '\u200b', '\u00a0', '\t', '\n', '\r\n', ' ', '  ', '\n\n'];
const seps = [' ', ' ', ' ', '', '  ', '\n', '\t', ' \n ', '\n\n', '   ', ',', '.', "'", "'s", "'S", "'ll"];
const ranges = [[0x20, 0x7e], [0x20, 0x7e], [0x9, 0xd], [0xa0, 0x24f], [0x300, 0x36f], [0x370, 0x3ff],
	[0x400, 0x4ff], [0x590, 0x6ff], [0x900, 0x97f], [0xe00, 0xe7f], [0x1100, 0x11ff], [0x2000, 0x206f],
	[0x2070, 0x218f], [0x2460, 0x24ff], [0x3000, 0x303f], [0x3040, 0x30ff], [0x4e00, 0x9fff],
	[0xac00, 0xd7a3], [0xff00, 0xffef], [0x1d400, 0x1d7ff], [0x1f300, 0x1faff], [0x10000, 0x10fff],
	[0x20000, 0x2a6df], [0xe0000, 0xe007f]];
const out = [];
for (let i = 0; i < n; i++) {
	let s = '';
	if (i % 2 === 0) {
		for (let k = 1 + Math.floor(rnd() * 12); k > 0; k--)
			s += pickOk(words) + (rnd() < 0.8 ? pick(seps) : '');
		if (rnd() < 0.2) s = ' ' + s;
	} else {
		const rs = [pick(ranges), pick(ranges), [0x20, 0x7e], [0x20, 0x20]];
		for (let k = 1 + Math.floor(rnd() * 40); k > 0; k--) {
			const r = pick(rs), cp = r[0] + Math.floor(rnd() * (r[1] - r[0] + 1));
			if ((cp < 0xd800 || cp > 0xdfff) && allowed(String.fromCodePoint(cp)))
				s += String.fromCodePoint(cp);
		}
	}
	out.push(s);
}
process.stdout.write(JSON.stringify(out));
