// Writes ../golden/scores.jsonl: reference logits of the tiny BERT cross-encoder in this folder (../onnx/model.onnx,
// ../tokenizer.json), computed by Transformers.js 4.3.1 (onnxruntime-node 1.30.0) as bench/peer installs it.
//
//  - Pairs that fit in max_length: Transformers.js does everything, as a user calls it:
//    tokenizer(query, { text_pair: document }) then AutoModelForSequenceClassification on those inputs.
//  - Pairs that must be truncated, and pairs with an empty document (see below): Transformers.js 4.3.1 cuts the encoded sequence (special tokens included) at
//    max_length, unlike transformers, so the ids come from the Hugging Face tokenizers library's own pair encoding
//    with LongestFirst truncation (Rust 0.22.2 through @anush008/tokenizers 0.6.0, as transformers' fast tokenizer
//    truncates), and Transformers.js's model is fed those ids.
// Each row: query, document, max_length, truncated, ids, type_ids, logit, and who tokenized.
//
// Usage: (cd ../../../../bench/peer && ONNXRUNTIME_NODE_INSTALL=skip npm ci)
//        (cd ../../bert-wordpiece/generator && npm ci)
//        node make-score-goldens.mjs
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const modelDir = resolve(here, '..');
const peer = resolve(here, '../../../../bench/peer/node_modules');
const { env, AutoTokenizer, AutoModelForSequenceClassification, Tensor } = await import(pathToFileURL(join(peer, '@huggingface/transformers/dist/transformers.node.mjs')).href);
const { Tokenizer } = await import(pathToFileURL(resolve(here, '../../bert-wordpiece/generator/node_modules/@anush008/tokenizers/index.js')).href);

env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = dirname(modelDir) + '/';
const name = 'tiny-bert-reranker';
const tokenizer = await AutoTokenizer.from_pretrained(name);
const model = await AutoModelForSequenceClassification.from_pretrained(name, { dtype: 'fp32', device: 'cpu' });
const rust = Tokenizer.fromFile(join(modelDir, 'tokenizer.json'));

const vocab = readFileSync(resolve(here, '../../bert-wordpiece/vocab.txt'), 'utf8').split('\n').filter((w) => /^[a-z]{2,}$/.test(w));
let state = 512;
const random = () => {
  state = (state + 0x6d2b79f5) | 0;
  let t = Math.imul(state ^ (state >>> 15), 1 | state);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = (list) => list[Math.floor(random() * list.length)];
const extras = ['naïve', 'Café', "don't", '3.14', 'İstanbul', '한국어 문장', '東京タワー', 'ÅNGSTRÖM', '[MASK]', 'e\u0301', '😀', 'U.S.A.', '(parenthesis)', 'co-operate'];
const text = (words) => Array.from({ length: words }, () => (random() < 0.85 ? (random() < 0.15 ? pick(vocab).toUpperCase() : pick(vocab)) : pick(extras))).join(' ');

const ids64 = (a) => new Tensor('int64', BigInt64Array.from(a.map(BigInt)), [1, a.length]);
const rows = [];
for (let n = 0; n < 320; n++) {
  const query = text(1 + Math.floor(random() * 12));
  const long = random() < 0.3;
  const document = text(long ? 40 + Math.floor(random() * 500) : Math.floor(random() * 40));
  const maxLength = pick([512, 512, 64, 24]);
  rust.setTruncation(100000, { strategy: 'LongestFirst' });
  const full = (await rust.encode(query, document)).getIds().length;
  const truncated = full > maxLength;
  let ids, typeIds, by;
  // An empty document is a pair with an empty second text, as sentence-transformers' batched calls frame it;
  // Transformers.js (like a single transformers call) reads text_pair "" as no pair, so those go to the Rust library too.
  if (!truncated && document !== '') {
    const enc = tokenizer(query, { text_pair: document });
    ids = Array.from(enc.input_ids.data, Number);
    typeIds = Array.from(enc.token_type_ids.data, Number);
    by = 'transformers.js';
  } else {
    rust.setTruncation(maxLength, { strategy: 'LongestFirst' });
    const enc = await rust.encode(query, document);
    ids = enc.getIds();
    typeIds = enc.getTypeIds();
    by = 'tokenizers (LongestFirst)';
  }

  const output = await model({ input_ids: ids64(ids), attention_mask: ids64(ids.map(() => 1)), token_type_ids: ids64(typeIds) });
  rows.push({ query, document, max_length: maxLength, truncated, tokenized_by: by, ids, type_ids: typeIds, logit: output.logits.data[0] });
}

const pkg = (p) => JSON.parse(readFileSync(join(peer, p, 'package.json'), 'utf8')).version;
const header = {
  source: `Transformers.js ${pkg('@huggingface/transformers')} with onnxruntime-node ${pkg('onnxruntime-node')} on node ${process.version}, model ../onnx/model.onnx (fp32), tokenizer ../tokenizer.json; truncated pairs tokenized by Hugging Face tokenizers 0.22.2 (LongestFirst) and fed to the Transformers.js model`,
  generator: 'tests/TestData/tiny-bert-reranker/generator/make-score-goldens.mjs',
};
mkdirSync(join(modelDir, 'golden'), { recursive: true });
writeFileSync(join(modelDir, 'golden', 'scores.jsonl'), [JSON.stringify({ header }), ...rows.map((r) => JSON.stringify(r))].join('\n') + '\n');
console.log(`scores.jsonl: ${rows.length} pairs, ${rows.filter((r) => r.truncated).length} truncated`);
