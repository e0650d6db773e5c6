// Transformers.js peer for tests/Reranker.Benchmarks: loads one model directory the way Transformers.js documents
// (AutoTokenizer + AutoModelForSequenceClassification, local files only) and answers JSON-line requests on stdin,
// one JSON line per answer on stdout, so the C# harness can interleave its own runs with the peer's.
//
//   node peer.mjs <model root> <model name>        (the model is <model root>/<model name>/{config.json, tokenizer.json, onnx/model.onnx})
//
// Requests ({"op": ...}):
//   users    {query, docs, max_length}  the call as users write it: the tokenizer on the whole candidate list with
//                                       padding and truncation, then the model on that one padded batch
//   batches  {batches: [{rows, cols, ids: [...], mask: [...]}]}  the same model fed ready-made padded batches
//   tokenize {query, docs, max_length}  token ids only (unpadded), to compare with ours
//   memory   {}                         VmHWM / VmRSS of this process
//   quit     {}
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { env, AutoTokenizer, AutoModelForSequenceClassification, Tensor } from '@huggingface/transformers';

const [root, name] = process.argv.slice(2);
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = root.endsWith('/') ? root : root + '/';

function memory() {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)[1]);
  return { peak_rss_mb: kb('VmHWM') / 1024, rss_mb: kb('VmRSS') / 1024 };
}

const t0 = performance.now();
const tokenizer = await AutoTokenizer.from_pretrained(name);
// dtype 'fp32' selects onnx/model.onnx; the int8 directory holds the quantized graph under that name.
// No session_options: ONNX Runtime's defaults, as a user of the library gets them.
const model = await AutoModelForSequenceClassification.from_pretrained(name, { dtype: 'fp32', device: 'cpu' });
const loadMs = performance.now() - t0;

const pkg = (p) => JSON.parse(readFileSync(new URL(`./node_modules/${p}/package.json`, import.meta.url), 'utf8')).version;
const send = (o) => process.stdout.write(JSON.stringify(o) + '\n');
send({
  ready: true,
  load_ms: loadMs,
  node: process.version,
  transformers: pkg('@huggingface/transformers'),
  onnxruntime_node: pkg('onnxruntime-node'),
  ...memory(),
});

function encode(query, docs, maxLength) {
  return tokenizer(new Array(docs.length).fill(query), {
    text_pair: docs,
    padding: true,
    truncation: true,
    max_length: maxLength,
  });
}

for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (!line.trim()) continue;
  const req = JSON.parse(line);
  try {
    switch (req.op) {
      case 'users': {
        const start = performance.now();
        const inputs = encode(req.query, req.docs, req.max_length);
        const tokenized = performance.now();
        const { logits } = await model(inputs);
        const end = performance.now();
        send({
          ms: end - start,
          tokenize_ms: tokenized - start,
          rows: inputs.input_ids.dims[0],
          cols: inputs.input_ids.dims[1],
          logits: Array.from(logits.data),
        });
        break;
      }
      case 'batches': {
        // Build every tensor first: only the model calls are timed.
        const feeds = req.batches.map((b) => ({
          rows: b.rows,
          input_ids: new Tensor('int64', BigInt64Array.from(b.ids, BigInt), [b.rows, b.cols]),
          attention_mask: new Tensor('int64', BigInt64Array.from(b.mask, BigInt), [b.rows, b.cols]),
        }));
        const logits = [];
        const times = [];
        for (const f of feeds) {
          const start = performance.now();
          const out = await model({ input_ids: f.input_ids, attention_mask: f.attention_mask });
          times.push(performance.now() - start);
          logits.push(...Array.from(out.logits.data));
        }
        send({ ms: times.reduce((a, b) => a + b, 0), batch_ms: times, logits });
        break;
      }
      case 'tokenize': {
        const inputs = encode(req.query, req.docs, req.max_length);
        const [rows, cols] = inputs.input_ids.dims;
        const ids = [];
        for (let r = 0; r < rows; r++) {
          const row = [];
          for (let c = 0; c < cols; c++) {
            if (inputs.attention_mask.data[r * cols + c] !== 0n) row.push(Number(inputs.input_ids.data[r * cols + c]));
          }
          ids.push(row);
        }
        send({ ids });
        break;
      }
      case 'memory':
        send(memory());
        break;
      case 'quit':
        send({ bye: true });
        process.exit(0);
      default:
        send({ error: `unknown op ${req.op}` });
    }
  } catch (e) {
    send({ error: String(e?.stack ?? e) });
  }
}
