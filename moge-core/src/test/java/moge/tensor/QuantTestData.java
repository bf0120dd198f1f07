package moge.tensor;

import moge.format.DType;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

/** Random matrices in ggml block layouts, with every field in its valid range, for kernel tests. */
final class QuantTestData {
    private QuantTestData() {
    }

    static MemorySegment random(DType type, int rows, int cols, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        long blocks = (long) rows * cols / type.blockSize;
        MemorySegment s = Arena.ofAuto().allocate(blocks * type.blockBytes, 1);
        byte[] b = new byte[type.blockBytes];
        for (long i = 0; i < blocks; i++) {
            r.nextBytes(b);
            switch (type) {
                case Q8_0, Q4_0 -> half(b, 0, scale(r));
                case Q4_K -> {
                    half(b, 0, scale(r));
                    half(b, 2, scale(r) * 0.5);
                }
                case Q6_K -> half(b, 208, scale(r) * 0.1);
                default -> throw new IllegalArgumentException(type.toString());
            }
            MemorySegment.copy(b, 0, s, ValueLayout.JAVA_BYTE, i * type.blockBytes, b.length);
        }
        return s;
    }

    private static double scale(SplittableRandom r) {
        return (r.nextBoolean() ? 1 : -1) * (0.001 + 0.01 * r.nextDouble());
    }

    private static void half(byte[] b, int at, double v) {
        short h = Float.floatToFloat16((float) v);
        b[at] = (byte) h;
        b[at + 1] = (byte) (h >> 8);
    }

    static float[] floats(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian();
        return x;
    }

    /** Row r of the matrix in ggml layout, dequantized by the reference. */
    static float[] refRow(DType type, MemorySegment s, int cols, int r) {
        float[] out = new float[cols];
        GgmlQuants.dequantize(type, s, (long) r * cols / type.blockSize * type.blockBytes, out, 0, cols);
        return out;
    }
}
