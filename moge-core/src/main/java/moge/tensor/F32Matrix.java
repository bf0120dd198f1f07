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
    private static final int TOKEN_TILE = 16;

    F32Matrix(String name, int rows, int cols, MemorySegment data) {
        super(name, rows, cols, data);
    }

    @Override
    public DType type() {
        return DType.F32;
    }

    @Override
    public void matmul(Activations x, float[] y, int yStride, int yOff, int r0, int r1) {
        float[] xs = x.data();
        int T = x.tokens(), base = x.offset();
        if (T > 1 && T <= FewTokens.MAX) {
            FewTokens.f32(data, cols, xs, base, T, y, yStride, yOff, r0, r1);
            return;
        }
        for (int t0 = 0; t0 < T; t0 += TOKEN_TILE) {
            int t1 = Math.min(T, t0 + TOKEN_TILE);
            int r = r0;
            for (; r + 4 <= r1; r += 4) {
                for (int t = t0; t < t1; t++) dot4(r, xs, base + t * cols, y, t * yStride + yOff + r);
            }
            for (; r < r1; r++) {
                for (int t = t0; t < t1; t++) y[t * yStride + yOff + r] = dot1(r, xs, base + t * cols);
            }
        }
    }

    private void dot4(int r, float[] xs, int xo, float[] y, int yo) {
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
        float s0 = a0.reduceLanes(VectorOperators.ADD), s1 = a1.reduceLanes(VectorOperators.ADD);
        float s2 = a2.reduceLanes(VectorOperators.ADD), s3 = a3.reduceLanes(VectorOperators.ADD);
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

    private float dot1(int r, float[] xs, int xo) {
        long b0 = (long) r * cols * 4;
        FloatVector a0 = FloatVector.zero(FS);
        int c = 0;
        for (; c + L <= cols; c += L) {
            a0 = FloatVector.fromMemorySegment(FS, data, b0 + (long) c * 4, ByteOrder.LITTLE_ENDIAN)
                    .fma(FloatVector.fromArray(FS, xs, xo + c), a0);
        }
        float s = a0.reduceLanes(VectorOperators.ADD);
        for (; c < cols; c++) s += data.get(Layouts.F32, b0 + (long) c * 4) * xs[xo + c];
        return s;
    }

    @Override
    public void row(int r, float[] out, int off) {
        long b0 = (long) r * cols * 4;
        for (int c = 0; c < cols; c++) out[off + c] = data.get(Layouts.F32, b0 + (long) c * 4);
    }
}
