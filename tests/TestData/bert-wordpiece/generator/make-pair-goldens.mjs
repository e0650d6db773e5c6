// Writes ../golden/pairs.jsonl: (query, document) pairs encoded by the Hugging Face tokenizers library itself
// (Rust tokenizers 0.22.2 through the node binding @anush008/tokenizers 0.6.0, the binding fastembed-js uses) with
// ../tokenizer.json, truncated with the LongestFirst strategy transformers' fast tokenizers use
// (tokenizer(q, d, truncation=True, max_length=N)): input ids and token type ids.
// Usage: npm ci && node make-pair-goldens.mjs
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tokenizer } from '@anush008/tokenizers';

const here = dirname(fileURLToPath(import.meta.url));
const tokenizerPath = join(here, '..', 'tokenizer.json');
const vocab = readFileSync(join(here, '..', 'vocab.txt'), 'utf8').split('\n').filter((w) => /^[a-z]{2,}$/.test(w));

// A seeded generator (mulberry32), so the file is reproducible.
let state = 20261206;
const random = () => {
  state = (state + 0x6d2b79f5) | 0;
  let t = Math.imul(state ^ (state >>> 15), 1 | state);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = (list) => list[Math.floor(random() * list.length)];
const ranges = [[0x41, 0x5a], [0xc0, 0x17f], [0x300, 0x36f], [0x4e00, 0x9fff], [0xac00, 0xd7a3], [0x3040, 0x30ff], [0x21, 0x2f], [0x2000, 0x206f], [0x1f600, 0x1f64f], [0x0, 0x1f]];
const extras = ['[CLS]', '[SEP]', '[MASK]', 'naïve', 'Café', "don't", '3.14', 'e\u0301', '\u00a0', '\t', 'İstanbul', '한국어', '東京'];

function text(words) {
  const parts = [];
  for (let i = 0; i < words; i++) {
    const r = random();
    if (r < 0.75) parts.push(random() < 0.2 ? pick(vocab).toUpperCase() : pick(vocab));
    else if (r < 0.85) parts.push(pick(extras));
    else {
      const [from, to] = pick(ranges);
      let s = '';
      const n = 1 + Math.floor(random() * 4);
      for (let k = 0; k < n; k++) s += String.fromCodePoint(from + Math.floor(random() * (to - from + 1)));
      parts.push(s);
    }
    if (random() < 0.1) parts.push(pick([',', '.', '?', '!', ';', ':']));
  }
  return parts.join(random() < 0.9 ? ' ' : '  ');
}

const lengths = [0, 1, 3, 8, 20, 60, 150, 400, 700];
const maxLengths = [8, 9, 12, 32, 128, 512];
const tokenizer = Tokenizer.fromFile(tokenizerPath);
const rows = [];
for (let n = 0; n < 300; n++) {
  const query = text(pick(lengths.slice(0, 7)));
  const document = text(pick(lengths));
  const maxLength = pick(maxLengths);
  tokenizer.setTruncation(maxLength, { strategy: 'LongestFirst' });
  const encoding = await tokenizer.encode(query, document);
  rows.push({ query, document, max_length: maxLength, ids: encoding.getIds(), type_ids: encoding.getTypeIds() });
}

mkdirSync(join(here, '..', 'golden'), { recursive: true });
const header = { source: 'Hugging Face tokenizers 0.22.2 (node binding @anush008/tokenizers 0.6.0), tokenizer.json of this folder, encode(query, document) with truncation LongestFirst at max_length', generator: 'tests/TestData/bert-wordpiece/generator/make-pair-goldens.mjs' };
writeFileSync(join(here, '..', 'golden', 'pairs.jsonl'), [JSON.stringify({ header }), ...rows.map((r) => JSON.stringify(r))].join('\n') + '\n');
const truncated = rows.filter((r) => r.ids.length === r.max_length).length;
console.log(`pairs.jsonl: ${rows.length} pairs, ${truncated} at max_length`);
