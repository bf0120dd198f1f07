// Tokenizes the texts of TEXTS.json with llama.cpp (node-llama-cpp, special tokens parsed) for each GGUF
// file given, printing {file: [{text, ids}]} as JSON: the reference for moge's GGUF tokenizers.
//   node tokenize.mjs TEXTS.json MODEL.gguf...
import {getLlama, LlamaLogLevel} from "node-llama-cpp";
import fs from "node:fs";
import path from "node:path";

const texts = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const llama = await getLlama({gpu: false, build: "never", maxThreads: 2, logLevel: LlamaLogLevel.error});
const out = {};
for (const file of process.argv.slice(3)) {
    const model = await llama.loadModel({modelPath: file, gpuLayers: 0, vocabOnly: true});
    out[path.basename(file)] = texts.map((t) => ({text: t, ids: Array.from(model.tokenize(t, true))}));
    await model.dispose();
}
console.log(JSON.stringify(out));
