package moge.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** Small vector operations of the forward pass (norms, residuals, attention dots). */
public final class VectorMath {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final int L = FS.length();

    private VectorMath() {
    }

    /**
     * lanes[off] + lanes[off + 1] + ... left to right. Kernels store their accumulators and sum them here
     * instead of reduceLanes, whose order differs between interpreted and compiled code: this way a result
     * has the same bits in every JIT tier (and in a freshly started worker process).
     */
    public static float sumLanes(float[] lanes, int off, int n) {
        float s = 0;
        for (int i = 0; i < n; i++) s += lanes[off + i];
        return s;
    }

    /** The reference SiLU, in float64; the forward pass uses {@link #siluMul}. */
    public static float silu(float x) {
        return (float) (x / (1.0 + Math.exp(-x)));
    }

    private static final int SILU_CHUNK = 512;

    /**
     * h[off .. off + n) = silu(h) * up[off .. off + n), with {@link #exp}: the SwiGLU of every forward pass.
     * Each value goes through the same lane arithmetic wherever it lies (a short tail is padded to a whole
     * vector), so a token's result does not depend on how the rows were split over threads or batches.
     */
    public static void siluMul(float[] h, float[] up, int off, int n) {
        float[] e = new float[Math.min(SILU_CHUNK, (n + L - 1) / L * L)];
        for (int s = 0; s < n; s += SILU_CHUNK) {
            int m = Math.min(SILU_CHUNK, n - s), mv = (m + L - 1) / L * L, o = off + s;
            for (int i = 0; i < m; i++) e[i] = -h[o + i];
            for (int i = m; i < mv; i++) e[i] = 0f;
            exp(e, 0, mv);
            int i = 0;
            for (; i + L <= m; i += L) {
                FloatVector.fromArray(FS, h, o + i).div(FloatVector.fromArray(FS, e, i).add(1f))
                        .mul(FloatVector.fromArray(FS, up, o + i)).intoArray(h, o + i);
            }
            for (; i < m; i++) h[o + i] = h[o + i] / (e[i] + 1f) * up[o + i];
        }
    }

    private static final float LOG2E = 1.44269504f, LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
    private static final float ROUND = 12582912f; // 1.5 * 2^23: adding it rounds to an integer

    /**
     * a[off .. off + n) = exp(a), n a multiple of L: range reduction to r in [-ln2/2, ln2/2], a degree-6
     * polynomial, and the power of two put into the exponent bits (inputs below -87 give ~0, not 0).
     */
    public static void exp(float[] a, int off, int n) {
        for (int i = off; i < off + n; i += L) {
            FloatVector x = FloatVector.fromArray(FS, a, i).max(-87f).min(88f);
            FloatVector t = x.fma(LOG2E, ROUND);
            FloatVector nf = t.sub(ROUND);
            IntVector ni = t.reinterpretAsInts().sub(0x4B400000);
            FloatVector r = nf.mul(-LN2_HI).add(x);
            r = nf.mul(-LN2_LO).add(r);
            FloatVector p = r.fma(1f / 720, 1f / 120);
            p = p.fma(r, FloatVector.broadcast(FS, 1f / 24));
            p = p.fma(r, FloatVector.broadcast(FS, 1f / 6));
            p = p.fma(r, FloatVector.broadcast(FS, 0.5f));
            p = p.fma(r, FloatVector.broadcast(FS, 1f));
            p = p.fma(r, FloatVector.broadcast(FS, 1f));
            FloatVector pow2 = ni.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
            p.mul(pow2).intoArray(a, i);
        }
    }

    public static float dot(float[] a, int ao, float[] b, int bo, int n) {
        FloatVector acc = FloatVector.zero(FS);
        int i = 0;
        for (; i + L <= n; i += L) acc = FloatVector.fromArray(FS, a, ao + i).fma(FloatVector.fromArray(FS, b, bo + i), acc);
        float[] lanes = new float[L];
        acc.intoArray(lanes, 0);
        float s = sumLanes(lanes, 0, L);
        for (; i < n; i++) s += a[ao + i] * b[bo + i];
        return s;
    }

    /** y += a * x */
    public static void axpy(float a, float[] x, int xo, float[] y, int yo, int n) {
        FloatVector av = FloatVector.broadcast(FS, a);
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector.fromArray(FS, x, xo + i).fma(av, FloatVector.fromArray(FS, y, yo + i)).intoArray(y, yo + i);
        }
        for (; i < n; i++) y[yo + i] += a * x[xo + i];
    }

    /** y += x */
    public static void add(float[] x, int xo, float[] y, int yo, int n) {
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector.fromArray(FS, x, xo + i).add(FloatVector.fromArray(FS, y, yo + i)).intoArray(y, yo + i);
        }
        for (; i < n; i++) y[yo + i] += x[xo + i];
    }

    public static void scale(float[] x, int xo, float a, int n) {
        int i = 0;
        for (; i + L <= n; i += L) FloatVector.fromArray(FS, x, xo + i).mul(a).intoArray(x, xo + i);
        for (; i < n; i++) x[xo + i] *= a;
    }

    /**
     * out = x / sqrt(mean(x^2) + eps) * w in ggml's arithmetic: each square rounded to float, the squares summed
     * in double one after another, the mean rounded to float, 1 / sqrt(mean + eps) in float, then x times that
     * scale and times w. The double sum is more exact than the float lanes it replaces; following ggml step by step matters
     * once activations are rounded to 8 bits (--activations q8): a last-bit difference in the scale moves values
     * across rounding boundaries, and that alone put pangu-embedded's first position 1e-2 away from llama.cpp's.
     */
    public static void rmsnorm(float[] x, int xo, float[] w, float[] out, int oo, int n, float eps) {
        double ss = 0;
        for (int i = 0; i < n; i++) {
            float v = x[xo + i];
            ss += v * v;
        }
        float mean = (float) (ss / n);
        float scale = 1f / (float) Math.sqrt(mean + eps);
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector.fromArray(FS, x, xo + i).mul(scale).mul(FloatVector.fromArray(FS, w, i)).intoArray(out, oo + i);
        }
        for (; i < n; i++) out[oo + i] = x[xo + i] * scale * w[i];
    }

    /** In-place softmax of x[off .. off+n); returns nothing, max-subtracted, sums in double. */
    public static void softmax(float[] x, int off, int n) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, x[off + i]);
        double sum = 0;
        for (int i = 0; i < n; i++) {
            float e = (float) Math.exp(x[off + i] - max);
            x[off + i] = e;
            sum += e;
        }
        float inv = (float) (1.0 / sum);
        for (int i = 0; i < n; i++) x[off + i] *= inv;
    }
}
