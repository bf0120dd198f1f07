package moge.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;
import moge.format.DType;
import moge.format.Layouts;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * IEEE half weights. Half-to-float in integer lanes ({@link #toFloat}): move exponent and mantissa up 13 bits and
 * rescale by 2^112, which is exact for normal and subnormal halves alike (infinities and NaNs do not occur in weights).
 */
final class F16Matrix extends Matrix {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Short> SS = VectorSpecies.of(short.class,
            VectorShape.forBitSize(FloatVector.SPECIES_PREFERRED.vectorBitSize() / 2));
    private static final VectorSpecies<Integer> IS = IntVector.SPECIES_PREFERRED;
    private static final int L = FS.length();
    private static final float MAGIC = Float.intBitsToFloat(0x77800000); // 2^112

    private final Gemm.Source source = this::decode;

    F16Matrix(String name, int rows, int cols, MemorySegment data) {
        super(name, rows, cols, data);
    }

    @Override
    public DType type() {
        return DType.F16;
    }

    // Helpers that take or return vectors stay under 35 bytes of bytecode, which C2 always inlines; one it
    // declines to inline would turn the vectors into objects.
    private IntVector halfBits(long byteOffset) {
        return (IntVector) ShortVector.fromMemorySegment(SS, data, byteOffset, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.S2I, IS, 0);
    }

    /**
     * Halves, sign-extended to ints, as floats. Shifted up 13 bits, exponent and mantissa land where a float's
     * go and the sign (extended) reaches bit 31; the mask clears the extension's bits 28-30, and the product
     * with 2^112 rebases the exponent, exactly, signed zeros and subnormals included: four operations a vector
     * (it was seven, with the sign put back separately).
     */
    static FloatVector toFloat(IntVector h) {
        return h.lanewise(VectorOperators.LSHL, 13).and(0x8FFFE000).reinterpretAsFloats().mul(MAGIC);
    }

    private FloatVector load(long byteOffset) {
        return toFloat(halfBits(byteOffset));
    }

    /**
     * Up to this many tokens, passes that convert each weight once for up to four tokens, each sum in the
     * single-token kernel's order (so a token's result does not depend on its batch); more go to the GEMM, whose
     * cost is converting every weight whatever the token count: 2 to 16 tokens took 3.2-3.3x one token there.
     */
    static final int FEW_TOKENS = 8;

    @Override
    public void prepare(Activations x) {
        if (x.tokens() > FEW_TOKENS) x.tokenMajor(Gemm.TILE);
    }

    @Override
    public void matmul(Activations x, float[] y, int yStride, int yOff, int r0, int r1) {
        int T = x.tokens();
        if (T > FEW_TOKENS) {
            Gemm.matmul(source, cols, x.tokenMajor(Gemm.TILE), T, y, yStride, yOff, r0, r1);
            return;
        }
        float[] xs = x.data();
        int base = x.offset();
        float[] lanes = new float[4 * L];
        if (T > 1) {
            for (int t = 0; t < T; t += 4) {
                int n = Math.min(4, T - t), xo = base + t * cols, yo = yOff + t * yStride;
                for (int r = r0; r < r1; r++) {
                    if (n >= 3) dot1x4(r, n, xs, xo, y, yo + r, yStride, lanes);
                    else if (n == 2) dot1x2(r, xs, xo, y, yo + r, yStride, lanes);
                    else y[yo + r] = dot1(r, xs, xo, lanes);
                }
            }
            return;
        }
        // two rows at a time only when they lie in one stream (ONE_STREAM_ROW_BYTES): two long rows at a time decoded a
        // 948 MiB F16 file at 9.7-11.0 tokens/s against 20.4-24.1 one row after the other
        int r = r0;
        if ((long) cols * 2 <= ONE_STREAM_ROW_BYTES) for (; r + 2 <= r1; r += 2) dot2(r, xs, base, y, yOff + r, lanes);
        for (; r < r1; r++) y[yOff + r] = dot1(r, xs, base, lanes);
    }

    /**
     * Row r against tokens at xo, xo + cols, ... (n of them, 3 or 4; with 3 the last is computed twice and stored
     * once) into y[yo + j * yStride]: each weight converted once for all of them, each sum in dot1's order.
     */
    private void dot1x4(int r, int n, float[] xs, int xo, float[] y, int yo, int yStride, float[] lanes) {
        long b0 = (long) r * cols * 2;
        int x1 = xo + cols, x2 = x1 + cols, x3 = n > 3 ? x2 + cols : x2;
        FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, a3 = a0;
        int c = 0;
        for (; c + L <= cols; c += L) {
            FloatVector w = load(b0 + (long) c * 2);
            a0 = w.fma(FloatVector.fromArray(FS, xs, xo + c), a0);
            a1 = w.fma(FloatVector.fromArray(FS, xs, x1 + c), a1);
            a2 = w.fma(FloatVector.fromArray(FS, xs, x2 + c), a2);
            a3 = w.fma(FloatVector.fromArray(FS, xs, x3 + c), a3);
        }
        a0.intoArray(lanes, 0);
        a1.intoArray(lanes, L);
        a2.intoArray(lanes, 2 * L);
        a3.intoArray(lanes, 3 * L);
        y[yo] = tail(b0, c, xs, xo, VectorMath.sumLanes(lanes, 0, L));
        y[yo + yStride] = tail(b0, c, xs, x1, VectorMath.sumLanes(lanes, L, L));
        y[yo + 2 * yStride] = tail(b0, c, xs, x2, VectorMath.sumLanes(lanes, 2 * L, L));
        if (n > 3) y[yo + 3 * yStride] = tail(b0, c, xs, x3, VectorMath.sumLanes(lanes, 3 * L, L));
    }

    /** As {@link #dot1x4} for two tokens. */
    private void dot1x2(int r, float[] xs, int xo, float[] y, int yo, int yStride, float[] lanes) {
        long b0 = (long) r * cols * 2;
        int x1 = xo + cols;
        FloatVector a0 = FloatVector.zero(FS), a1 = a0;
        int c = 0;
        for (; c + L <= cols; c += L) {
            FloatVector w = load(b0 + (long) c * 2);
            a0 = w.fma(FloatVector.fromArray(FS, xs, xo + c), a0);
            a1 = w.fma(FloatVector.fromArray(FS, xs, x1 + c), a1);
        }
        a0.intoArray(lanes, 0);
        a1.intoArray(lanes, L);
        y[yo] = tail(b0, c, xs, xo, VectorMath.sumLanes(lanes, 0, L));
        y[yo + yStride] = tail(b0, c, xs, x1, VectorMath.sumLanes(lanes, L, L));
    }

    /** s plus the columns from c on that no whole vector covers, in dot1's order. */
    private float tail(long b0, int c, float[] xs, int xo, float s) {
        for (; c < cols; c++) s += half(b0 + (long) c * 2) * xs[xo + c];
        return s;
    }

    private void dot2(int r, float[] xs, int xo, float[] y, int yo, float[] lanes) {
        long rb = (long) cols * 2;
        long b0 = r * rb, b1 = b0 + rb;
        FloatVector a0 = FloatVector.zero(FS), a1 = a0;
        int c = 0;
        for (; c + L <= cols; c += L) {
            FloatVector xv = FloatVector.fromArray(FS, xs, xo + c);
            long cb = (long) c * 2;
            a0 = load(b0 + cb).fma(xv, a0);
            a1 = load(b1 + cb).fma(xv, a1);
        }
        a0.intoArray(lanes, 0);
        a1.intoArray(lanes, L);
        y[yo] = tail(b0, c, xs, xo, VectorMath.sumLanes(lanes, 0, L));
        y[yo + 1] = tail(b1, c, xs, xo, VectorMath.sumLanes(lanes, L, L));
    }

    private float dot1(int r, float[] xs, int xo, float[] lanes) {
        long b0 = (long) r * cols * 2;
        FloatVector a0 = FloatVector.zero(FS);
        int c = 0;
        for (; c + L <= cols; c += L) a0 = load(b0 + (long) c * 2).fma(FloatVector.fromArray(FS, xs, xo + c), a0);
        a0.intoArray(lanes, 0);
        return tail(b0, c, xs, xo, VectorMath.sumLanes(lanes, 0, L));
    }

    private float half(long byteOffset) {
        return Float.float16ToFloat(data.get(Layouts.I16, byteOffset));
    }

    private void decode(int r, int n, int k0, int k1, float[] dst, int stride) {
        for (int i = 0; i < n; i++) {
            long b = ((long) (r + i) * cols) * 2;
            int o = i * stride - k0, c = k0;
            for (; c + L <= k1; c += L) load(b + 2L * c).intoArray(dst, o + c);
            for (; c < k1; c++) dst[o + c] = half(b + 2L * c);
        }
    }

    @Override
    public void row(int r, float[] out, int off) {
        long b0 = (long) r * cols * 2;
        for (int c = 0; c < cols; c++) out[off + c] = half(b0 + (long) c * 2);
    }
}
