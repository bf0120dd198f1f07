// Records what llama.cpp (through node-llama-cpp) computes on small GGUF files, as JSON on stdout:
// per model the next-token top-5 log-probs at every prompt position, 8 greedy continuation tokens,
// and the tokenization of a fixed set of texts. Used to pin moge to llama.cpp in
// testdata/gguf/llama-cpp-expected.json (see README.md next to this file).
import {getLlama, LlamaLogLevel} from "node-llama-cpp";
import fs from "node:fs";

const texts = [
    "Hello, world!", "The quick brown fox jumps over the lazy dog.", "  leading and trailing spaces  ",
    "tabs\tand\nnewlines\r\n\n\nend", "def hello_world():\n    print('Hello, world!')  # 123 ünïcode",
    "numbers 1234567 and 3.14159, 2024-11-29", "I'm sure you've seen it; they'll say 'RE' or 'Ll'.",
    "中文字符 and 日本語のテキスト", "emoji 😀🎉 and symbols ∑∫√ ©®", "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
    "text<|endoftext|>more", "Ünïcödé façade naïve résumé", "   ", "\n", "a", "",
];
const llama = await getLlama({gpu: false, build: "never", maxThreads: 2, logLevel: LlamaLogLevel.error});
const models = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const out = [];
for (const m of models) {
    const model = await llama.loadModel({modelPath: m.file, gpuLayers: 0});
    // F32 KV cache and no flash attention: the reference should be as exact as the engine allows.
    const ctx = await model.createContext({contextSize: 64, threads: 2, batchSize: 32, flashAttention: false,
        experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32"});
    const seq = ctx.getSequence();
    const top = (r) => [...r.next.probabilities.entries()].slice(0, 5).map(([id, p]) => [id, Math.log(p)]);
    const res = await seq.controlledEvaluate(m.prompt.map((t) => [t, {generateNext: {probabilities: true, token: true}}]));
    const promptSteps = res.map((r, i) => ({pos: i, next: r.next.token, top: top(r)}));
    const generated = [];
    let next = res[res.length - 1].next.token;
    for (let i = 0; i < 8; i++) {
        generated.push(next);
        const r = await seq.controlledEvaluate([[next, {generateNext: {probabilities: true, token: true}}]]);
        next = r[0].next.token;
    }
    const tokenized = texts.map((t) => ({text: t, ids: Array.from(model.tokenize(t, true))}));
    out.push({name: m.name, type: m.type, prompt: m.prompt, prompt_steps: promptSteps, generated, tokenized});
    await ctx.dispose();
    await model.dispose();
}
console.log(JSON.stringify(out, null, 1));
