// llama.cpp's (node-llama-cpp's) log-probs on a GGUF file at every prompt position, for comparing decoders: where
// peer-agree.mjs gives only the top token, this gives the K most likely tokens with their log-probs, so a file
// whose model is confident (a random tied head echoes its input by hundreds of nats) still tells two decoders apart.
// usage: node peer-logprobs.mjs MODEL.gguf PROMPT_IDS_JSON K [THREADS]   -> JSON {top: [[[id, logprob], ...], ...]}
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const [modelPath, promptJson, kArg, threadsArg] = process.argv.slice(2);
const prompt = JSON.parse(promptJson);
const k = Number(kArg);
const threads = Number(threadsArg ?? 2);
const llama = await getLlama({gpu: false, build: "never", maxThreads: threads, logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath, gpuLayers: 0});
const ctx = await model.createContext({contextSize: prompt.length + 8, threads, batchSize: prompt.length,
    flashAttention: false, experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32"});
const seq = ctx.getSequence();
// temperature 1, no top-k/top-p: the model's own distribution
const res = await seq.controlledEvaluate(prompt.map((t) => [t, {generateNext: {probabilities: true, options: {temperature: 1}}}]));
const top = res.map((r) => [...r.next.probabilities.entries()].sort((a, b) => b[1] - a[1]).slice(0, k)
    .map(([id, p]) => [id, Math.log(p)]));
console.log(JSON.stringify({model: modelPath, top}));
await ctx.dispose();
await model.dispose();
await llama.dispose();
