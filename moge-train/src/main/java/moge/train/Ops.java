package moge.train;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import moge.tensor.Parallel;

/**
 * Row-wise operations of the training forward and backward passes. Reductions over rows (norm and bias
 * gradients) are split by column, so each sum runs over the rows in order on one thread: results do not
 * depend on the team size.
 */
public final class Ops {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final int L = FS.length();

    private Ops() {
    }

    /*
     * exp for the SwiGLU elementwise pass, built only from +, ×, fma and bit operations, which give the same
     * bits in interpreted and compiled code and in vector lanes and scalars alike. (The Vector API's EXP is an
     * SVML call once compiled but a Math.exp loop before, so results would depend on JIT timing.) Range
     * reduction to r in [-ln2/2, ln2/2], degree-6 Taylor polynomial (relative error < 2e-7), scale by 2^k.
     */
    private static final float LOG2E = 1.44269504f, LN2_HI = 0.693145751953125f, LN2_LO = 1.428606765330187e-06f;
    private static final float ROUND = 12582912f; // 1.5·2^23: adding and subtracting it rounds to an integer

    static FloatVector exp(FloatVector x) {
        x = x.max(-87f).min(88f);
        FloatVector k = x.mul(LOG2E).add(ROUND).sub(ROUND);
        FloatVector r = k.neg().fma(FloatVector.broadcast(FS, LN2_HI), x);
        r = k.neg().fma(FloatVector.broadcast(FS, LN2_LO), r);
        FloatVector p = r.fma(1f / 720, 1f / 120);
        p = p.fma(r, FloatVector.broadcast(FS, 1f / 24));
        p = p.fma(r, FloatVector.broadcast(FS, 1f / 6));
        p = p.fma(r, FloatVector.broadcast(FS, 0.5f));
        p = p.fma(r, FloatVector.broadcast(FS, 1f));
        p = p.fma(r, FloatVector.broadcast(FS, 1f));
        FloatVector scale = ((jdk.incubator.vector.IntVector) k.convert(VectorOperators.F2I, 0)).add(127)
                .lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return p.mul(scale);
    }

    static float exp(float x) {
        x = Math.min(Math.max(x, -87f), 88f);
        float k = x * LOG2E + ROUND - ROUND;
        float r = Math.fma(-k, LN2_HI, x);
        r = Math.fma(-k, LN2_LO, r);
        float p = Math.fma(r, 1f / 720, 1f / 120);
        p = Math.fma(p, r, 1f / 24);
        p = Math.fma(p, r, 1f / 6);
        p = Math.fma(p, r, 0.5f);
        p = Math.fma(p, r, 1f);
        p = Math.fma(p, r, 1f);
        return p * Float.intBitsToFloat(((int) k + 127) << 23);
    }

    /** a[i] = silu(g[i])·u[i] for i in [from, to). */
    public static void siluMul(float[] g, float[] u, float[] a, int from, int to) {
        int i = from;
        for (; i + L <= to; i += L) {
            FloatVector gv = FloatVector.fromArray(FS, g, i);
            gv.div(exp(gv.neg()).add(1f)).mul(FloatVector.fromArray(FS, u, i)).intoArray(a, i);
        }
        for (; i < to; i++) a[i] = g[i] / (exp(-g[i]) + 1f) * u[i];
    }

    /**
     * SwiGLU backward on [from, to): dg = da·u·silu'(g), du = da·silu(g), with silu'(g) = σ(g)·(1 + g·(1 − σ(g))).
     * g and u are read at {@code hOff + i}, da/dg/du at i.
     */
    public static void siluMulGrad(float[] g, float[] u, int hOff, float[] da, float[] dg, float[] du, int from, int to) {
        int i = from;
        for (; i + L <= to; i += L) {
            FloatVector gv = FloatVector.fromArray(FS, g, hOff + i), uv = FloatVector.fromArray(FS, u, hOff + i);
            FloatVector d = FloatVector.fromArray(FS, da, i);
            FloatVector sig = FloatVector.broadcast(FS, 1f).div(exp(gv.neg()).add(1f));
            FloatVector silu = gv.mul(sig);
            FloatVector grad = sig.mul(gv.mul(sig.neg().add(1f)).add(1f));
            d.mul(uv).mul(grad).intoArray(dg, i);
            d.mul(silu).intoArray(du, i);
        }
        for (; i < to; i++) {
            float gv = g[hOff + i], uv = u[hOff + i], d = da[i];
            float sig = 1f / (exp(-gv) + 1f);
            float silu = gv * sig;
            float grad = sig * (gv * (-sig + 1f) + 1f);
            dg[i] = d * uv * grad;
            du[i] = d * silu;
        }
    }

    /** y = x · r · w per row, r = 1/sqrt(mean(x²) + eps) saved in {@code rOut}. */
    public static void rmsnorm(Parallel team, float[] x, float[] w, float[] y, float[] rOut, int rows, int h, float eps) {
        team.forRange(rows, 16, (t0, t1) -> {
            for (int t = t0; t < t1; t++) {
                int o = t * h;
                double ss = 0;
                for (int i = 0; i < h; i++) ss += (double) x[o + i] * x[o + i];
                float r = (float) (1.0 / Math.sqrt(ss / h + eps));
                rOut[t] = r;
                for (int i = 0; i < h; i++) y[o + i] = x[o + i] * r * w[i];
            }
        });
    }

    /**
     * Backward of {@link #rmsnorm}: dx += r·(dy⊙w) − x·r³·Σ(dy⊙w⊙x)/h, and dw += Σ_t dy⊙x·r.
     */
    public static void rmsnormBackward(Parallel team, float[] x, float[] w, float[] r, float[] dy, float[] dx, float[] dw, int rows, int h) {
        team.forRange(rows, 16, (t0, t1) -> {
            for (int t = t0; t < t1; t++) {
                int o = t * h;
                double dot = 0;
                for (int i = 0; i < h; i++) dot += (double) dy[o + i] * w[i] * x[o + i];
                float rt = r[t];
                float c = (float) (dot * rt * rt * rt / h);
                for (int i = 0; i < h; i++) dx[o + i] += rt * dy[o + i] * w[i] - x[o + i] * c;
            }
        });
        team.forRange(h, 8, (i0, i1) -> {
            for (int t = 0; t < rows; t++) {
                int o = t * h;
                float rt = r[t];
                for (int i = i0; i < i1; i++) dw[i] += dy[o + i] * x[o + i] * rt;
            }
        });
    }

    /** out[j] += Σ_t x[t·cols + j] (bias gradients). */
    public static void columnSums(Parallel team, float[] x, int rows, int cols, float[] out) {
        team.forRange(cols, 8, (j0, j1) -> {
            for (int t = 0; t < rows; t++) {
                int o = t * cols;
                for (int j = j0; j < j1; j++) out[j] += x[o + j];
            }
        });
    }

    /** y[t] += bias for every row. */
    public static void addBias(float[] y, float[] bias, int rows, int cols) {
        for (int t = 0; t < rows; t++) {
            int o = t * cols;
            for (int j = 0; j < cols; j++) y[o + j] += bias[j];
        }
    }

    public static float sigmoid(float x) {
        return (float) (1.0 / (1.0 + Math.exp(-x)));
    }

    /** silu(x) = x·σ(x), computed as moge.tensor.VectorMath does so that training and inference agree. */
    public static float silu(float x) {
        return (float) (x / (1.0 + Math.exp(-x)));
    }

    /** d silu / dx = σ(x)·(1 + x·(1 − σ(x))). */
    public static float siluGrad(float x) {
        double s = 1.0 / (1.0 + Math.exp(-x));
        return (float) (s * (1.0 + x * (1.0 - s)));
    }

    /** Rotary tables for positions 0..maxPos-1: NeoX pairs (i, i + d/2) rotate by pos·θ^(−2i/d). */
    public static final class Rope {
        final int half;
        final float[] cos, sin;

        public Rope(int headDim, double theta, int maxPos) {
            half = headDim / 2;
            cos = new float[maxPos * half];
            sin = new float[maxPos * half];
            for (int i = 0; i < half; i++) {
                double inv = Math.pow(theta, -2.0 * i / headDim);
                for (int p = 0; p < maxPos; p++) {
                    double a = p * inv;
                    cos[p * half + i] = (float) Math.cos(a);
                    sin[p * half + i] = (float) Math.sin(a);
                }
            }
        }

        public int maxPositions() {
            return cos.length / Math.max(1, half);
        }

        /** Rotates every head of every row in place; {@code inverse} applies the transpose (the backward). */
        public void apply(Parallel team, float[] x, int[] pos, int rows, int heads, boolean inverse) {
            int d = 2 * half;
            team.forRange(rows, 16, (t0, t1) -> {
                for (int t = t0; t < t1; t++) {
                    int p = pos[t] * half;
                    for (int h = 0; h < heads; h++) {
                        int o = (t * heads + h) * d;
                        for (int i = 0; i < half; i++) {
                            float x1 = x[o + i], x2 = x[o + i + half];
                            float c = cos[p + i], s = inverse ? -sin[p + i] : sin[p + i];
                            x[o + i] = x1 * c - x2 * s;
                            x[o + i + half] = x2 * c + x1 * s;
                        }
                    }
                }
            });
        }
    }
}
