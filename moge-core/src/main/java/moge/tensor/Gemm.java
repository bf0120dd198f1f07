package moge.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Matrix-matrix product for several tokens (prefill, verification, batched decode), shared by every storage
 * format: a panel of {@link #ROWS} weight rows by {@link #KP} columns is decoded to float32 once (it stays in
 * L1), then multiplied against tiles of {@link #TILE} tokens read from {@link Activations#tokenMajor}: each
 * step broadcasts one weight and multiplies it with a vector of tokens, so there are no horizontal sums.
 * Tokens are taken {@link #GROUP} at a time so that their activations stay in L2 while the rows stream by.
 * <p>
 * Each output (row, token) is summed over k in the same order whatever the row split, the row's position
 * in its panel or the token's position in its tile, so results do not depend on the thread count.
 */
final class Gemm {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final int L = FS.length();
    static final int ROWS = 4;
    static final int TILE = 2 * L;
    static final int KP = 512;
    static final int GROUP = 4 * TILE;

    /** Decodes rows [r, r + n) and columns [k0, k1) of a weight matrix to float32: dst[i * stride + k - k0]. */
    interface Source {
        void decode(int r, int n, int k0, int k1, float[] dst, int stride);
    }

    private Gemm() {
    }

    /** y[t * yStride + yOff + r] = W[r] . x_t for rows [r0, r1) and every token of x. */
    static void matmul(Source w, int cols, Activations x, float[] y, int yStride, int yOff, int r0, int r1) {
        float[] xt = x.tokenMajor(TILE);
        int T = x.tokens();
        float[] panel = new float[ROWS * KP];
        float[] tmp = new float[TILE];
        for (int g0 = 0; g0 < T; g0 += GROUP) {
            int g1 = Math.min(T, g0 + GROUP);
            for (int k0 = 0; k0 < cols; k0 += KP) {
                int k1 = Math.min(cols, k0 + KP);
                for (int r = r0; r < r1; r += ROWS) {
                    int n = Math.min(ROWS, r1 - r);
                    w.decode(r, n, k0, k1, panel, KP);
                    for (int t0 = g0; t0 < g1; t0 += TILE) {
                        kernel(panel, xt, (t0 / TILE) * cols * TILE, k0, k1, tmp, y, yStride, yOff, r, n, t0,
                                Math.min(TILE, T - t0));
                    }
                }
            }
        }
    }

    private static void kernel(float[] panel, float[] xt, int xBase, int k0, int k1, float[] tmp,
                               float[] y, int yStride, int yOff, int r, int n, int t0, int tn) {
        FloatVector a00 = FloatVector.zero(FS), a01 = a00, a10 = a00, a11 = a00;
        FloatVector a20 = a00, a21 = a00, a30 = a00, a31 = a00;
        int len = k1 - k0;
        int xo = xBase + k0 * TILE;
        for (int p = 0; p < len; p++, xo += TILE) {
            FloatVector xa = FloatVector.fromArray(FS, xt, xo);
            FloatVector xb = FloatVector.fromArray(FS, xt, xo + L);
            FloatVector w = FloatVector.broadcast(FS, panel[p]);
            a00 = w.fma(xa, a00);
            a01 = w.fma(xb, a01);
            w = FloatVector.broadcast(FS, panel[KP + p]);
            a10 = w.fma(xa, a10);
            a11 = w.fma(xb, a11);
            w = FloatVector.broadcast(FS, panel[2 * KP + p]);
            a20 = w.fma(xa, a20);
            a21 = w.fma(xb, a21);
            w = FloatVector.broadcast(FS, panel[3 * KP + p]);
            a30 = w.fma(xa, a30);
            a31 = w.fma(xb, a31);
        }
        boolean first = k0 == 0;
        store(a00, a01, tmp, y, yStride, yOff + r, t0, tn, first);
        if (n > 1) store(a10, a11, tmp, y, yStride, yOff + r + 1, t0, tn, first);
        if (n > 2) store(a20, a21, tmp, y, yStride, yOff + r + 2, t0, tn, first);
        if (n > 3) store(a30, a31, tmp, y, yStride, yOff + r + 3, t0, tn, first);
    }

    private static void store(FloatVector a, FloatVector b, float[] tmp, float[] y, int yStride, int yo, int t0, int tn, boolean first) {
        a.intoArray(tmp, 0);
        b.intoArray(tmp, L);
        if (first) {
            for (int j = 0; j < tn; j++) y[(t0 + j) * yStride + yo] = tmp[j];
        } else {
            for (int j = 0; j < tn; j++) y[(t0 + j) * yStride + yo] += tmp[j];
        }
    }
}
