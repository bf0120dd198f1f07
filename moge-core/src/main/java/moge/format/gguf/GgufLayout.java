package moge.format.gguf;

import moge.format.DType;
import moge.model.Arch;
import moge.model.ModelConfig;
import moge.model.RopeStyle;

import java.util.LinkedHashMap;
import java.util.Map;

import static moge.format.gguf.GgufNames.*;

/**
 * What a model looks like as GGUF: the tensors a {@link ModelConfig} implies (llama.cpp names, PyTorch-order
 * shapes, file order), the architecture metadata, and the storage type each tensor gets for a requested
 * file type. The inverse of {@link GgufModelConfig} and {@link GgufWeightLoader}; used by the converter and
 * by tests that write models.
 */
public final class GgufLayout {
    private GgufLayout() {
    }

    /** Tensor names and shapes, [out, in] for matrices, [n_expert, out, in] for stacked experts. */
    public static Map<String, long[]> tensors(ModelConfig c) {
        Map<String, long[]> m = new LinkedHashMap<>();
        long h = c.hidden(), q = c.qDim(), kv = c.kvDim(), d = c.headDim();
        m.put(TOKEN_EMBD, new long[]{c.vocabSize(), h});
        for (int i = 0; i < c.layers(); i++) {
            m.put(blk(i, ATTN_NORM), new long[]{h});
            m.put(blk(i, ATTN_Q), new long[]{q, h});
            m.put(blk(i, ATTN_K), new long[]{kv, h});
            m.put(blk(i, ATTN_V), new long[]{kv, h});
            m.put(blk(i, ATTN_OUT), new long[]{h, q});
            if (c.qkvBias()) {
                m.put(blk(i, ATTN_Q_BIAS), new long[]{q});
                m.put(blk(i, ATTN_K_BIAS), new long[]{kv});
                m.put(blk(i, ATTN_V_BIAS), new long[]{kv});
            }
            if (c.oBias()) m.put(blk(i, ATTN_OUT_BIAS), new long[]{h});
            if (c.qkNorm()) {
                m.put(blk(i, ATTN_Q_NORM), new long[]{d});
                m.put(blk(i, ATTN_K_NORM), new long[]{d});
            }
            m.put(blk(i, FFN_NORM), new long[]{h});
            if (c.isMoe(i)) {
                long n = c.numExperts(), ff = c.moeIntermediate();
                m.put(blk(i, FFN_GATE_INP), new long[]{n, h});
                if (c.arch() == Arch.PANGU_PRO_MOE) m.put(blk(i, FFN_GATE_INP_SCALE), new long[]{n});
                m.put(blk(i, FFN_GATE_EXPS), new long[]{n, ff, h});
                m.put(blk(i, FFN_UP_EXPS), new long[]{n, ff, h});
                m.put(blk(i, FFN_DOWN_EXPS), new long[]{n, h, ff});
                if (c.sharedIntermediate() > 0) {
                    long sf = c.sharedIntermediate();
                    m.put(blk(i, FFN_GATE_SHEXP), new long[]{sf, h});
                    m.put(blk(i, FFN_UP_SHEXP), new long[]{sf, h});
                    m.put(blk(i, FFN_DOWN_SHEXP), new long[]{h, sf});
                }
            } else {
                long ff = c.intermediate();
                m.put(blk(i, FFN_GATE), new long[]{ff, h});
                m.put(blk(i, FFN_UP), new long[]{ff, h});
                m.put(blk(i, FFN_DOWN), new long[]{h, ff});
            }
        }
        m.put(OUTPUT_NORM, new long[]{h});
        if (!c.tiedEmbeddings()) m.put(OUTPUT, new long[]{c.vocabSize(), h});
        return m;
    }

    /** {@link #storageType(ModelConfig, String, long[], GgufFileType)} for a file whose matrices are {@code fileType}. */
    public static DType storageType(ModelConfig c, String name, long[] shape, DType fileType) {
        return storageType(c, name, shape, GgufFileType.of(fileType));
    }

    /**
     * The type a tensor is stored in, following llama.cpp's converter and llama-quantize: vectors, norms and the
     * router stay F32; the output head (the embedding when tied) is kept at higher precision (Q8_0 for the legacy
     * 32-value types, Q6_K for the K types and IQ4_NL/IQ4_XS, Q8_0 when its rows are not whole 256-value blocks);
     * the mixtures follow llama_tensor_get_type for models without 8 experts ({@link #mixture}). Rows that are
     * not whole blocks fall back as llama.cpp does, Q6_K to Q8_0, Q4_K to Q5_0, Q5_K to Q5_1 (the same 5-bit
     * codes with a per-block min), Q3_K and Q2_K to Q4_0, IQ4_XS to IQ4_NL, and anything to F16 when not even 32-value
     * blocks fit.
     */
    public static DType storageType(ModelConfig c, String name, long[] shape, GgufFileType fileType) {
        if (shape.length < 2 || name.endsWith("_norm.weight") || name.endsWith(FFN_GATE_INP)) return DType.F32;
        DType t = fileType.base;
        long cols = shape[shape.length - 1];
        boolean kQuant = t.blockSize == 256 || t == DType.IQ4_NL;
        if (name.equals(OUTPUT) || (c.tiedEmbeddings() && name.equals(TOKEN_EMBD))) {
            if (t.blockSize == 32) t = DType.Q8_0;
            if (kQuant) t = cols % 256 == 0 ? DType.Q6_K : DType.Q8_0;
        } else if (name.startsWith("blk.")) {
            int layer = Integer.parseInt(name.substring(4, name.indexOf('.', 4)));
            t = mixture(c, fileType, layer, name.substring(name.indexOf('.', 4) + 1), t);
        }
        if (t.quantized() && cols % t.blockSize != 0) {
            t = switch (t) {
                case Q6_K -> DType.Q8_0;
                case Q4_K -> DType.Q5_0;
                case Q5_K -> DType.Q5_1;
                case Q3_K, Q2_K -> DType.Q4_0;
                case IQ4_XS -> DType.IQ4_NL;
                default -> t;
            };
        }
        if (t.quantized() && cols % t.blockSize != 0) t = DType.F16;
        return t;
    }

    /**
     * The type llama.cpp's mixture {@code fileType} gives tensor {@code tensor} of layer {@code layer} ({@code t}
     * where it says nothing special). Its counters of attn_v and ffn_down tensors are the layer index for these
     * models (one attn_v per layer; MoE layers are read from the tensor name):
     * <ul>
     * <li>Q4_K_M, Q5_K_M: Q6_K for attn_v and every ffn_down in the layers use_more_bits picks;</li>
     * <li>Q3_K_M: attn_v Q5_K in layers 0 and 1, else Q4_K; ffn_down Q5_K in the first sixteenth of the layers,
     * else Q4_K; attn_output Q4_K;</li>
     * <li>Q2_K_M (llama.cpp's Q2_K): attn_v Q4_K when 4 or more query heads share a KV head, else Q3_K; every
     * ffn_down (experts and shared expert too) and attn_output Q3_K;</li>
     * <li>IQ4_NL, IQ4_XS (no importance matrix): attn_v Q5_K when 4 or more query heads share a KV head;
     * ffn_down Q5_K in the first eighth of the layers.</li>
     * </ul>
     */
    private static DType mixture(ModelConfig c, GgufFileType fileType, int layer, String tensor, DType t) {
        boolean v = tensor.equals(ATTN_V), down = tensor.startsWith("ffn_down");
        return switch (fileType) {
            case Q4_K_M, Q5_K_M -> (v || down) && useMoreBits(layer, c.layers()) ? DType.Q6_K : t;
            case Q3_K_M -> v ? (layer < 2 ? DType.Q5_K : DType.Q4_K)
                    : down ? (layer < c.layers() / 16 ? DType.Q5_K : DType.Q4_K)
                    : tensor.equals(ATTN_OUT) ? DType.Q4_K : t;
            case Q2_K_M -> v ? (c.heads() / c.kvHeads() >= 4 ? DType.Q4_K : DType.Q3_K)
                    : down || tensor.equals(ATTN_OUT) ? DType.Q3_K : t;
            case IQ4_NL, IQ4_XS -> (v && c.heads() / c.kvHeads() >= 4) || (down && layer < c.layers() / 8) ? DType.Q5_K : t;
            default -> t;
        };
    }

    /**
     * llama.cpp's use_more_bits: the first and last eighth of the layers and every third layer between.
     */
    static boolean useMoreBits(int layer, int layers) {
        return layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;
    }

    /** Writes general.* and the {arch}.* hyperparameters of {@code c}. */
    public static void metadata(ModelConfig c, String name, DType fileType, GgufWriter w) {
        metadata(c, name, GgufFileType.of(fileType), w);
    }

    /** Writes general.* (general.file_type from {@code fileType}) and the {arch}.* hyperparameters of {@code c}. */
    public static void metadata(ModelConfig c, String name, GgufFileType fileType, GgufWriter w) {
        String a = c.arch().ggufName;
        if (c.ropeStyle() != (c.arch() == Arch.LLAMA ? RopeStyle.INTERLEAVED : RopeStyle.NEOX)) {
            throw new IllegalArgumentException(a + " files imply " + (c.arch() == Arch.LLAMA ? "interleaved" : "NeoX") + " RoPE");
        }
        w.putString(ARCHITECTURE, a);
        w.putString("general.type", "model");
        w.putString("general.name", name);
        w.putU32("general.file_type", fileType.id);
        w.putU32("general.quantization_version", 2);
        w.putU32(key(a, BLOCK_COUNT), c.layers());
        w.putU32(key(a, CONTEXT_LENGTH), c.maxPositions());
        w.putU32(key(a, EMBEDDING_LENGTH), c.hidden());
        w.putU32(key(a, FEED_FORWARD_LENGTH), Math.max(0, c.intermediate()));
        w.putU32(key(a, HEAD_COUNT), c.heads());
        w.putU32(key(a, HEAD_COUNT_KV), c.kvHeads());
        w.putU32(key(a, KEY_LENGTH), c.headDim());
        w.putU32(key(a, VALUE_LENGTH), c.headDim());
        w.putU32(key(a, ROPE_DIMENSION_COUNT), c.headDim());
        w.putF32(key(a, ROPE_FREQ_BASE), c.ropeTheta());
        w.putF32(key(a, RMS_EPS), c.rmsEps());
        w.putU32(key(a, VOCAB_SIZE), c.vocabSize());
        if (c.hasExperts()) {
            w.putU32(key(a, EXPERT_COUNT), c.numExperts());
            w.putU32(key(a, EXPERT_USED_COUNT), c.expertsPerTok());
            w.putU32(key(a, EXPERT_FEED_FORWARD_LENGTH), c.moeIntermediate());
            if (c.arch() == Arch.PANGU_PRO_MOE) {
                w.putU32(key(a, EXPERT_GROUP_COUNT), c.expertGroups());
                w.putU32(key(a, EXPERT_SHARED_FEED_FORWARD_LENGTH), c.sharedIntermediate());
                w.putBool(key(a, EXPERT_WEIGHTS_NORM), c.normTopkProb());
                w.putU32(key(a, EXPERT_GATING_FUNC), 1);
            }
        }
    }
}
