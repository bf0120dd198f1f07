// llama.cpp's perplexity (node-llama-cpp, the bench peer) over the very tokens and chunks of a moge
// KL-divergence base file, to check `moge perplexity` against the reference engine on the same GGUF file.
// usage: node peer-ppl.mjs MODEL.gguf BASE.kld [THREADS]   -> one JSON line: {ppl, count, chunks, ctx}
// Run from the folder where node-llama-cpp@3.21.1 is installed (bench-vs-llama.sh's scratch folder).
// The base file's header (moge-core KlDivergence): "MOGEKLD2", int32 vocab, ctx, chunks, token count, tokens.
import {readFileSync} from "node:fs";
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const [modelPath, basePath, threadsArg] = process.argv.slice(2);
const threads = Number(threadsArg ?? 2);
const buf = readFileSync(basePath);
if (buf.toString("latin1", 0, 8) !== "MOGEKLD2") throw new Error(basePath + ": not a moge KL-divergence base file");
const ctxLen = buf.readInt32LE(12), chunks = buf.readInt32LE(16), nt = buf.readInt32LE(20);
const tokens = Array.from({length: nt}, (_, i) => buf.readInt32LE(24 + 4 * i));
const llama = await getLlama({gpu: false, build: "never", maxThreads: threads, logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath, gpuLayers: 0});
const ctx = await model.createContext({contextSize: ctxLen, threads, batchSize: ctxLen, flashAttention: false,
    experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32"});
const seq = ctx.getSequence();
const bos = model.tokens.shouldPrependBosToken ? model.tokens.bos : null;
const first = Math.floor(ctxLen / 2);
const plain = {temperature: 1, topK: 0, topP: 1, minP: 0};
let nll = 0, count = 0;
for (let c = 0; c < chunks; c++) {
    const chunk = tokens.slice(c * ctxLen, (c + 1) * ctxLen);
    if (bos != null) chunk[0] = bos;
    await seq.clearHistory();
    const items = chunk.map((t, p) => p >= first && p < ctxLen - 1 ? [t, {generateNext: {probabilities: true, options: plain}}] : t);
    const res = await seq.controlledEvaluate(items);
    for (let p = first; p < ctxLen - 1; p++) {
        const prob = res[p].next.probabilities.get(chunk[p + 1]) ?? 0;
        nll -= Math.log(prob);
        count++;
    }
}
console.log(JSON.stringify({ppl: Math.exp(nll / count), count, chunks, ctx: ctxLen}));
await ctx.dispose();
await model.dispose();
await llama.dispose();
