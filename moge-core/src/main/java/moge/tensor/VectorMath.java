package moge.tensor;

import jdk.incubator.vector.FloatVector;
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

    public static float silu(float x) {
        return (float) (x / (1.0 + Math.exp(-x)));
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
