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
 * IEEE half weights. Half-to-float in integer lanes: move exponent and mantissa up 13 bits and rescale by
 * 2^112, which is exact for normal and subnormal halves alike (infinities and NaNs do not occur in weights).
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

    private static FloatVector magnitude(IntVector h) {
        return h.and(0x7FFF).lanewise(VectorOperators.LSHL, 13).reinterpretAsFloats().mul(MAGIC);
    }

    private static FloatVector withSign(FloatVector f, IntVector h) {
        return f.reinterpretAsInts().or(h.lanewise(VectorOperators.LSHL, 16).and(0x80000000)).reinterpretAsFloats();
    }

    private FloatVector load(long byteOffset) {
        IntVector h = halfBits(byteOffset);
        return withSign(magnitude(h), h);
    }

    @Override
    public void prepare(Activations x) {
        if (x.tokens() > 1) x.tokenMajor(Gemm.TILE);
    }

    @Override
    public void matmul(Activations x, float[] y, int yStride, int yOff, int r0, int r1) {
        if (x.tokens() > 1) {
            Gemm.matmul(source, cols, x.tokenMajor(Gemm.TILE), x.tokens(), y, yStride, yOff, r0, r1);
            return;
        }
        float[] xs = x.data();
        int base = x.offset();
        int r = r0;
        float[] lanes = new float[4 * L];
        for (; r + 2 <= r1; r += 2) dot2(r, xs, base, y, yOff + r, lanes);
        for (; r < r1; r++) y[yOff + r] = dot1(r, xs, base, lanes);
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
        float s0 = VectorMath.sumLanes(lanes, 0, L), s1 = VectorMath.sumLanes(lanes, L, L);
        for (; c < cols; c++) {
            long cb = (long) c * 2;
            s0 += half(b0 + cb) * xs[xo + c];
            s1 += half(b1 + cb) * xs[xo + c];
        }
        y[yo] = s0;
        y[yo + 1] = s1;
    }

    private float dot1(int r, float[] xs, int xo, float[] lanes) {
        long b0 = (long) r * cols * 2;
        FloatVector a0 = FloatVector.zero(FS);
        int c = 0;
        for (; c + L <= cols; c += L) a0 = load(b0 + (long) c * 2).fma(FloatVector.fromArray(FS, xs, xo + c), a0);
        a0.intoArray(lanes, 0);
        float s = VectorMath.sumLanes(lanes, 0, L);
        for (; c < cols; c++) s += half(b0 + (long) c * 2) * xs[xo + c];
        return s;
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
