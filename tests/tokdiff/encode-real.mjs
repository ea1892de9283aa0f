// The ids transformers.js (@lenml/tokenizers) gives each string of a JSON
// array (stdin) with the Hub's tokenizer.json of each @lenml/tokenizer-NAME
// package named on the command line, without special tokens, as
// {"NAME": [[ids...], ...], ...}.
import fs from 'fs';
const strs = JSON.parse(fs.readFileSync(0, 'utf8'));
const out = {};
for (const name of process.argv.slice(2)) {
	const tok = (await import(`@lenml/tokenizer-${name}`)).fromPreTrained();
	out[name] = strs.map(s => tok.encode(s, { add_special_tokens: false }));
}
process.stdout.write(JSON.stringify(out));
