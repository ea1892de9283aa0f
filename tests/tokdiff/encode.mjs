// The ids two independent tokenizers give each string of a JSON array
// (stdin), without BOS: {"gpt-2": [...], "llama-spm": [...]} on stdout.
//   gpt-tokenizer's r50k_base: GPT-2's BPE and pre-tokenizer regex
//   llama-tokenizer-js: LLaMA 1/2's SentencePiece vocabulary and merges
import fs from 'fs';
import { createRequire } from 'module';
import llama from 'llama-tokenizer-js';
const require = createRequire(process.cwd() + '/');
const { encode } = require('gpt-tokenizer/cjs/encoding/r50k_base');
const strs = JSON.parse(fs.readFileSync(0, 'utf8'));
process.stdout.write(JSON.stringify({
	'gpt-2': strs.map(s => encode(s)),
	'llama-spm': strs.map(s => llama.encode(s, false, true)),
}));
