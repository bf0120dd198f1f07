package moge.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link Gemm} for a product of at most one vector of tokens at 512 bits (batched decode of up to 16 sequences,
 * speculative verification): a tile there holds 32 tokens, two vectors, so 16 tokens would multiply a vector of
 * padding in every step (eight Q8_0 2048x2048 products took 14 ms at 8, 16 and 32 tokens alike). Here each of
 * eight weight rows meets the one vector of tokens: eight independent sums, enough to hide the FMA latency that
 * four sums of one vector (Gemm's four rows) left exposed. Each output is summed over k in ascending order in
 * one lane, as Gemm sums it, so a token's result has the same bits whichever of the two ran.
 */
final class NarrowGemm {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final int L = FS.length();
    private static final int ROWS = 8;
    private static final int KP = Gemm.KP;
    private static final int TILE = Gemm.TILE;

    private NarrowGemm() {
    }

    /** Whether T tokens run here: one vector of them, at 512 bits (at 256 bits a tile is two vectors of 8). */
    static boolean takes(int T) {
        return Gemm.WIDE && T <= L;
    }

    /** As {@link Gemm#matmul}, for T <= {@link #L} tokens (see {@link #takes}). */
    static void matmul(Gemm.Source w, int cols, float[] xt, int T, float[] y, int yStride, int yOff, int r0, int r1) {
        float[] panel = new float[ROWS * KP];
        float[] sums = new float[ROWS * L];
        for (int r = r0; r < r1; r += ROWS) {
            int n = Math.min(ROWS, r1 - r);
            if (n < ROWS) java.util.Arrays.fill(panel, 0f); // rows past r1 multiply zeros, their sums unused
            for (int k0 = 0; k0 < cols; k0 += KP) {
                int k1 = Math.min(cols, k0 + KP);
                w.decode(r, n, k0, k1, panel, KP);
                kernel(panel, xt, k0, k1, sums);
            }
            for (int j = 0; j < T; j++) {
                int yo = j * yStride + yOff + r;
                for (int i = 0; i < n; i++) y[yo + i] = sums[i * L + j];
            }
        }
    }

    // A method of its own, as Gemm.kernel: vectors never cross a call C2 might decline to inline. The sums go
    // through memory between panels, once per 512 columns.
    private static void kernel(float[] panel, float[] xt, int k0, int k1, float[] sums) {
        FloatVector a0, a1, a2, a3, a4, a5, a6, a7;
        if (k0 == 0) {
            a0 = FloatVector.zero(FS);
            a1 = a0;
            a2 = a0;
            a3 = a0;
            a4 = a0;
            a5 = a0;
            a6 = a0;
            a7 = a0;
        } else {
            a0 = FloatVector.fromArray(FS, sums, 0);
            a1 = FloatVector.fromArray(FS, sums, L);
            a2 = FloatVector.fromArray(FS, sums, 2 * L);
            a3 = FloatVector.fromArray(FS, sums, 3 * L);
            a4 = FloatVector.fromArray(FS, sums, 4 * L);
            a5 = FloatVector.fromArray(FS, sums, 5 * L);
            a6 = FloatVector.fromArray(FS, sums, 6 * L);
            a7 = FloatVector.fromArray(FS, sums, 7 * L);
        }
        int len = k1 - k0;
        int xo = k0 * TILE;
        for (int p = 0; p < len; p++, xo += TILE) {
            FloatVector x = FloatVector.fromArray(FS, xt, xo);
            a0 = FloatVector.broadcast(FS, panel[p]).fma(x, a0);
            a1 = FloatVector.broadcast(FS, panel[KP + p]).fma(x, a1);
            a2 = FloatVector.broadcast(FS, panel[2 * KP + p]).fma(x, a2);
            a3 = FloatVector.broadcast(FS, panel[3 * KP + p]).fma(x, a3);
            a4 = FloatVector.broadcast(FS, panel[4 * KP + p]).fma(x, a4);
            a5 = FloatVector.broadcast(FS, panel[5 * KP + p]).fma(x, a5);
            a6 = FloatVector.broadcast(FS, panel[6 * KP + p]).fma(x, a6);
            a7 = FloatVector.broadcast(FS, panel[7 * KP + p]).fma(x, a7);
        }
        a0.intoArray(sums, 0);
        a1.intoArray(sums, L);
        a2.intoArray(sums, 2 * L);
        a3.intoArray(sums, 3 * L);
        a4.intoArray(sums, 4 * L);
        a5.intoArray(sums, 5 * L);
        a6.intoArray(sums, 6 * L);
        a7.intoArray(sums, 7 * L);
    }
}
