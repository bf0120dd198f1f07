package moge.format.gguf;

import moge.format.DType;
import moge.model.Arch;
import moge.model.ModelConfig;
import moge.model.RopeStyle;
import moge.model.RouterKind;
import moge.tokenizer.ByteBpeTokenizer;
import moge.tokenizer.ByteLevel;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Small deterministic GGUF models of every architecture for tests: random weights seeded per tensor name,
 * a tiny byte-level BPE vocabulary trained on a fixed text, llama.cpp's metadata keys. The same seed always
 * gives the same bytes, so outputs recorded from llama.cpp on these files stay valid.
 */
public final class TestGguf {
    private TestGguf() {
    }

    /** A byte-level BPE vocabulary: 256 byte tokens, merge results, then control tokens. */
    public record Vocab(String[] tokens, int[] types, String[] merges, String pre, int bos, int eos) {
        public int size() {
            return tokens.length;
        }
    }

    static final String TRAIN_TEXT = """
            The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs away into the forest.
            def hello_world():
                print('Hello, world!')  # the classic first program
                return 42
            In the beginning there were models, and the models were large, and they were slow.
            Mixture of grouped experts picks one expert in each group, so the load is balanced.
            0123456789 numbers 2024 and 3.14159 are here too, along with ünïcödé and 中文字符 text.
            """;

    public static Vocab vocab(int merges, String pre) {
        Map<String, Integer> words = new LinkedHashMap<>();
        for (String w : moge.tokenizer.BpePreTokenizer.forName("gpt2").split(TRAIN_TEXT)) words.merge(ByteLevel.encode(w), 1, Integer::sum);
        List<List<String>> seqs = new ArrayList<>();
        List<Integer> counts = new ArrayList<>();
        words.forEach((w, n) -> {
            List<String> s = new ArrayList<>();
            for (char ch : w.toCharArray()) s.add(String.valueOf(ch));
            seqs.add(s);
            counts.add(n);
        });
        List<String> tokens = new ArrayList<>();
        for (int b = 0; b < 256; b++) tokens.add(String.valueOf(ByteLevel.charOf(b)));
        List<String> ms = new ArrayList<>();
        for (int m = 0; m < merges; m++) {
            Map<String, Integer> pairs = new LinkedHashMap<>();
            for (int i = 0; i < seqs.size(); i++) {
                List<String> s = seqs.get(i);
                for (int j = 0; j + 1 < s.size(); j++) pairs.merge(s.get(j) + " " + s.get(j + 1), counts.get(i), Integer::sum);
            }
            String best = null;
            for (var e : pairs.entrySet()) if (best == null || e.getValue() > pairs.get(best)) best = e.getKey();
            if (best == null) break;
            ms.add(best);
            String[] lr = best.split(" ", 2);
            tokens.add(lr[0] + lr[1]);
            for (List<String> s : seqs) {
                for (int j = 0; j + 1 < s.size(); j++) {
                    if (s.get(j).equals(lr[0]) && s.get(j + 1).equals(lr[1])) {
                        s.set(j, lr[0] + lr[1]);
                        s.remove(j + 1);
                    }
                }
            }
        }
        int[] types = new int[tokens.size() + 3];
        java.util.Arrays.fill(types, ByteBpeTokenizer.NORMAL);
        int eot = tokens.size();
        for (String sp : new String[]{"<|endoftext|>", "<|im_start|>", "<|im_end|>"}) {
            types[tokens.size()] = ByteBpeTokenizer.CONTROL;
            tokens.add(sp);
        }
        return new Vocab(tokens.toArray(new String[0]), types, ms.toArray(new String[0]), pre, eot, eot + 2);
    }

    public static ModelConfig config(Arch arch, int vocab, int hidden, int layers, int heads, int kvHeads, int headDim, int ff,
                                     int experts, int k, int groups, int moeFF, int sharedFF, boolean tied) {
        boolean moe = experts > 0;
        boolean bias = arch == Arch.PANGU_EMBEDDED || arch == Arch.PANGU_PRO_MOE;
        boolean qk = arch == Arch.QWEN3 || arch == Arch.QWEN3_MOE;
        RouterKind router = !moe ? null : arch == Arch.PANGU_PRO_MOE ? RouterKind.MOGE : RouterKind.TOPK;
        boolean renorm = moe && arch != Arch.PANGU_PRO_MOE;
        return new ModelConfig(arch, vocab, hidden, layers, heads, kvHeads, headDim, moe ? 0 : ff, experts, k,
                moe ? (arch == Arch.PANGU_PRO_MOE ? groups : 1) : 0, moeFF, sharedFF, renorm, new boolean[layers], 1e4 + 37 * hidden,
                1e-5f, 4096, tied, bias, bias, qk, router, arch == Arch.LLAMA ? RopeStyle.INTERLEAVED : RopeStyle.NEOX);
    }

    /** Values of one tensor, by GGUF name and shape: norms near one, positive router scales, scaled Gaussians. */
    public static float[] values(long seed, String name, long[] shape) {
        long n = 1;
        for (long d : shape) n *= d;
        float[] v = new float[Math.toIntExact(n)];
        SplittableRandom r = new SplittableRandom(seed * 1_000_003L + name.hashCode());
        if (name.endsWith("norm.weight")) {
            for (int i = 0; i < v.length; i++) v[i] = (float) (1.0 + 0.1 * r.nextGaussian());
        } else if (name.endsWith(GgufNames.FFN_GATE_INP_SCALE)) {
            for (int i = 0; i < v.length; i++) v[i] = (float) (0.5 + r.nextDouble());
        } else {
            double s = shape.length == 1 ? 0.25 : name.equals(GgufNames.TOKEN_EMBD) ? 1.0 : 1.0 / Math.sqrt(shape[shape.length - 1]);
            // A sharper router and head than plain 1/sqrt(fan-in) keep greedy choices away from near-ties.
            if (name.endsWith(GgufNames.FFN_GATE_INP)) s *= 3;
            if (name.equals(GgufNames.OUTPUT)) s *= 4;
            for (int i = 0; i < v.length; i++) v[i] = (float) (s * r.nextGaussian());
        }
        return v;
    }

    public static Path write(Path file, ModelConfig c, DType type, long seed, Vocab vocab) {
        GgufWriter w = new GgufWriter();
        GgufLayout.metadata(c, "test-" + c.arch().ggufName, type, w);
        if (vocab != null) tokenizer(w, vocab);
        for (var e : GgufLayout.tensors(c).entrySet()) {
            String name = e.getKey();
            long[] shape = e.getValue();
            DType t = GgufLayout.storageType(c, name, shape, type);
            float[] v = values(seed, name, shape);
            w.addTensor(name, t, shape, GgmlQuantizer.encode(t, v, 0, v.length));
        }
        try {
            w.write(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return file;
    }

    public static void tokenizer(GgufWriter w, Vocab v) {
        w.putString(GgufNames.TOK_MODEL, "gpt2");
        w.putString(GgufNames.TOK_PRE, v.pre());
        w.putStrings(GgufNames.TOK_TOKENS, v.tokens());
        w.putI32s(GgufNames.TOK_TYPES, v.types());
        w.putStrings(GgufNames.TOK_MERGES, v.merges());
        w.putU32(GgufNames.TOK_BOS, v.bos());
        w.putU32(GgufNames.TOK_EOS, v.eos());
        w.putU32(GgufNames.TOK_PAD, v.bos());
        w.putBool(GgufNames.TOK_ADD_BOS, false);
        w.putBool(GgufNames.TOK_ADD_EOS, false);
    }

    /** The GGUF tensors of a file under their Hugging Face names, expert slices included, quantized ones dequantized. */
    public static HfView hfView(GgufFile f, ModelConfig c) {
        return new HfView(f, c);
    }

    /** Reads a GGUF file under HF names so the float64 ReferenceModel can run on it. */
    public static final class HfView implements moge.format.TensorSource {
        private final GgufFile f;
        private final Map<String, moge.format.TensorData> map = new HashMap<>();
        private final Map<String, DType> types = new HashMap<>();

        HfView(GgufFile f, ModelConfig c) {
            this.f = f;
            put("model.embed_tokens.weight", GgufNames.TOKEN_EMBD, -1);
            put("model.norm.weight", GgufNames.OUTPUT_NORM, -1);
            if (!c.tiedEmbeddings()) put("lm_head.weight", GgufNames.OUTPUT, -1);
            String[][] perLayer = {
                    {"input_layernorm.weight", "attn_norm.weight"}, {"post_attention_layernorm.weight", "ffn_norm.weight"},
                    {"self_attn.q_proj.weight", "attn_q.weight"}, {"self_attn.k_proj.weight", "attn_k.weight"},
                    {"self_attn.v_proj.weight", "attn_v.weight"}, {"self_attn.o_proj.weight", "attn_output.weight"},
                    {"self_attn.q_proj.bias", "attn_q.bias"}, {"self_attn.k_proj.bias", "attn_k.bias"},
                    {"self_attn.v_proj.bias", "attn_v.bias"}, {"self_attn.o_proj.bias", "attn_output.bias"},
                    {"self_attn.q_norm.weight", "attn_q_norm.weight"}, {"self_attn.k_norm.weight", "attn_k_norm.weight"},
                    {"mlp.gate_proj.weight", "ffn_gate.weight"}, {"mlp.up_proj.weight", "ffn_up.weight"},
                    {"mlp.down_proj.weight", "ffn_down.weight"}, {"mlp.gate.weight", "ffn_gate_inp.weight"},
                    {"mlp.router_scale", "ffn_gate_inp_scale.weight"},
                    {"mlp.shared_expert.gate_proj.weight", "ffn_gate_shexp.weight"},
                    {"mlp.shared_expert.up_proj.weight", "ffn_up_shexp.weight"},
                    {"mlp.shared_expert.down_proj.weight", "ffn_down_shexp.weight"}};
            for (int l = 0; l < c.layers(); l++) {
                for (String[] p : perLayer) put("model.layers." + l + "." + p[0], "blk." + l + "." + p[1], -1);
                for (int e = 0; e < c.numExperts(); e++) {
                    for (String proj : new String[]{"gate", "up", "down"}) {
                        put("model.layers." + l + ".mlp.experts." + e + "." + proj + "_proj.weight", "blk." + l + ".ffn_" + proj + "_exps.weight", e);
                    }
                }
            }
        }

        private void put(String hf, String gguf, int expert) {
            moge.format.TensorData t = f.find(gguf);
            if (t == null) return;
            long[] shape = t.shape();
            long n = t.elements();
            long offset = 0;
            if (expert >= 0) {
                shape = new long[]{shape[1], shape[2]};
                n = shape[0] * shape[1];
                offset = t.type().bytesFor(n) * expert;
            }
            float[] v = new float[(int) n];
            GgmlQuantizer.decode(t.type(), t.data(), offset, v, 0, v.length);
            java.nio.ByteBuffer bb = java.nio.ByteBuffer.allocate(v.length * 4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            for (float x : v) bb.putFloat(x);
            map.put(hf, new moge.format.TensorData(hf, DType.F32, shape, java.lang.foreign.MemorySegment.ofArray(bb.array()), f.describe()));
            types.put(hf, t.type());
        }

        /** The type tensor {@code hf} is stored in in the file (null if absent). */
        public DType type(String hf) {
            return types.get(hf);
        }

        @Override
        public Map<String, moge.format.TensorData> tensors() {
            return map;
        }

        @Override
        public String describe() {
            return f.describe();
        }

        @Override
        public void close() {
        }
    }
}
