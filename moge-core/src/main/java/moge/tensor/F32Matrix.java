package moge.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import moge.format.DType;
import moge.format.Layouts;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/** float32 weights: four rows per pass share each activation load. */
final class F32Matrix extends Matrix {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final int L = FS.length();

    private final Gemm.Source source = this::decode;

    F32Matrix(String name, int rows, int cols, MemorySegment data) {
        super(name, rows, cols, data);
    }

    @Override
    public DType type() {
        return DType.F32;
    }

    @Override
    public void prepare(Activations x) {
        if (gemm(x.tokens())) x.tokenMajor(Gemm.TILE);
        else if (x.tokens() > 1) x.groupedF32();
    }

    @Override
    public void matmul(Activations x, float[] y, int yStride, int yOff, int r0, int r1) {
        int T = x.tokens();
        if (T > 1 && !gemm(T)) {
            FewTokens.f32(data, cols, x.groupedF32(), T, y, yStride, yOff, r0, r1);
            return;
        }
        if (T > 1) {
            Gemm.matmul(source, cols, x.tokenMajor(Gemm.TILE), x.tokens(), y, yStride, yOff, r0, r1);
            return;
        }
        float[] xs = x.data();
        int base = x.offset();
        int r = r0;
        float[] lanes = new float[4 * L];
        // short rows: four at a time, sharing each activation load (they lie in one stream); long rows one after the
        // other, so that the matrix is read as one stream (ONE_STREAM_ROW_BYTES)
        if ((long) cols * 4 <= ONE_STREAM_ROW_BYTES) for (; r + 4 <= r1; r += 4) dot4(r, xs, base, y, yOff + r, lanes);
        for (; r < r1; r++) y[yOff + r] = dot1(r, xs, base, lanes);
    }

    /** Few tokens run in register tiles; from 16 on, the GEMM unless padding to whole tiles costs 40% more. */
    private static boolean gemm(int T) {
        return Gemm.wins(T, 16, 1.4);
    }

    private void dot4(int r, float[] xs, int xo, float[] y, int yo, float[] lanes) {
        long rb = (long) cols * 4;
        long b0 = r * rb, b1 = b0 + rb, b2 = b1 + rb, b3 = b2 + rb;
        FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, a3 = a0;
        int c = 0;
        for (; c + L <= cols; c += L) {
            FloatVector xv = FloatVector.fromArray(FS, xs, xo + c);
            long cb = (long) c * 4;
            a0 = FloatVector.fromMemorySegment(FS, data, b0 + cb, ByteOrder.LITTLE_ENDIAN).fma(xv, a0);
            a1 = FloatVector.fromMemorySegment(FS, data, b1 + cb, ByteOrder.LITTLE_ENDIAN).fma(xv, a1);
            a2 = FloatVector.fromMemorySegment(FS, data, b2 + cb, ByteOrder.LITTLE_ENDIAN).fma(xv, a2);
            a3 = FloatVector.fromMemorySegment(FS, data, b3 + cb, ByteOrder.LITTLE_ENDIAN).fma(xv, a3);
        }
        a0.intoArray(lanes, 0);
        a1.intoArray(lanes, L);
        a2.intoArray(lanes, 2 * L);
        a3.intoArray(lanes, 3 * L);
        float s0 = VectorMath.sumLanes(lanes, 0, L), s1 = VectorMath.sumLanes(lanes, L, L);
        float s2 = VectorMath.sumLanes(lanes, 2 * L, L), s3 = VectorMath.sumLanes(lanes, 3 * L, L);
        for (; c < cols; c++) {
            float xv = xs[xo + c];
            long cb = (long) c * 4;
            s0 += data.get(Layouts.F32, b0 + cb) * xv;
            s1 += data.get(Layouts.F32, b1 + cb) * xv;
            s2 += data.get(Layouts.F32, b2 + cb) * xv;
            s3 += data.get(Layouts.F32, b3 + cb) * xv;
        }
        y[yo] = s0;
        y[yo + 1] = s1;
        y[yo + 2] = s2;
        y[yo + 3] = s3;
    }

    private float dot1(int r, float[] xs, int xo, float[] lanes) {
        long b0 = (long) r * cols * 4;
        FloatVector a0 = FloatVector.zero(FS);
        int c = 0;
        for (; c + L <= cols; c += L) {
            a0 = FloatVector.fromMemorySegment(FS, data, b0 + (long) c * 4, ByteOrder.LITTLE_ENDIAN)
                    .fma(FloatVector.fromArray(FS, xs, xo + c), a0);
        }
        a0.intoArray(lanes, 0);
        float s = VectorMath.sumLanes(lanes, 0, L);
        for (; c < cols; c++) s += data.get(Layouts.F32, b0 + (long) c * 4) * xs[xo + c];
        return s;
    }

    private void decode(int r, int n, int k0, int k1, float[] dst, int stride) {
        for (int i = 0; i < n; i++) {
            MemorySegment.copy(data, Layouts.F32, ((long) (r + i) * cols + k0) * 4, dst, i * stride, k1 - k0);
        }
    }

    @Override
    public void row(int r, float[] out, int off) {
        long b0 = (long) r * cols * 4;
        for (int c = 0; c < cols; c++) out[off + c] = data.get(Layouts.F32, b0 + (long) c * 4);
    }
}
