package moge.format.gguf;

import moge.MogeException;
import moge.format.DType;
import moge.format.TensorData;
import moge.model.Arch;
import moge.model.ModelConfig;
import moge.model.Weights;
import moge.tensor.Matrix;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

import static moge.format.gguf.GgufNames.*;

/**
 * Maps the llama.cpp tensor names of a GGUF file onto {@link Weights}, checking every shape (PyTorch order,
 * [out, in]). Matrices stay in the mapping in their stored type; the stacked expert tensors
 * {@code ffn_*_exps} are cut into one {@link Matrix} view per expert without copying. Small vectors (norms,
 * biases, router scales) are copied to float32. {@link #check} runs the same checks without building
 * matrices, so a file can be validated before its types have kernels.
 */
public final class GgufWeightLoader {
    private final GgufFile src;
    private final ModelConfig c;
    private final boolean build;

    private GgufWeightLoader(GgufFile src, ModelConfig c, boolean build) {
        this.src = src;
        this.c = c;
        this.build = build;
    }

    /** @param keepExpert which routed experts to map (null = all) */
    public static Weights load(GgufFile src, ModelConfig c, boolean[] keepExpert) {
        return new GgufWeightLoader(src, c, true).load(keepExpert);
    }

    /** Checks that every tensor the configuration needs is present with the right shape and a float type where one is needed. */
    public static void check(GgufFile src, ModelConfig c) {
        new GgufWeightLoader(src, c, false).load(null);
    }

    private Weights load(boolean[] keepExpert) {
        int h = c.hidden();
        Matrix embed = matrix(TOKEN_EMBD, c.vocabSize(), h);
        float[] norm = vector(OUTPUT_NORM, h);
        Matrix head = c.tiedEmbeddings() ? embed : matrix(OUTPUT, c.vocabSize(), h);
        Weights.Layer[] layers = new Weights.Layer[c.layers()];
        for (int i = 0; i < layers.length; i++) layers[i] = layer(i, keepExpert);
        return new Weights(embed, norm, head, layers);
    }

    private Weights.Layer layer(int i, boolean[] keepExpert) {
        int h = c.hidden(), q = c.qDim(), kv = c.kvDim();
        Weights.Layer l = new Weights.Layer();
        l.attnNorm = vector(blk(i, ATTN_NORM), h);
        l.ffnNorm = vector(blk(i, FFN_NORM), h);
        l.wq = matrix(blk(i, ATTN_Q), q, h);
        l.wk = matrix(blk(i, ATTN_K), kv, h);
        l.wv = matrix(blk(i, ATTN_V), kv, h);
        l.wo = matrix(blk(i, ATTN_OUT), h, q);
        if (c.qkvBias()) {
            l.bq = vector(blk(i, ATTN_Q_BIAS), q);
            l.bk = vector(blk(i, ATTN_K_BIAS), kv);
            l.bv = vector(blk(i, ATTN_V_BIAS), kv);
        }
        if (c.oBias()) l.bo = vector(blk(i, ATTN_OUT_BIAS), h);
        if (c.qkNorm()) {
            l.qNorm = vector(blk(i, ATTN_Q_NORM), c.headDim());
            l.kNorm = vector(blk(i, ATTN_K_NORM), c.headDim());
        }
        if (!c.isMoe(i)) {
            int ff = c.intermediate();
            l.gate = matrix(blk(i, FFN_GATE), ff, h);
            l.up = matrix(blk(i, FFN_UP), ff, h);
            l.down = matrix(blk(i, FFN_DOWN), h, ff);
            return l;
        }
        int n = c.numExperts(), ff = c.moeIntermediate();
        l.router = matrix(blk(i, FFN_GATE_INP), n, h);
        if (c.arch() == Arch.PANGU_PRO_MOE) l.routerScale = vector(blk(i, FFN_GATE_INP_SCALE), n);
        l.expertGate = experts(blk(i, FFN_GATE_EXPS), n, ff, h, keepExpert);
        l.expertUp = experts(blk(i, FFN_UP_EXPS), n, ff, h, keepExpert);
        l.expertDown = experts(blk(i, FFN_DOWN_EXPS), n, h, ff, keepExpert);
        if (c.sharedIntermediate() > 0) {
            int sf = c.sharedIntermediate();
            l.sharedGate = matrix(blk(i, FFN_GATE_SHEXP), sf, h);
            l.sharedUp = matrix(blk(i, FFN_UP_SHEXP), sf, h);
            l.sharedDown = matrix(blk(i, FFN_DOWN_SHEXP), h, sf);
        }
        return l;
    }

    private TensorData require(String name) {
        TensorData t = src.find(name);
        if (t == null) {
            String why = name.endsWith(".bias") && c.arch() == Arch.PANGU_EMBEDDED
                    ? " (pangu-embedded needs the q/k/v/o biases)" : "";
            throw new MogeException(src.describe() + ": missing tensor " + name + why);
        }
        return t;
    }

    private MogeException badShape(TensorData t, long... want) {
        return new MogeException(t.file() + ": tensor " + t.name() + " has shape " + t.shapeString() + ", expected " + Arrays.toString(want));
    }

    private Matrix matrix(String name, int rows, int cols) {
        TensorData t = require(name);
        if (t.rank() != 2 || t.shape()[0] != rows || t.shape()[1] != cols) throw badShape(t, rows, cols);
        return build ? Matrix.of(t) : null;
    }

    /** The n expert matrices [rows, cols] of a stacked tensor [n, rows, cols], as views into it. */
    private Matrix[] experts(String name, int n, int rows, int cols, boolean[] keep) {
        TensorData t = require(name);
        if (t.rank() != 3 || t.shape()[0] != n || t.shape()[1] != rows || t.shape()[2] != cols) throw badShape(t, n, rows, cols);
        Matrix[] out = new Matrix[n];
        if (!build) return out;
        DType type = t.type();
        long per = type.bytesFor((long) rows * cols);
        for (int e = 0; e < n; e++) {
            if (keep != null && !keep[e]) continue;
            MemorySegment slice = t.data().asSlice(e * per, per);
            out[e] = Matrix.of(name + "[" + e + "]", type, rows, cols, slice);
        }
        return out;
    }

    private float[] vector(String name, int n) {
        TensorData t = require(name);
        if (t.elements() != n || t.rank() > 2 || (t.rank() == 2 && t.shape()[0] != 1)) throw badShape(t, n);
        if (t.type().quantized()) throw new MogeException(t.file() + ": tensor " + name + " is " + t.type() + "; norms, biases and scales must be F32, F16 or BF16");
        return build ? t.toFloatArray() : null;
    }
}
