package moge.model;

import moge.tensor.Matrix;

/**
 * The weights of a model as kernel views over the mapped checkpoint. Small vectors (norm weights, biases,
 * router scales) are copied to float32 on the heap; matrices are not copied.
 */
public final class Weights {
    public final Matrix embed;
    public final float[] finalNorm;
    public final Matrix lmHead;
    public final Layer[] layers;

    public Weights(Matrix embed, float[] finalNorm, Matrix lmHead, Layer[] layers) {
        this.embed = embed;
        this.finalNorm = finalNorm;
        this.lmHead = lmHead;
        this.layers = layers;
    }

    /** One decoder layer. Absent parts are null: biases without bias, dense MLP in MoE layers and vice versa. */
    public static final class Layer {
        public float[] attnNorm;
        public Matrix wq, wk, wv, wo;
        public float[] bq, bk, bv, bo;
        public float[] qNorm, kNorm;
        public float[] ffnNorm;
        // dense SwiGLU
        public Matrix gate, up, down;
        // mixture of experts
        public Matrix router;
        public float[] routerScale;
        public Matrix[] expertGate, expertUp, expertDown;
        public Matrix sharedGate, sharedUp, sharedDown;
        public float[] sharedGateInp; // sigmoid gate of the shared expert (Qwen2-MoE style); null for Pangu
    }

    /** Every matrix, the tied head once. */
    public java.util.List<Matrix> matrices() {
        java.util.List<Matrix> all = new java.util.ArrayList<>();
        all.add(embed);
        if (lmHead != embed) all.add(lmHead);
        for (Layer l : layers) {
            for (Matrix m : new Matrix[]{l.wq, l.wk, l.wv, l.wo, l.gate, l.up, l.down, l.router, l.sharedGate, l.sharedUp, l.sharedDown}) {
                if (m != null) all.add(m);
            }
            if (l.expertGate != null) {
                for (int e = 0; e < l.expertGate.length; e++) {
                    if (l.expertGate[e] != null) java.util.Collections.addAll(all, l.expertGate[e], l.expertUp[e], l.expertDown[e]);
                }
            }
        }
        return all;
    }

    /** See {@link Matrix#setActivationRounding}: llama.cpp's arithmetic for Q8_0 and Q4_0 weights. */
    public void setActivationRounding(boolean on) {
        for (Matrix m : matrices()) m.setActivationRounding(on);
    }

    /** Bytes of all matrices (what a token may stream), counting a tied head once. */
    public long matrixBytes() {
        long b = embed.bytes() + (lmHead == embed ? 0 : lmHead.bytes());
        for (Layer l : layers) {
            for (Matrix m : new Matrix[]{l.wq, l.wk, l.wv, l.wo, l.gate, l.up, l.down, l.router, l.sharedGate, l.sharedUp, l.sharedDown}) {
                if (m != null) b += m.bytes();
            }
            if (l.expertGate != null) {
                for (int e = 0; e < l.expertGate.length; e++) {
                    if (l.expertGate[e] != null) b += l.expertGate[e].bytes() + l.expertUp[e].bytes() + l.expertDown[e].bytes();
                }
            }
        }
        return b;
    }
}
