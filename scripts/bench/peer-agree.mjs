// What llama.cpp (node-llama-cpp) predicts on a GGUF file, for the agreement check of bench-vs-llama.sh:
// the top token after every prompt position (teacher forcing) with the log-prob gap to the second one, and N
// greedy tokens after the prompt.
// usage: node peer-agree.mjs MODEL.gguf PROMPT_IDS_JSON N_GREEDY [THREADS]   -> JSON on stdout
// The KV cache is F32, as moge's, so an F32 file is compared without cache rounding.
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const [modelPath, promptJson, nArg, threadsArg] = process.argv.slice(2);
const prompt = JSON.parse(promptJson);
const n = Number(nArg);
const threads = Number(threadsArg ?? 2);
const llama = await getLlama({gpu: false, build: "never", maxThreads: threads, logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath, gpuLayers: 0});
const ctx = await model.createContext({contextSize: prompt.length + n + 8, threads, batchSize: prompt.length,
    flashAttention: false, experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32"});
const seq = ctx.getSequence();
// The prompt positions' distributions at temperature 1: the top token is the greedy one, and the gap between
// the two most likely log-probs (unchanged by the sampler's renormalization over the tokens it keeps) tells
// agree.py which positions are near-ties.
const res = await seq.controlledEvaluate(prompt.map((t) => [t, {generateNext: {probabilities: true, options: {temperature: 1}}}]));
const best = res.map((r) => [...r.next.probabilities.entries()].sort((a, b) => b[1] - a[1]).slice(0, 2));
const top = best.map((b) => b[0][0]);
const gap = best.map((b) => (b.length > 1 ? Math.log(b[0][1]) - Math.log(b[1][1]) : Infinity));
const greedy = [];
let next = top[top.length - 1];
for (let i = 0; i < n; i++) {
    greedy.push(next);
    if (i + 1 === n) break;
    const r = await seq.controlledEvaluate([[next, {generateNext: {token: true}}]]);
    next = r[0].next.token;
}
console.log(JSON.stringify({model: modelPath, top, gap, greedy}));
await ctx.dispose();
await model.dispose();
await llama.dispose();
