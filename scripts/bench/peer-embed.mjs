import {getLlama} from "node-llama-cpp";
const [file, ...texts] = process.argv.slice(2);
const llama = await getLlama({gpu: false});
const model = await llama.loadModel({modelPath: file});
const ctx = await model.createEmbeddingContext({contextSize: 256, threads: 2});
const out = [];
for (const t of texts) out.push(Array.from((await ctx.getEmbeddingFor(t)).vector));
console.log(JSON.stringify({pooling: model.fileInfo?.metadata?.[model.fileInfo.metadata.general.architecture]?.pooling_type ?? null, vectors: out}));
await ctx.dispose(); await model.dispose();
