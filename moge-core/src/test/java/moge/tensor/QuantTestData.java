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
        if (!type.quantized()) return randomFloats(type, rows * cols, r);
        long blocks = (long) rows * cols / type.blockSize;
        MemorySegment s = Arena.ofAuto().allocate(blocks * type.blockBytes, 1);
        byte[] b = new byte[type.blockBytes];
        for (long i = 0; i < blocks; i++) {
            r.nextBytes(b);
            switch (type) {
                case Q8_0, Q4_0, Q5_0, IQ4_NL -> half(b, 0, scale(r));
                case IQ4_XS -> half(b, 0, scale(r) * 0.1);
                case Q3_K -> half(b, 108, scale(r) * 0.1);
                case Q2_K -> {
                    half(b, 80, scale(r) * 0.2);
                    half(b, 82, scale(r) * 0.1);
                }
                case Q4_1, Q5_1 -> {
                    half(b, 0, scale(r));
                    half(b, 2, scale(r) * 4);
                }
                case Q4_K, Q5_K -> {
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

    private static MemorySegment randomFloats(DType type, int n, SplittableRandom r) {
        MemorySegment s = Arena.ofAuto().allocate((long) n * (type == DType.F32 ? 4 : 2), 1);
        for (int i = 0; i < n; i++) {
            float v = (float) r.nextGaussian();
            switch (type) {
                case F32 -> s.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, v);
                case F16 -> s.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, Float.floatToFloat16(v));
                case BF16 -> s.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, (short) (Float.floatToRawIntBits(v) >>> 16));
                default -> throw new IllegalArgumentException(type.toString());
            }
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
        if (!type.quantized()) {
            for (int c = 0; c < cols; c++) {
                long i = (long) r * cols + c;
                out[c] = switch (type) {
                    case F32 -> s.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i);
                    case F16 -> Float.float16ToFloat(s.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i));
                    default -> Float.intBitsToFloat((s.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i) & 0xFFFF) << 16);
                };
            }
            return out;
        }
        GgmlQuants.dequantize(type, s, (long) r * cols / type.blockSize * type.blockBytes, out, 0, cols);
        return out;
    }
}
