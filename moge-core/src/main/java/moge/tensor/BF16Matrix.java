package moge.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import moge.format.DType;
import moge.format.Layouts;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * bfloat16 weights. A bf16 pair read as one int gives two floats without widening lane by lane:
 * {@code v << 16} is the even element and {@code v & 0xFFFF0000} the odd one, so the activations are
 * reordered even/odd once per input instead (shared/KERNELS.md, point 6).
 */
final class BF16Matrix extends Matrix {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> IS = IntVector.SPECIES_PREFERRED;
    private static final int L = FS.length();
    private static final int CHUNK = 2 * L;
    /** Token counts for {@link Bf16TokenLanes}: [LANES_FROM, LANES_UNTIL) (see {@link #tokenMajor}). */
    static final int LANES_FROM = Gemm.WIDE ? 9 : 14, LANES_UNTIL = 48;

    private static final VectorSpecies<Short> SS = VectorSpecies.of(short.class, VectorShape.forBitSize(FS.vectorBitSize() / 2));
    private final Gemm.Source source = this::decode;

    BF16Matrix(String name, int rows, int cols, MemorySegment data) {
        super(name, rows, cols, data);
    }

    @Override
    public DType type() {
        return DType.BF16;
    }

    @Override
    public void prepare(Activations x) {
        if (tokenMajor(x.tokens())) x.tokenMajor(Gemm.TILE);
        else x.groupedBf16();
    }

    @Override
    public void matmul(Activations x, float[] y, int yStride, int yOff, int r0, int r1) {
        int T = x.tokens();
        if (T > 1 && !tokenMajor(T)) {
            FewTokens.bf16(data, cols, x.groupedBf16(), T, y, yStride, yOff, r0, r1);
            return;
        }
        if (T > 1) {
            if (T < LANES_UNTIL) Bf16TokenLanes.matmul(data, cols, x.tokenMajor(Gemm.TILE), T, y, yStride, yOff, r0, r1);
            else Gemm.matmul(source, cols, x.tokenMajor(Gemm.TILE), T, y, yStride, yOff, r0, r1);
            return;
        }
        float[] xp = x.groupedBf16();
        int r = r0;
        float[] lanes = new float[4 * L];
        // four rows at a time share each activation load, but each row is a stream of its own: from memory, rows longer
        // than a quarter of a 4 KiB page go one after the other, so that the matrix is read as one stream (four rows
        // at a time decoded a 948 MiB BF16 checkpoint at 22.7-24.1 tokens/s, one after the other at 30.3-32.7)
        if ((long) cols * 2 <= ONE_STREAM_ROW_BYTES) for (; r + 4 <= r1; r += 4) dot4(r, xp, 0, y, yOff + r, lanes);
        for (; r < r1; r++) y[yOff + r] = dot1(r, xp, 0, lanes);
    }

    /**
     * Up to 13 tokens (8 at 512 bits; verification, small decode batches) run in the register tiles of
     * {@link FewTokens}; from 14 (9) to 47 the token-lane product, which reads the weights in place; from 48 on the panel GEMM. Eight BF16
     * matrices on AVX2, 2 threads, alternating builds: 6144x1536 at 16 tokens 22.1-24.4 ms in the tiles against
     * 19.3-19.5 in lanes, 1536x6144 20.4-21.2 vs 18.0-18.3, 1536x1536 5.5-5.6 vs 4.6-4.8; at 32 tokens 42.3-44.9 ms
     * in the GEMM vs 36.4-38.6; 14 tokens about even, 12 tokens 15-18 ms in the tiles vs 18-20; from 48 tokens
     * the GEMM, whose panels serve 64 tokens, is as fast or faster. At 512 bits the token lanes take from 9 tokens
     * on: up to 16 they cost the same whatever the count (one vector per row), and eight 2048x2048 matrices ran
     * 5.8 ms there against 6.0 in the tiles at 8 tokens and 6.4 at 9 (6144x1536: 13.7-13.9 against 14.1, 15.5).
     */
    private static boolean tokenMajor(int T) {
        return T >= LANES_FROM;
    }

    private void dot4(int r, float[] xp, int xo, float[] y, int yo, float[] lanes) {
        long rb = (long) cols * 2;
        long b0 = r * rb, b1 = b0 + rb, b2 = b1 + rb, b3 = b2 + rb;
        FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, a3 = a0;
        int c = 0;
        for (; c + CHUNK <= cols; c += CHUNK) {
            FloatVector xe = FloatVector.fromArray(FS, xp, xo + c);
            FloatVector xd = FloatVector.fromArray(FS, xp, xo + c + L);
            long cb = (long) c * 2;
            IntVector w0 = IntVector.fromMemorySegment(IS, data, b0 + cb, ByteOrder.LITTLE_ENDIAN);
            IntVector w1 = IntVector.fromMemorySegment(IS, data, b1 + cb, ByteOrder.LITTLE_ENDIAN);
            IntVector w2 = IntVector.fromMemorySegment(IS, data, b2 + cb, ByteOrder.LITTLE_ENDIAN);
            IntVector w3 = IntVector.fromMemorySegment(IS, data, b3 + cb, ByteOrder.LITTLE_ENDIAN);
            a0 = even(w0).fma(xe, a0);
            a1 = even(w1).fma(xe, a1);
            a2 = even(w2).fma(xe, a2);
            a3 = even(w3).fma(xe, a3);
            a0 = odd(w0).fma(xd, a0);
            a1 = odd(w1).fma(xd, a1);
            a2 = odd(w2).fma(xd, a2);
            a3 = odd(w3).fma(xd, a3);
        }
        a0.intoArray(lanes, 0);
        a1.intoArray(lanes, L);
        a2.intoArray(lanes, 2 * L);
        a3.intoArray(lanes, 3 * L);
        float s0 = VectorMath.sumLanes(lanes, 0, L), s1 = VectorMath.sumLanes(lanes, L, L);
        float s2 = VectorMath.sumLanes(lanes, 2 * L, L), s3 = VectorMath.sumLanes(lanes, 3 * L, L);
        for (; c < cols; c++) {
            float xv = xp[xo + c];
            long cb = (long) c * 2;
            s0 += bf16(b0 + cb) * xv;
            s1 += bf16(b1 + cb) * xv;
            s2 += bf16(b2 + cb) * xv;
            s3 += bf16(b3 + cb) * xv;
        }
        y[yo] = s0;
        y[yo + 1] = s1;
        y[yo + 2] = s2;
        y[yo + 3] = s3;
    }

    private float dot1(int r, float[] xp, int xo, float[] lanes) {
        long b0 = (long) r * cols * 2;
        FloatVector a0 = FloatVector.zero(FS);
        int c = 0;
        for (; c + CHUNK <= cols; c += CHUNK) {
            IntVector w0 = IntVector.fromMemorySegment(IS, data, b0 + (long) c * 2, ByteOrder.LITTLE_ENDIAN);
            a0 = even(w0).fma(FloatVector.fromArray(FS, xp, xo + c), a0);
            a0 = odd(w0).fma(FloatVector.fromArray(FS, xp, xo + c + L), a0);
        }
        a0.intoArray(lanes, 0);
        float s = VectorMath.sumLanes(lanes, 0, L);
        for (; c < cols; c++) s += bf16(b0 + (long) c * 2) * xp[xo + c];
        return s;
    }

    private static FloatVector even(IntVector w) {
        return w.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    private static FloatVector odd(IntVector w) {
        return w.and(0xFFFF0000).reinterpretAsFloats();
    }

    private float bf16(long byteOffset) {
        return bf16(data, byteOffset);
    }

    /** The bf16 value at byteOffset of w, as a float. */
    static float bf16(MemorySegment w, long byteOffset) {
        return Float.intBitsToFloat((w.get(Layouts.I16, byteOffset) & 0xFFFF) << 16);
    }

    private void decode(int r, int n, int k0, int k1, float[] dst, int stride) {
        for (int i = 0; i < n; i++) {
            long b = ((long) (r + i) * cols) * 2;
            int o = i * stride - k0, c = k0;
            for (; c + L <= k1; c += L) {
                IntVector v = (IntVector) ShortVector.fromMemorySegment(SS, data, b + 2L * c, ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.S2I, IS, 0);
                v.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, o + c);
            }
            for (; c < k1; c++) dst[o + c] = bf16(b + 2L * c);
        }
    }

    @Override
    public void row(int r, float[] out, int off) {
        long b0 = (long) r * cols * 2;
        for (int c = 0; c < cols; c++) out[off + c] = bf16(b0 + (long) c * 2);
    }
}
