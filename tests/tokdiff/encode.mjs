// The ids independent tokenizers give each string of a JSON array (stdin),
// without BOS or other special tokens, as {"NAME": [[ids...], ...], ...}:
//   gpt-2      gpt-tokenizer's r50k_base: GPT-2's BPE and pre-tokenizer regex
//   llama-spm  llama-tokenizer-js: LLaMA 1/2's SentencePiece vocabulary
//   NAME       for each tok-NAME.json named on the command line (hf_json.py):
//              tokenizers.js, Hugging Face's tokenizers in JavaScript
import fs from 'fs';
import { createRequire } from 'module';
import llama from 'llama-tokenizer-js';
import { Tokenizer } from '@huggingface/tokenizers';
const require = createRequire(process.cwd() + '/');
const { encode } = require('gpt-tokenizer/cjs/encoding/r50k_base');
const strs = JSON.parse(fs.readFileSync(0, 'utf8'));
const out = {
	'gpt-2': strs.map(s => encode(s)),
	'llama-spm': strs.map(s => llama.encode(s, false, true)),
};
for (const name of process.argv.slice(2)) {
	const tok = new Tokenizer(JSON.parse(fs.readFileSync(`tok-${name}.json`, 'utf8')), {});
	out[name] = strs.map(s => tok.encode(s, { add_special_tokens: false }).ids);
}
process.stdout.write(JSON.stringify(out));
