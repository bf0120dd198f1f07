package moge.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import moge.format.Layouts;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Matrix products for a handful of tokens (2..{@link #MAX}): speculative verification, small decode
 * batches. Decoding is bound by streaming the weights, and a pass over a few tokens should cost little
 * more than one; so each weight vector is loaded and widened once and multiplied into the accumulators of
 * every token of a tile: 2 rows x 4 tokens, 4 x 2 or 4 x 1, at most 14 live vectors, which fits AVX2's 16
 * registers (larger tiles spilled, and in larger methods C2 stopped inlining vector operations). No lane
 * is spent on absent tokens, unlike a tile sized for prefill; each block of four rows serves every token
 * before the next block is read, so the weights stream from memory once per call.
 * <p>Each (row, token) sum runs in one order (vector lanes, then the lanes one after another, then the
 * columns past the last whole vector) whatever the tile, the row split or the JIT tier, so a token's result
 * does not depend on the other tokens of its batch, the thread count or JIT state.
 * <p>The kernels below the drivers are regular by construction (written from one template); change them
 * together.
 */
final class FewTokens {
    static final int MAX = 8;
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> IS = IntVector.SPECIES_PREFERRED;
    private static final int L = FS.length();
    /** bf16 values per int vector: L pairs. */
    static final int BF16_CHUNK = 2 * L;

    private FewTokens() {
    }

    /**
     * bf16 weights against activations in even/odd order ({@link Activations#evenOdd} with
     * {@link #BF16_CHUNK}), token t at {@code t * cols}; y[t * yStride + yOff + r] for rows [r0, r1).
     */
    static void bf16(MemorySegment w, int cols, float[] xp, int T, float[] y, int yStride, int yOff, int r0, int r1) {
        float[] tmp = new float[L];
        int r = r0;
        // Four rows at a time, every token of the batch, so the rows stay in cache between token tiles.
        for (; r + 4 <= r1; r += 4) {
            int t = 0;
            for (; t + 4 <= T; t += 4) {
                int xi = t * cols, yo = t * yStride + yOff + r;
                bf16R2T4(w, cols, r, xp, xi, xi + cols, xi + 2 * cols, xi + 3 * cols, y, yStride, yo, tmp);
                bf16R2T4(w, cols, r + 2, xp, xi, xi + cols, xi + 2 * cols, xi + 3 * cols, y, yStride, yo + 2, tmp);
            }
            if (T - t >= 2) {
                int xi = t * cols;
                bf16R4T2(w, cols, r, xp, xi, xi + cols, y, yStride, t * yStride + yOff + r, tmp);
                t += 2;
            }
            if (T - t == 1) bf16R4T1(w, cols, r, xp, t * cols, y, yStride, t * yStride + yOff + r, tmp);
        }
        for (; r < r1; r++) {
            for (int t = 0; t < T; t++) bf16R1T1(w, cols, r, xp, t * cols, y, yStride, t * yStride + yOff + r, tmp);
        }
    }

    /** float32 weights against activations x, token t at {@code xOff + t * cols}; y as for {@link #bf16}. */
    static void f32(MemorySegment w, int cols, float[] x, int xOff, int T, float[] y, int yStride, int yOff, int r0, int r1) {
        float[] tmp = new float[L];
        int r = r0;
        // Four rows at a time, every token of the batch, so the rows stay in cache between token tiles.
        for (; r + 4 <= r1; r += 4) {
            int t = 0;
            for (; t + 4 <= T; t += 4) {
                int xi = xOff + t * cols, yo = t * yStride + yOff + r;
                f32R2T4(w, cols, r, x, xi, xi + cols, xi + 2 * cols, xi + 3 * cols, y, yStride, yo, tmp);
                f32R2T4(w, cols, r + 2, x, xi, xi + cols, xi + 2 * cols, xi + 3 * cols, y, yStride, yo + 2, tmp);
            }
            if (T - t >= 2) {
                int xi = xOff + t * cols;
                f32R4T2(w, cols, r, x, xi, xi + cols, y, yStride, t * yStride + yOff + r, tmp);
                t += 2;
            }
            if (T - t == 1) f32R4T1(w, cols, r, x, xOff + t * cols, y, yStride, t * yStride + yOff + r, tmp);
        }
        for (; r < r1; r++) {
            for (int t = 0; t < T; t++) f32R1T1(w, cols, r, x, xOff + t * cols, y, yStride, t * yStride + yOff + r, tmp);
        }
    }

    private static void bf16R2T4(MemorySegment w, int cols, int r, float[] xp, int x0, int x1, int x2, int x3, float[] y, int yStride, int yo,
            float[] tmp) {
        long rb = (long) cols * 2;
        long b0 = r * rb, b1 = b0 + rb;
        FloatVector z = FloatVector.zero(FS);
        FloatVector a00 = z, a01 = z, a02 = z, a03 = z, a10 = z, a11 = z, a12 = z, a13 = z;
        int c = 0;
        for (; c + BF16_CHUNK <= cols; c += BF16_CHUNK) {
            long cb = (long) c * 2;
            IntVector v0 = IntVector.fromMemorySegment(IS, w, b0 + cb, ByteOrder.LITTLE_ENDIAN);
            FloatVector we0 = v0.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector wo0 = v0.and(0xFFFF0000).reinterpretAsFloats();
            IntVector v1 = IntVector.fromMemorySegment(IS, w, b1 + cb, ByteOrder.LITTLE_ENDIAN);
            FloatVector we1 = v1.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector wo1 = v1.and(0xFFFF0000).reinterpretAsFloats();
            FloatVector e0 = FloatVector.fromArray(FS, xp, x0 + c), o0 = FloatVector.fromArray(FS, xp, x0 + c + L);
            a00 = wo0.fma(o0, we0.fma(e0, a00));
            a10 = wo1.fma(o0, we1.fma(e0, a10));
            FloatVector e1 = FloatVector.fromArray(FS, xp, x1 + c), o1 = FloatVector.fromArray(FS, xp, x1 + c + L);
            a01 = wo0.fma(o1, we0.fma(e1, a01));
            a11 = wo1.fma(o1, we1.fma(e1, a11));
            FloatVector e2 = FloatVector.fromArray(FS, xp, x2 + c), o2 = FloatVector.fromArray(FS, xp, x2 + c + L);
            a02 = wo0.fma(o2, we0.fma(e2, a02));
            a12 = wo1.fma(o2, we1.fma(e2, a12));
            FloatVector e3 = FloatVector.fromArray(FS, xp, x3 + c), o3 = FloatVector.fromArray(FS, xp, x3 + c + L);
            a03 = wo0.fma(o3, we0.fma(e3, a03));
            a13 = wo1.fma(o3, we1.fma(e3, a13));
        }
        a00.intoArray(tmp, 0);
        y[yo] = tailBf16(hsum(tmp), w, b0, xp, x0, c, cols);
        a10.intoArray(tmp, 0);
        y[yo + 1] = tailBf16(hsum(tmp), w, b1, xp, x0, c, cols);
        a01.intoArray(tmp, 0);
        y[yo + yStride] = tailBf16(hsum(tmp), w, b0, xp, x1, c, cols);
        a11.intoArray(tmp, 0);
        y[yo + yStride + 1] = tailBf16(hsum(tmp), w, b1, xp, x1, c, cols);
        a02.intoArray(tmp, 0);
        y[yo + 2 * yStride] = tailBf16(hsum(tmp), w, b0, xp, x2, c, cols);
        a12.intoArray(tmp, 0);
        y[yo + 2 * yStride + 1] = tailBf16(hsum(tmp), w, b1, xp, x2, c, cols);
        a03.intoArray(tmp, 0);
        y[yo + 3 * yStride] = tailBf16(hsum(tmp), w, b0, xp, x3, c, cols);
        a13.intoArray(tmp, 0);
        y[yo + 3 * yStride + 1] = tailBf16(hsum(tmp), w, b1, xp, x3, c, cols);
    }

    private static void bf16R4T2(MemorySegment w, int cols, int r, float[] xp, int x0, int x1, float[] y, int yStride, int yo,
            float[] tmp) {
        long rb = (long) cols * 2;
        long b0 = r * rb, b1 = b0 + rb, b2 = b1 + rb, b3 = b2 + rb;
        FloatVector z = FloatVector.zero(FS);
        FloatVector a00 = z, a01 = z, a10 = z, a11 = z, a20 = z, a21 = z, a30 = z, a31 = z;
        int c = 0;
        for (; c + BF16_CHUNK <= cols; c += BF16_CHUNK) {
            long cb = (long) c * 2;
            FloatVector e0 = FloatVector.fromArray(FS, xp, x0 + c), o0 = FloatVector.fromArray(FS, xp, x0 + c + L);
            FloatVector e1 = FloatVector.fromArray(FS, xp, x1 + c), o1 = FloatVector.fromArray(FS, xp, x1 + c + L);
            IntVector v0 = IntVector.fromMemorySegment(IS, w, b0 + cb, ByteOrder.LITTLE_ENDIAN);
            FloatVector we0 = v0.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector wo0 = v0.and(0xFFFF0000).reinterpretAsFloats();
            a00 = wo0.fma(o0, we0.fma(e0, a00));
            a01 = wo0.fma(o1, we0.fma(e1, a01));
            IntVector v1 = IntVector.fromMemorySegment(IS, w, b1 + cb, ByteOrder.LITTLE_ENDIAN);
            FloatVector we1 = v1.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector wo1 = v1.and(0xFFFF0000).reinterpretAsFloats();
            a10 = wo1.fma(o0, we1.fma(e0, a10));
            a11 = wo1.fma(o1, we1.fma(e1, a11));
            IntVector v2 = IntVector.fromMemorySegment(IS, w, b2 + cb, ByteOrder.LITTLE_ENDIAN);
            FloatVector we2 = v2.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector wo2 = v2.and(0xFFFF0000).reinterpretAsFloats();
            a20 = wo2.fma(o0, we2.fma(e0, a20));
            a21 = wo2.fma(o1, we2.fma(e1, a21));
            IntVector v3 = IntVector.fromMemorySegment(IS, w, b3 + cb, ByteOrder.LITTLE_ENDIAN);
            FloatVector we3 = v3.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector wo3 = v3.and(0xFFFF0000).reinterpretAsFloats();
            a30 = wo3.fma(o0, we3.fma(e0, a30));
            a31 = wo3.fma(o1, we3.fma(e1, a31));
        }
        a00.intoArray(tmp, 0);
        y[yo] = tailBf16(hsum(tmp), w, b0, xp, x0, c, cols);
        a10.intoArray(tmp, 0);
        y[yo + 1] = tailBf16(hsum(tmp), w, b1, xp, x0, c, cols);
        a20.intoArray(tmp, 0);
        y[yo + 2] = tailBf16(hsum(tmp), w, b2, xp, x0, c, cols);
        a30.intoArray(tmp, 0);
        y[yo + 3] = tailBf16(hsum(tmp), w, b3, xp, x0, c, cols);
        a01.intoArray(tmp, 0);
        y[yo + yStride] = tailBf16(hsum(tmp), w, b0, xp, x1, c, cols);
        a11.intoArray(tmp, 0);
        y[yo + yStride + 1] = tailBf16(hsum(tmp), w, b1, xp, x1, c, cols);
        a21.intoArray(tmp, 0);
        y[yo + yStride + 2] = tailBf16(hsum(tmp), w, b2, xp, x1, c, cols);
        a31.intoArray(tmp, 0);
        y[yo + yStride + 3] = tailBf16(hsum(tmp), w, b3, xp, x1, c, cols);
    }

    private static void bf16R4T1(MemorySegment w, int cols, int r, float[] xp, int x0, float[] y, int yStride, int yo,
            float[] tmp) {
        long rb = (long) cols * 2;
        long b0 = r * rb, b1 = b0 + rb, b2 = b1 + rb, b3 = b2 + rb;
        FloatVector z = FloatVector.zero(FS);
        FloatVector a00 = z, a10 = z, a20 = z, a30 = z;
        int c = 0;
        for (; c + BF16_CHUNK <= cols; c += BF16_CHUNK) {
            long cb = (long) c * 2;
            FloatVector e0 = FloatVector.fromArray(FS, xp, x0 + c), o0 = FloatVector.fromArray(FS, xp, x0 + c + L);
            IntVector v0 = IntVector.fromMemorySegment(IS, w, b0 + cb, ByteOrder.LITTLE_ENDIAN);
            FloatVector we0 = v0.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector wo0 = v0.and(0xFFFF0000).reinterpretAsFloats();
            a00 = wo0.fma(o0, we0.fma(e0, a00));
            IntVector v1 = IntVector.fromMemorySegment(IS, w, b1 + cb, ByteOrder.LITTLE_ENDIAN);
            FloatVector we1 = v1.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector wo1 = v1.and(0xFFFF0000).reinterpretAsFloats();
            a10 = wo1.fma(o0, we1.fma(e0, a10));
            IntVector v2 = IntVector.fromMemorySegment(IS, w, b2 + cb, ByteOrder.LITTLE_ENDIAN);
            FloatVector we2 = v2.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector wo2 = v2.and(0xFFFF0000).reinterpretAsFloats();
            a20 = wo2.fma(o0, we2.fma(e0, a20));
            IntVector v3 = IntVector.fromMemorySegment(IS, w, b3 + cb, ByteOrder.LITTLE_ENDIAN);
            FloatVector we3 = v3.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector wo3 = v3.and(0xFFFF0000).reinterpretAsFloats();
            a30 = wo3.fma(o0, we3.fma(e0, a30));
        }
        a00.intoArray(tmp, 0);
        y[yo] = tailBf16(hsum(tmp), w, b0, xp, x0, c, cols);
        a10.intoArray(tmp, 0);
        y[yo + 1] = tailBf16(hsum(tmp), w, b1, xp, x0, c, cols);
        a20.intoArray(tmp, 0);
        y[yo + 2] = tailBf16(hsum(tmp), w, b2, xp, x0, c, cols);
        a30.intoArray(tmp, 0);
        y[yo + 3] = tailBf16(hsum(tmp), w, b3, xp, x0, c, cols);
    }

    private static void bf16R1T1(MemorySegment w, int cols, int r, float[] xp, int x0, float[] y, int yStride, int yo,
            float[] tmp) {
        long rb = (long) cols * 2;
        long b0 = r * rb;
        FloatVector z = FloatVector.zero(FS);
        FloatVector a00 = z;
        int c = 0;
        for (; c + BF16_CHUNK <= cols; c += BF16_CHUNK) {
            long cb = (long) c * 2;
            IntVector v0 = IntVector.fromMemorySegment(IS, w, b0 + cb, ByteOrder.LITTLE_ENDIAN);
            FloatVector we0 = v0.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector wo0 = v0.and(0xFFFF0000).reinterpretAsFloats();
            FloatVector e0 = FloatVector.fromArray(FS, xp, x0 + c), o0 = FloatVector.fromArray(FS, xp, x0 + c + L);
            a00 = wo0.fma(o0, we0.fma(e0, a00));
        }
        a00.intoArray(tmp, 0);
        y[yo] = tailBf16(hsum(tmp), w, b0, xp, x0, c, cols);
    }

    private static void f32R2T4(MemorySegment w, int cols, int r, float[] x, int x0, int x1, int x2, int x3, float[] y, int yStride, int yo,
            float[] tmp) {
        long rb = (long) cols * 4;
        long b0 = r * rb, b1 = b0 + rb;
        FloatVector z = FloatVector.zero(FS);
        FloatVector a00 = z, a01 = z, a02 = z, a03 = z, a10 = z, a11 = z, a12 = z, a13 = z;
        int c = 0;
        for (; c + L <= cols; c += L) {
            long cb = (long) c * 4;
            FloatVector q0 = FloatVector.fromMemorySegment(FS, w, b0 + cb, ByteOrder.LITTLE_ENDIAN);
            FloatVector q1 = FloatVector.fromMemorySegment(FS, w, b1 + cb, ByteOrder.LITTLE_ENDIAN);
            FloatVector v0 = FloatVector.fromArray(FS, x, x0 + c);
            a00 = q0.fma(v0, a00);
            a10 = q1.fma(v0, a10);
            FloatVector v1 = FloatVector.fromArray(FS, x, x1 + c);
            a01 = q0.fma(v1, a01);
            a11 = q1.fma(v1, a11);
            FloatVector v2 = FloatVector.fromArray(FS, x, x2 + c);
            a02 = q0.fma(v2, a02);
            a12 = q1.fma(v2, a12);
            FloatVector v3 = FloatVector.fromArray(FS, x, x3 + c);
            a03 = q0.fma(v3, a03);
            a13 = q1.fma(v3, a13);
        }
        a00.intoArray(tmp, 0);
        y[yo] = tailF32(hsum(tmp), w, b0, x, x0, c, cols);
        a10.intoArray(tmp, 0);
        y[yo + 1] = tailF32(hsum(tmp), w, b1, x, x0, c, cols);
        a01.intoArray(tmp, 0);
        y[yo + yStride] = tailF32(hsum(tmp), w, b0, x, x1, c, cols);
        a11.intoArray(tmp, 0);
        y[yo + yStride + 1] = tailF32(hsum(tmp), w, b1, x, x1, c, cols);
        a02.intoArray(tmp, 0);
        y[yo + 2 * yStride] = tailF32(hsum(tmp), w, b0, x, x2, c, cols);
        a12.intoArray(tmp, 0);
        y[yo + 2 * yStride + 1] = tailF32(hsum(tmp), w, b1, x, x2, c, cols);
        a03.intoArray(tmp, 0);
        y[yo + 3 * yStride] = tailF32(hsum(tmp), w, b0, x, x3, c, cols);
        a13.intoArray(tmp, 0);
        y[yo + 3 * yStride + 1] = tailF32(hsum(tmp), w, b1, x, x3, c, cols);
    }

    private static void f32R4T2(MemorySegment w, int cols, int r, float[] x, int x0, int x1, float[] y, int yStride, int yo,
            float[] tmp) {
        long rb = (long) cols * 4;
        long b0 = r * rb, b1 = b0 + rb, b2 = b1 + rb, b3 = b2 + rb;
        FloatVector z = FloatVector.zero(FS);
        FloatVector a00 = z, a01 = z, a10 = z, a11 = z, a20 = z, a21 = z, a30 = z, a31 = z;
        int c = 0;
        for (; c + L <= cols; c += L) {
            long cb = (long) c * 4;
            FloatVector v0 = FloatVector.fromArray(FS, x, x0 + c);
            FloatVector v1 = FloatVector.fromArray(FS, x, x1 + c);
            FloatVector q0 = FloatVector.fromMemorySegment(FS, w, b0 + cb, ByteOrder.LITTLE_ENDIAN);
            a00 = q0.fma(v0, a00);
            a01 = q0.fma(v1, a01);
            FloatVector q1 = FloatVector.fromMemorySegment(FS, w, b1 + cb, ByteOrder.LITTLE_ENDIAN);
            a10 = q1.fma(v0, a10);
            a11 = q1.fma(v1, a11);
            FloatVector q2 = FloatVector.fromMemorySegment(FS, w, b2 + cb, ByteOrder.LITTLE_ENDIAN);
            a20 = q2.fma(v0, a20);
            a21 = q2.fma(v1, a21);
            FloatVector q3 = FloatVector.fromMemorySegment(FS, w, b3 + cb, ByteOrder.LITTLE_ENDIAN);
            a30 = q3.fma(v0, a30);
            a31 = q3.fma(v1, a31);
        }
        a00.intoArray(tmp, 0);
        y[yo] = tailF32(hsum(tmp), w, b0, x, x0, c, cols);
        a10.intoArray(tmp, 0);
        y[yo + 1] = tailF32(hsum(tmp), w, b1, x, x0, c, cols);
        a20.intoArray(tmp, 0);
        y[yo + 2] = tailF32(hsum(tmp), w, b2, x, x0, c, cols);
        a30.intoArray(tmp, 0);
        y[yo + 3] = tailF32(hsum(tmp), w, b3, x, x0, c, cols);
        a01.intoArray(tmp, 0);
        y[yo + yStride] = tailF32(hsum(tmp), w, b0, x, x1, c, cols);
        a11.intoArray(tmp, 0);
        y[yo + yStride + 1] = tailF32(hsum(tmp), w, b1, x, x1, c, cols);
        a21.intoArray(tmp, 0);
        y[yo + yStride + 2] = tailF32(hsum(tmp), w, b2, x, x1, c, cols);
        a31.intoArray(tmp, 0);
        y[yo + yStride + 3] = tailF32(hsum(tmp), w, b3, x, x1, c, cols);
    }

    private static void f32R4T1(MemorySegment w, int cols, int r, float[] x, int x0, float[] y, int yStride, int yo,
            float[] tmp) {
        long rb = (long) cols * 4;
        long b0 = r * rb, b1 = b0 + rb, b2 = b1 + rb, b3 = b2 + rb;
        FloatVector z = FloatVector.zero(FS);
        FloatVector a00 = z, a10 = z, a20 = z, a30 = z;
        int c = 0;
        for (; c + L <= cols; c += L) {
            long cb = (long) c * 4;
            FloatVector v0 = FloatVector.fromArray(FS, x, x0 + c);
            FloatVector q0 = FloatVector.fromMemorySegment(FS, w, b0 + cb, ByteOrder.LITTLE_ENDIAN);
            a00 = q0.fma(v0, a00);
            FloatVector q1 = FloatVector.fromMemorySegment(FS, w, b1 + cb, ByteOrder.LITTLE_ENDIAN);
            a10 = q1.fma(v0, a10);
            FloatVector q2 = FloatVector.fromMemorySegment(FS, w, b2 + cb, ByteOrder.LITTLE_ENDIAN);
            a20 = q2.fma(v0, a20);
            FloatVector q3 = FloatVector.fromMemorySegment(FS, w, b3 + cb, ByteOrder.LITTLE_ENDIAN);
            a30 = q3.fma(v0, a30);
        }
        a00.intoArray(tmp, 0);
        y[yo] = tailF32(hsum(tmp), w, b0, x, x0, c, cols);
        a10.intoArray(tmp, 0);
        y[yo + 1] = tailF32(hsum(tmp), w, b1, x, x0, c, cols);
        a20.intoArray(tmp, 0);
        y[yo + 2] = tailF32(hsum(tmp), w, b2, x, x0, c, cols);
        a30.intoArray(tmp, 0);
        y[yo + 3] = tailF32(hsum(tmp), w, b3, x, x0, c, cols);
    }

    private static void f32R1T1(MemorySegment w, int cols, int r, float[] x, int x0, float[] y, int yStride, int yo,
            float[] tmp) {
        long rb = (long) cols * 4;
        long b0 = r * rb;
        FloatVector z = FloatVector.zero(FS);
        FloatVector a00 = z;
        int c = 0;
        for (; c + L <= cols; c += L) {
            long cb = (long) c * 4;
            FloatVector q0 = FloatVector.fromMemorySegment(FS, w, b0 + cb, ByteOrder.LITTLE_ENDIAN);
            FloatVector v0 = FloatVector.fromArray(FS, x, x0 + c);
            a00 = q0.fma(v0, a00);
        }
        a00.intoArray(tmp, 0);
        y[yo] = tailF32(hsum(tmp), w, b0, x, x0, c, cols);
    }

    /** The lanes of a stored accumulator summed one after another: one order in every JIT tier. */
    private static float hsum(float[] tmp) {
        float s = tmp[0];
        for (int i = 1; i < L; i++) s += tmp[i];
        return s;
    }

    /** Adds the columns past the last whole chunk, one at a time. */
    private static float tailBf16(float s, MemorySegment w, long rowByte, float[] xp, int xo, int c, int cols) {
        for (; c < cols; c++) s += Float.intBitsToFloat((w.get(Layouts.I16, rowByte + (long) c * 2) & 0xFFFF) << 16) * xp[xo + c];
        return s;
    }

    private static float tailF32(float s, MemorySegment w, long rowByte, float[] x, int xo, int c, int cols) {
        for (; c < cols; c++) s += w.get(Layouts.F32, rowByte + (long) c * 4) * x[xo + c];
        return s;
    }
}
