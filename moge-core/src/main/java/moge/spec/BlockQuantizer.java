package moge.spec;

import moge.format.DType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Float rows to ggml's Q8_0 and Q4_0 blocks, following ggml's reference quantizers
 * ({@code quantize_row_q8_0_ref}, {@code quantize_row_q4_0_ref}) so a quantized copy made here holds the
 * bytes llama.cpp would write. Block of 32 values: an fp16 scale d, then 32 int8 values (Q8_0, 34 bytes)
 * or 16 bytes of 4-bit values, element j in the low nibble of byte j and element j + 16 in its high nibble
 * (Q4_0, 18 bytes).
 */
public final class BlockQuantizer {
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;

    private BlockQuantizer() {
    }

    public static boolean supports(DType t) {
        return t == DType.Q8_0 || t == DType.Q4_0;
    }

    /** Quantizes x[off .. off + n) (n a multiple of 32) into dst from byte {@code at}. */
    public static void quantize(DType type, float[] x, int off, int n, MemorySegment dst, long at) {
        if (n % 32 != 0) throw new IllegalArgumentException(n + " values are not whole blocks of 32");
        for (int b = 0; b < n / 32; b++) {
            switch (type) {
                case Q8_0 -> q8_0(x, off + 32 * b, dst, at + 34L * b);
                case Q4_0 -> q4_0(x, off + 32 * b, dst, at + 18L * b);
                default -> throw new IllegalArgumentException("cannot quantize to " + type);
            }
        }
    }

    private static void q8_0(float[] x, int o, MemorySegment dst, long at) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[o + j]));
        float d = amax / 127;
        float id = d != 0 ? 1.0f / d : 0.0f;
        dst.set(I16, at, Float.floatToFloat16(d));
        for (int j = 0; j < 32; j++) dst.set(ValueLayout.JAVA_BYTE, at + 2 + j, (byte) roundHalfAway(x[o + j] * id));
    }

    private static void q4_0(float[] x, int o, MemorySegment dst, long at) {
        // The scale maps the value of largest magnitude, sign included, to -8, so it is exactly representable.
        float amax = 0, max = 0;
        for (int j = 0; j < 32; j++) {
            float v = x[o + j];
            if (amax < Math.abs(v)) {
                amax = Math.abs(v);
                max = v;
            }
        }
        float d = max / -8;
        float id = d != 0 ? 1.0f / d : 0.0f;
        dst.set(I16, at, Float.floatToFloat16(d));
        for (int j = 0; j < 16; j++) {
            // x * id + 8.5 lies in [0.5, 16.5]; ggml truncates it to an integer and clamps at 15.
            int lo = Math.min(15, (int) (x[o + j] * id + 8.5f));
            int hi = Math.min(15, (int) (x[o + 16 + j] * id + 8.5f));
            dst.set(ValueLayout.JAVA_BYTE, at + 2 + j, (byte) (lo | (hi << 4)));
        }
    }

    /** C's roundf: halves away from zero. */
    static int roundHalfAway(float v) {
        float a = (float) Math.floor(Math.abs(v) + 0.5);
        return (int) (v < 0 ? -a : a);
    }

    /** The inverse, for tests and reference kernels: block values of row data back to float. */
    public static void dequantize(DType type, MemorySegment src, long at, float[] out, int off, int n) {
        for (int b = 0; b < n / 32; b++) {
            if (type == DType.Q8_0) {
                long p = at + 34L * b;
                float d = Float.float16ToFloat(src.get(I16, p));
                for (int j = 0; j < 32; j++) out[off + 32 * b + j] = src.get(ValueLayout.JAVA_BYTE, p + 2 + j) * d;
            } else if (type == DType.Q4_0) {
                long p = at + 18L * b;
                float d = Float.float16ToFloat(src.get(I16, p));
                for (int j = 0; j < 16; j++) {
                    int q = src.get(ValueLayout.JAVA_BYTE, p + 2 + j) & 0xFF;
                    out[off + 32 * b + j] = ((q & 0xF) - 8) * d;
                    out[off + 32 * b + 16 + j] = ((q >> 4) - 8) * d;
                }
            } else {
                throw new IllegalArgumentException("not a block type here: " + type);
            }
        }
    }
}
