package moge.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import moge.format.Layouts;

import java.lang.foreign.MemorySegment;

/**
 * bf16 weights against 16 tokens and more (batched decode, short prefill chunks) without decoding panels:
 * the tokens lie in the lanes of two vectors ({@link Activations#tokenMajor}, tiles of {@link Gemm#TILE}),
 * and each step reads one pair of bf16 weights as an int, broadcasts it, and splits it into the two floats
 * with a shift and a mask. At these token counts decoding a float32 panel, as {@link Gemm} does, cost as
 * much as multiplying it (0.35 ns per weight against 0.41 for its 32 flops, AVX2), and the register tiles of
 * {@link FewTokens} spend most of their instructions on loads and horizontal bookkeeping; a 4-row x 16-token
 * step here is 16 FMAs for 4 broadcasts, 8 lane operations and 4 loads.
 * <p>Each output is summed over k in ascending order in one lane, exactly as {@link Gemm}'s kernel sums it,
 * so the two give the same bits and a token's result does not depend on which of them ran.
 */
final class Bf16TokenLanes {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> IS = IntVector.SPECIES_PREFERRED;
    private static final int L = FS.length();
    private static final int TILE = Gemm.TILE;
    /**
     * Whether a tile of at most {@link #L} tokens (16 batched sequences at 512 bits) runs in {@link #rows8}, one
     * vector per row, rather than in two vectors of which the second multiplies padding: eight BF16 2048x2048
     * matrices at 16 tokens took as long as at 32 (10.5 ms, AVX-512, 2 threads). Not at 256 bits, where eight
     * tokens per vector would leave the dependent FMAs too few vectors to hide their latency behind.
     */
    private static final boolean ONE_VECTOR = Gemm.WIDE;

    private Bf16TokenLanes() {
    }

    /**
     * y[t * yStride + yOff + r] = W[r] . x_t for rows [r0, r1) and tokens [0, T); xt in tiles of {@link Gemm#TILE}
     * tokens, zero past T.
     */
    static void matmul(MemorySegment w, int cols, float[] xt, int T, float[] y, int yStride, int yOff, int r0, int r1) {
        if (TILE != 2 * L) throw new IllegalStateException("tiles of two vectors expected");
        float[] tmp = new float[Math.max(TILE, 8 * L)];
        int r = r0;
        // rows outermost: a block's rows (4 or 8 x cols x 2 bytes) stay close while every tile of tokens reads them
        if (ONE_VECTOR) {
            for (; r + 8 <= r1; r += 8) {
                for (int t0 = 0; t0 < T; t0 += TILE) {
                    int tn = Math.min(TILE, T - t0);
                    if (tn <= L) {
                        rows8(w, cols, xt, t0 * cols, r, y, yStride, yOff, t0, tn, tmp);
                    } else {
                        rows4(w, cols, xt, t0 * cols, r, y, yStride, yOff, t0, tn, tmp);
                        rows4(w, cols, xt, t0 * cols, r + 4, y, yStride, yOff, t0, tn, tmp);
                    }
                }
            }
        }
        for (; r + 4 <= r1; r += 4) {
            for (int t0 = 0; t0 < T; t0 += TILE) rows4(w, cols, xt, t0 * cols, r, y, yStride, yOff, t0, Math.min(TILE, T - t0), tmp);
        }
        for (; r < r1; r++) {
            for (int t0 = 0; t0 < T; t0 += TILE) row1(w, cols, xt, t0 * cols, r, y, yStride, yOff, t0, Math.min(TILE, T - t0), tmp);
        }
    }

    private static void rows4(MemorySegment w, int cols, float[] xt, int xBase, int r, float[] y, int yStride, int yOff, int t0, int tn,
                              float[] tmp) {
        long rb = (long) cols * 2;
        long b0 = r * rb, b1 = b0 + rb, b2 = b1 + rb, b3 = b2 + rb;
        FloatVector a00 = FloatVector.zero(FS), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
        int c = 0, xo = xBase;
        // Not a counted loop on purpose: in counted form C2 hoists every load of the body and spills (2x slower).
        for (; c + 2 <= cols; c += 2, xo += 2 * TILE) {
            long cb = (long) c * 2;
            FloatVector xa = FloatVector.fromArray(FS, xt, xo), xb = FloatVector.fromArray(FS, xt, xo + L);
            FloatVector xc = FloatVector.fromArray(FS, xt, xo + TILE), xd = FloatVector.fromArray(FS, xt, xo + TILE + L);
            IntVector p = IntVector.broadcast(IS, w.get(Layouts.I32, b0 + cb));
            FloatVector e = p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), o = p.and(0xFFFF0000).reinterpretAsFloats();
            a00 = o.fma(xc, e.fma(xa, a00));
            a01 = o.fma(xd, e.fma(xb, a01));
            p = IntVector.broadcast(IS, w.get(Layouts.I32, b1 + cb));
            e = p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            o = p.and(0xFFFF0000).reinterpretAsFloats();
            a10 = o.fma(xc, e.fma(xa, a10));
            a11 = o.fma(xd, e.fma(xb, a11));
            p = IntVector.broadcast(IS, w.get(Layouts.I32, b2 + cb));
            e = p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            o = p.and(0xFFFF0000).reinterpretAsFloats();
            a20 = o.fma(xc, e.fma(xa, a20));
            a21 = o.fma(xd, e.fma(xb, a21));
            p = IntVector.broadcast(IS, w.get(Layouts.I32, b3 + cb));
            e = p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            o = p.and(0xFFFF0000).reinterpretAsFloats();
            a30 = o.fma(xc, e.fma(xa, a30));
            a31 = o.fma(xd, e.fma(xb, a31));
        }
        if (c < cols) { // an odd column count: the last column alone, still in ascending order
            long cb = (long) c * 2;
            FloatVector xa = FloatVector.fromArray(FS, xt, xo), xb = FloatVector.fromArray(FS, xt, xo + L);
            FloatVector e = FloatVector.broadcast(FS, BF16Matrix.bf16(w, b0 + cb));
            a00 = e.fma(xa, a00);
            a01 = e.fma(xb, a01);
            e = FloatVector.broadcast(FS, BF16Matrix.bf16(w, b1 + cb));
            a10 = e.fma(xa, a10);
            a11 = e.fma(xb, a11);
            e = FloatVector.broadcast(FS, BF16Matrix.bf16(w, b2 + cb));
            a20 = e.fma(xa, a20);
            a21 = e.fma(xb, a21);
            e = FloatVector.broadcast(FS, BF16Matrix.bf16(w, b3 + cb));
            a30 = e.fma(xa, a30);
            a31 = e.fma(xb, a31);
        }
        // vectors are never passed to a helper: one C2 declines to inline would box them
        int yo = t0 * yStride + yOff + r;
        a00.intoArray(tmp, 0);
        a01.intoArray(tmp, L);
        for (int j = 0; j < tn; j++) y[yo + j * yStride] = tmp[j];
        a10.intoArray(tmp, 0);
        a11.intoArray(tmp, L);
        for (int j = 0; j < tn; j++) y[yo + j * yStride + 1] = tmp[j];
        a20.intoArray(tmp, 0);
        a21.intoArray(tmp, L);
        for (int j = 0; j < tn; j++) y[yo + j * yStride + 2] = tmp[j];
        a30.intoArray(tmp, 0);
        a31.intoArray(tmp, L);
        for (int j = 0; j < tn; j++) y[yo + j * yStride + 3] = tmp[j];
    }

    /**
     * As {@link #rows4} for eight rows and a tile of at most {@link #L} tokens, one vector per row: eight
     * independent sums, each added to in the same order as there.
     */
    private static void rows8(MemorySegment w, int cols, float[] xt, int xBase, int r, float[] y, int yStride, int yOff, int t0, int tn,
                              float[] tmp) {
        long rb = (long) cols * 2;
        long b0 = r * rb, b1 = b0 + rb, b2 = b1 + rb, b3 = b2 + rb, b4 = b3 + rb, b5 = b4 + rb, b6 = b5 + rb, b7 = b6 + rb;
        FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        int c = 0, xo = xBase;
        // not a counted loop, as in rows4
        for (; c + 2 <= cols; c += 2, xo += 2 * TILE) {
            long cb = (long) c * 2;
            FloatVector xa = FloatVector.fromArray(FS, xt, xo), xc = FloatVector.fromArray(FS, xt, xo + TILE);
            IntVector p = IntVector.broadcast(IS, w.get(Layouts.I32, b0 + cb));
            a0 = p.and(0xFFFF0000).reinterpretAsFloats().fma(xc, p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xa, a0));
            p = IntVector.broadcast(IS, w.get(Layouts.I32, b1 + cb));
            a1 = p.and(0xFFFF0000).reinterpretAsFloats().fma(xc, p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xa, a1));
            p = IntVector.broadcast(IS, w.get(Layouts.I32, b2 + cb));
            a2 = p.and(0xFFFF0000).reinterpretAsFloats().fma(xc, p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xa, a2));
            p = IntVector.broadcast(IS, w.get(Layouts.I32, b3 + cb));
            a3 = p.and(0xFFFF0000).reinterpretAsFloats().fma(xc, p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xa, a3));
            p = IntVector.broadcast(IS, w.get(Layouts.I32, b4 + cb));
            a4 = p.and(0xFFFF0000).reinterpretAsFloats().fma(xc, p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xa, a4));
            p = IntVector.broadcast(IS, w.get(Layouts.I32, b5 + cb));
            a5 = p.and(0xFFFF0000).reinterpretAsFloats().fma(xc, p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xa, a5));
            p = IntVector.broadcast(IS, w.get(Layouts.I32, b6 + cb));
            a6 = p.and(0xFFFF0000).reinterpretAsFloats().fma(xc, p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xa, a6));
            p = IntVector.broadcast(IS, w.get(Layouts.I32, b7 + cb));
            a7 = p.and(0xFFFF0000).reinterpretAsFloats().fma(xc, p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xa, a7));
        }
        if (c < cols) { // an odd column count: the last column alone
            long cb = (long) c * 2;
            FloatVector xa = FloatVector.fromArray(FS, xt, xo);
            a0 = FloatVector.broadcast(FS, BF16Matrix.bf16(w, b0 + cb)).fma(xa, a0);
            a1 = FloatVector.broadcast(FS, BF16Matrix.bf16(w, b1 + cb)).fma(xa, a1);
            a2 = FloatVector.broadcast(FS, BF16Matrix.bf16(w, b2 + cb)).fma(xa, a2);
            a3 = FloatVector.broadcast(FS, BF16Matrix.bf16(w, b3 + cb)).fma(xa, a3);
            a4 = FloatVector.broadcast(FS, BF16Matrix.bf16(w, b4 + cb)).fma(xa, a4);
            a5 = FloatVector.broadcast(FS, BF16Matrix.bf16(w, b5 + cb)).fma(xa, a5);
            a6 = FloatVector.broadcast(FS, BF16Matrix.bf16(w, b6 + cb)).fma(xa, a6);
            a7 = FloatVector.broadcast(FS, BF16Matrix.bf16(w, b7 + cb)).fma(xa, a7);
        }
        // the eight rows' results into tmp, [row][token], then out token by token
        a0.intoArray(tmp, 0);
        a1.intoArray(tmp, L);
        a2.intoArray(tmp, 2 * L);
        a3.intoArray(tmp, 3 * L);
        a4.intoArray(tmp, 4 * L);
        a5.intoArray(tmp, 5 * L);
        a6.intoArray(tmp, 6 * L);
        a7.intoArray(tmp, 7 * L);
        int yo = t0 * yStride + yOff + r;
        for (int j = 0; j < tn; j++) {
            for (int i = 0; i < 8; i++) y[yo + j * yStride + i] = tmp[i * L + j];
        }
    }

    /** The rows past the last block of four, one at a time, in the same order. */
    private static void row1(MemorySegment w, int cols, float[] xt, int xBase, int r, float[] y, int yStride, int yOff, int t0, int tn,
                             float[] tmp) {
        long b0 = (long) r * cols * 2;
        FloatVector a00 = FloatVector.zero(FS), a01 = a00;
        int c = 0, xo = xBase;
        for (; c < cols; c++, xo += TILE) {
            FloatVector e = FloatVector.broadcast(FS, BF16Matrix.bf16(w, b0 + (long) c * 2));
            a00 = e.fma(FloatVector.fromArray(FS, xt, xo), a00);
            a01 = e.fma(FloatVector.fromArray(FS, xt, xo + L), a01);
        }
        int yo = t0 * yStride + yOff + r;
        a00.intoArray(tmp, 0);
        a01.intoArray(tmp, L);
        for (int j = 0; j < tn; j++) y[yo + j * yStride] = tmp[j];
    }
}
