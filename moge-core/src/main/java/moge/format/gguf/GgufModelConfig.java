package moge.format.gguf;

import moge.MogeException;
import moge.format.TensorData;
import moge.model.Arch;
import moge.model.ModelConfig;
import moge.model.RopeStyle;
import moge.model.RouterKind;

import static moge.format.gguf.GgufNames.*;

/**
 * GGUF metadata (plus the presence of a few optional tensors) to a {@link ModelConfig}, with llama.cpp's
 * defaults and the checks the forward pass relies on. Per architecture:
 * <ul>
 * <li>{@code pangu-embedded}: dense, q/k/v/o biases (required), NeoX RoPE.</li>
 * <li>{@code qwen3}: dense, per-head q/k RMSNorm, no biases, NeoX RoPE.</li>
 * <li>{@code qwen3moe}: as qwen3 with a softmax router, global top-k and renormalised weights.</li>
 * <li>{@code llama}: optional biases, dense or Mixtral-style experts, interleaved ("normal") RoPE because
 * llama.cpp's converter permutes the q/k rows for it.</li>
 * <li>{@code pangu-pro-moe} (moge's own): MoGE router over {@code expert_group_count} groups with a
 * per-expert scale, optional shared expert, optional dense layers, biases as present, NeoX RoPE.</li>
 * </ul>
 */
public final class GgufModelConfig {
    private GgufModelConfig() {
    }

    public static ModelConfig read(GgufFile f) {
        GgufMetadata md = f.metadata();
        String fn = f.describe();
        String archName = md.string(ARCHITECTURE);
        Arch arch = Arch.fromGguf(archName);
        if (arch == null) {
            throw new MogeException(fn + ": architecture '" + archName
                    + "' is not supported (supported: pangu-embedded, pangu-pro-moe, qwen3, qwen3moe, llama)");
        }
        String a = archName;
        int layers = positive(md, fn, key(a, BLOCK_COUNT));
        int hidden = positive(md, fn, key(a, EMBEDDING_LENGTH));
        int heads = md.uniformCount(key(a, HEAD_COUNT), layers, 0);
        if (heads <= 0) throw new MogeException(fn + ": missing or zero " + key(a, HEAD_COUNT));
        int kvHeads = md.uniformCount(key(a, HEAD_COUNT_KV), layers, heads);
        if (kvHeads <= 0 || heads % kvHeads != 0) {
            throw new MogeException(fn + ": " + key(a, HEAD_COUNT) + " " + heads + " is not a multiple of " + key(a, HEAD_COUNT_KV) + " " + kvHeads);
        }
        if (!md.has(key(a, KEY_LENGTH)) && hidden % heads != 0) {
            throw new MogeException(fn + ": " + key(a, EMBEDDING_LENGTH) + " " + hidden + " is not divisible by " + heads + " heads and " + key(a, KEY_LENGTH) + " is absent");
        }
        int headDim = md.count(key(a, KEY_LENGTH), hidden / heads);
        int valueDim = md.count(key(a, VALUE_LENGTH), headDim);
        if (headDim <= 0 || headDim % 2 != 0) throw new MogeException(fn + ": head dimension " + headDim + " must be positive and even");
        if (valueDim != headDim) {
            throw new MogeException(fn + ": " + key(a, VALUE_LENGTH) + " " + valueDim + " differs from " + key(a, KEY_LENGTH) + " " + headDim + ", which moge does not support");
        }
        int rotDim = md.count(key(a, ROPE_DIMENSION_COUNT), headDim);
        if (rotDim != headDim) {
            throw new MogeException(fn + ": " + key(a, ROPE_DIMENSION_COUNT) + " " + rotDim + " is not the head dimension " + headDim + " (partial RoPE is not supported)");
        }
        if ((long) heads * headDim > Integer.MAX_VALUE / 4 || (long) layers * hidden > Integer.MAX_VALUE) {
            throw new MogeException(fn + ": attention shape too large");
        }
        double theta = md.number(key(a, ROPE_FREQ_BASE), 10000.0);
        if (!(theta > 0) || Double.isInfinite(theta)) throw new MogeException(fn + ": " + key(a, ROPE_FREQ_BASE) + " must be positive, got " + theta);
        String scaling = md.string(key(a, ROPE_SCALING_TYPE), "none");
        double factor = md.number(key(a, ROPE_SCALING_FACTOR), 1.0);
        // A linear factor of 1 (or 0, llama.cpp's "unset") changes nothing; anything else would.
        if (!(scaling.equals("none") || scaling.equals("linear")) || !(factor == 0.0 || factor == 1.0)) {
            throw new MogeException(fn + ": RoPE scaling '" + scaling + "' (factor " + factor + ") is not supported");
        }
        if (f.find(ROPE_FREQS) != null) throw new MogeException(fn + ": RoPE frequency factors (" + ROPE_FREQS + ") are not supported");
        double epsD = md.number(key(a, RMS_EPS));
        float eps = (float) epsD;
        if (!(eps >= 0) || Float.isInfinite(eps)) throw new MogeException(fn + ": " + key(a, RMS_EPS) + " must be a non-negative number, got " + epsD);
        int ctx = md.count(key(a, CONTEXT_LENGTH), 4096);
        if (ctx < 1) throw new MogeException(fn + ": " + key(a, CONTEXT_LENGTH) + " must be positive");

        TensorData embd = f.find(TOKEN_EMBD);
        if (embd == null) throw new MogeException(fn + ": missing tensor " + TOKEN_EMBD);
        if (embd.rank() != 2 || embd.shape()[1] != hidden || embd.shape()[0] < 1 || embd.shape()[0] > Integer.MAX_VALUE) {
            throw new MogeException(fn + ": tensor " + TOKEN_EMBD + " has shape " + embd.shapeString() + ", expected [vocab, " + hidden + "]");
        }
        int vocab = (int) embd.shape()[0];
        boolean tied = f.find(OUTPUT) == null;
        int ff = md.uniformCount(key(a, FEED_FORWARD_LENGTH), layers, 0);

        boolean qkNorm = arch == Arch.QWEN3 || arch == Arch.QWEN3_MOE;
        boolean qkvBias, oBias;
        RopeStyle rope = arch == Arch.LLAMA ? RopeStyle.INTERLEAVED : RopeStyle.NEOX;
        switch (arch) {
            case PANGU_EMBEDDED -> {
                qkvBias = true;
                oBias = true;
            }
            case QWEN3, QWEN3_MOE -> {
                qkvBias = false;
                oBias = false;
            }
            default -> {
                qkvBias = f.find(blk(0, ATTN_Q_BIAS)) != null;
                oBias = f.find(blk(0, ATTN_OUT_BIAS)) != null;
            }
        }

        int experts = md.count(key(a, EXPERT_COUNT), 0);
        int k = md.count(key(a, EXPERT_USED_COUNT), 0);
        int groups = 0, moeFF = 0, sharedFF = 0;
        boolean renorm = false;
        RouterKind router = null;
        boolean[] dense = new boolean[layers];
        boolean moeArch = arch == Arch.QWEN3_MOE || arch == Arch.PANGU_PRO_MOE || (arch == Arch.LLAMA && experts > 0);
        if (arch == Arch.PANGU_EMBEDDED || arch == Arch.QWEN3) {
            if (experts > 0) throw new MogeException(fn + ": " + key(a, EXPERT_COUNT) + " is " + experts + " but " + a + " is a dense architecture");
            experts = 0;
            k = 0;
        }
        if (moeArch) {
            if (experts <= 0) throw new MogeException(fn + ": missing or zero " + key(a, EXPERT_COUNT));
            if (k <= 0 || k > experts) throw new MogeException(fn + ": " + key(a, EXPERT_USED_COUNT) + " " + k + " must be in 1.." + experts);
            moeFF = md.count(key(a, EXPERT_FEED_FORWARD_LENGTH), arch == Arch.LLAMA ? ff : 0);
            if (moeFF <= 0) throw new MogeException(fn + ": missing or zero " + key(a, EXPERT_FEED_FORWARD_LENGTH));
            long gating = md.has(key(a, EXPERT_GATING_FUNC)) ? md.integer(key(a, EXPERT_GATING_FUNC)) : 1;
            if (gating != 1) throw new MogeException(fn + ": " + key(a, EXPERT_GATING_FUNC) + " " + gating + " is not supported (only 1 = softmax)");
            if (arch == Arch.PANGU_PRO_MOE) {
                groups = positive(md, fn, key(a, EXPERT_GROUP_COUNT));
                if (experts % groups != 0) throw new MogeException(fn + ": " + experts + " experts do not split into " + groups + " equal groups");
                if (k % groups != 0 || k / groups > experts / groups) {
                    throw new MogeException(fn + ": " + key(a, EXPERT_USED_COUNT) + " " + k + " is not a whole number of experts per each of " + groups + " groups");
                }
                sharedFF = md.count(key(a, EXPERT_SHARED_FEED_FORWARD_LENGTH), 0);
                renorm = md.bool(key(a, EXPERT_WEIGHTS_NORM), false);
                router = RouterKind.MOGE;
                for (int l = 0; l < layers; l++) dense[l] = f.find(blk(l, FFN_GATE_INP)) == null;
            } else {
                groups = 1;
                renorm = md.bool(key(a, EXPERT_WEIGHTS_NORM), true);
                router = RouterKind.TOPK;
            }
        }
        boolean anyDense = !moeArch;
        for (boolean d : dense) anyDense |= d;
        if (anyDense && ff <= 0) throw new MogeException(fn + ": missing or zero " + key(a, FEED_FORWARD_LENGTH));
        if (!moeArch) dense = new boolean[layers];
        return new ModelConfig(arch, vocab, hidden, layers, heads, kvHeads, headDim, anyDense ? ff : 0, experts, k, groups, moeFF,
                sharedFF, renorm, dense, theta, eps, ctx, tied, qkvBias, oBias, qkNorm, router, rope);
    }

    private static int positive(GgufMetadata md, String fn, String key) {
        int v = md.count(key);
        if (v <= 0) throw new MogeException(fn + ": metadata key " + key + " must be positive, got " + v);
        return v;
    }
}
