// Writes ../tokenizer.json from ../vocab.txt in the shape transformers' BertConverter (convert_slow_tokenizer.py)
// gives BertTokenizerFast for an uncased BERT vocabulary, the shape cross-encoder/ms-marco-MiniLM-L6-v2 ships:
// BertNormalizer (lowercase, accents stripped by default, CJK spacing, text cleaning), BertPreTokenizer,
// WordPiece ([UNK], "##", 100 characters), TemplateProcessing [CLS] $A [SEP] $B:1 [SEP]:1.
// Usage: node make-tokenizer-json.mjs   (no dependencies)
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const lines = readFileSync(join(here, '..', 'vocab.txt'), 'utf8').split('\n');
if (lines.at(-1) === '') lines.pop();
const vocab = {};
lines.forEach((piece, id) => { if (!(piece in vocab)) vocab[piece] = id; });

const special = (content) => ({ id: vocab[content], content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
const seq = (id, type_id) => ({ Sequence: { id, type_id } });
const tok = (id, type_id) => ({ SpecialToken: { id, type_id } });
const specialTokens = Object.fromEntries(['[CLS]', '[SEP]'].map((t) => [t, { id: t, ids: [vocab[t]], tokens: [t] }]));

const tokenizer = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].map(special),
  normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
  pre_tokenizer: { type: 'BertPreTokenizer' },
  post_processor: {
    type: 'TemplateProcessing',
    single: [tok('[CLS]', 0), seq('A', 0), tok('[SEP]', 0)],
    pair: [tok('[CLS]', 0), seq('A', 0), tok('[SEP]', 0), seq('B', 1), tok('[SEP]', 1)],
    special_tokens: specialTokens,
  },
  decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
  model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
};
writeFileSync(join(here, '..', 'tokenizer.json'), JSON.stringify(tokenizer, null, 2) + '\n');
console.log(`tokenizer.json: ${Object.keys(vocab).length} pieces`);
