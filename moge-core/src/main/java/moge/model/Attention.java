package moge.model;

import moge.tensor.Parallel;
import moge.tensor.VectorMath;

/**
 * Rotary embedding, KV cache writes and causal grouped-query attention over the paged cache. RoPE covers
 * the full head dimension; pair i rotates by pos * theta^(-2i/d), the pair being (i, i + d/2) in the NeoX
 * (rotate_half) form or (2i, 2i + 1) in the interleaved form ({@link RopeStyle}).
 */
final class Attention {
    private final ModelConfig c;
    private final double[] invFreq;
    private float[] cos = new float[0], sin = new float[0];
    private final FlashAttention flash;

    Attention(ModelConfig c, int teamSize) {
        this.c = c;
        int half = c.headDim() / 2;
        invFreq = new double[half];
        for (int i = 0; i < half; i++) invFreq[i] = Math.pow(c.ropeTheta(), -2.0 * i / c.headDim());
        flash = new FlashAttention(c, teamSize);
    }

    /** Computes the rotation tables of the batch's positions once for all layers. */
    void prepareRope(Batch b) {
        int half = c.headDim() / 2, T = b.size();
        if (cos.length < T * half) {
            cos = new float[T * half];
            sin = new float[T * half];
        }
        for (int t = 0; t < T; t++) {
            int p = b.positions[t];
            for (int i = 0; i < half; i++) {
                double a = p * invFreq[i];
                cos[t * half + i] = (float) Math.cos(a);
                sin[t * half + i] = (float) Math.sin(a);
            }
        }
    }

    /** Rotates tokens [t0, t1) of x (heads vectors of headDim each per token). */
    void rope(float[] x, int t0, int t1, int heads) {
        int d = c.headDim(), half = d / 2;
        if (c.ropeStyle() == RopeStyle.INTERLEAVED) {
            ropeInterleaved(x, t0, t1, heads);
            return;
        }
        for (int t = t0; t < t1; t++) {
            for (int h = 0; h < heads; h++) {
                int o = (t * heads + h) * d;
                for (int i = 0; i < half; i++) {
                    float x1 = x[o + i], x2 = x[o + i + half];
                    float cs = cos[t * half + i], sn = sin[t * half + i];
                    x[o + i] = x1 * cs - x2 * sn;
                    x[o + i + half] = x2 * cs + x1 * sn;
                }
            }
        }
    }

    private void ropeInterleaved(float[] x, int t0, int t1, int heads) {
        int d = c.headDim(), half = d / 2;
        for (int t = t0; t < t1; t++) {
            for (int h = 0; h < heads; h++) {
                int o = (t * heads + h) * d;
                for (int i = 0; i < half; i++) {
                    float x1 = x[o + 2 * i], x2 = x[o + 2 * i + 1];
                    float cs = cos[t * half + i], sn = sin[t * half + i];
                    x[o + 2 * i] = x1 * cs - x2 * sn;
                    x[o + 2 * i + 1] = x2 * cs + x1 * sn;
                }
            }
        }
    }

    void store(KvCache cache, int layer, Batch b, float[] k, float[] v) {
        int kvDim = c.kvDim();
        for (int t = 0; t < b.size(); t++) cache.write(layer, b.seqs[t].slot(b.positions[t]), k, v, t * kvDim);
    }

    /** out[t, h*d ..] = softmax(q_th . K_j / sqrt(d), j <= pos_t) . V_j (see {@link FlashAttention}). */
    void attend(Parallel team, KvCache cache, int layer, Batch b, float[] q, float[] out) {
        flash.attend(team, cache, layer, b, q, out);
    }
}
