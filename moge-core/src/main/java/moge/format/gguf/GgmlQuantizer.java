package moge.format.gguf;

import moge.format.DType;
import moge.format.HfCheckpointWriter;
import moge.format.Layouts;
import moge.tensor.GgmlQuants;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.stream.IntStream;

/**
 * ggml's reference block formats in plain scalar code: float to Q8_0/Q4_0 exactly as
 * {@code quantize_row_q8_0_ref}/{@code quantize_row_q4_0_ref} (so a converted file has the bytes
 * llama.cpp's converter would write), float to Q4_K/Q5_K/Q6_K/Q5_0/Q4_1/Q5_1 by moge's own scheme ({@link KQuantizer}), to Q3_K/Q2_K/IQ4_NL/IQ4_XS ({@link LowBitQuantizer}), and every supported type back to float as the
 * {@code dequantize_row_*} functions do (for conversion checks and as the reference of the fast kernels).
 */
public final class GgmlQuantizer {
    private GgmlQuantizer() {
    }

    /** Blocks per task when a long run of a quantized type is cut up for the cores. */
    private static final int PIECE = 256;

    /** Encodes {@code n} floats (a multiple of the block size) from x[off..] into {@code type}'s bytes. */
    public static byte[] encode(DType type, float[] x, int off, int n) {
        long bytes = type.bytesFor(n);
        if (bytes < 0) throw new IllegalArgumentException(n + " values are not whole " + type + " blocks");
        byte[] out = new byte[(int) bytes];
        int blocks = n / type.blockSize;
        if (type.quantized() && blocks >= 2 * PIECE) {
            // blocks are independent, so every core takes pieces of the run: the K-quant refits made converting a
            // 1 GB checkpoint to Q5_K_M an 80 s job on one core; the bytes do not depend on the split
            IntStream.range(0, (blocks + PIECE - 1) / PIECE).parallel()
                    .forEach(p -> encodeBlocks(type, x, off, out, p * PIECE, Math.min(blocks, (p + 1) * PIECE)));
        } else {
            encodeBlocks(type, x, off, out, 0, blocks);
        }
        return out;
    }

    /** Blocks [b0, b1) of x[off..] into their places in out. */
    private static void encodeBlocks(DType type, float[] x, int off, byte[] out, int b0, int b1) {
        switch (type) {
            case F32 -> {
                for (int i = b0; i < b1; i++) putInt(out, i * 4, Float.floatToRawIntBits(x[off + i]));
            }
            case F16 -> {
                for (int i = b0; i < b1; i++) putShort(out, i * 2, Float.floatToFloat16(x[off + i]));
            }
            case BF16 -> {
                for (int i = b0; i < b1; i++) putShort(out, i * 2, HfCheckpointWriter.toBf16(x[off + i]));
            }
            case Q8_0 -> {
                for (int b = b0; b < b1; b++) q8_0(x, off + b * 32, out, b * 34);
            }
            case Q4_0 -> {
                for (int b = b0; b < b1; b++) q4_0(x, off + b * 32, out, b * 18);
            }
            case Q4_K -> {
                for (int b = b0; b < b1; b++) KQuantizer.q4_K(x, off + b * 256, out, b * 144);
            }
            case Q6_K -> {
                for (int b = b0; b < b1; b++) KQuantizer.q6_K(x, off + b * 256, out, b * 210);
            }
            case Q5_K -> {
                for (int b = b0; b < b1; b++) KQuantizer.q5_K(x, off + b * 256, out, b * 176);
            }
            case Q5_0 -> {
                for (int b = b0; b < b1; b++) KQuantizer.q5_0(x, off + b * 32, out, b * 22);
            }
            case Q4_1 -> {
                for (int b = b0; b < b1; b++) KQuantizer.affine32(x, off + b * 32, out, b * 20, 16);
            }
            case Q5_1 -> {
                for (int b = b0; b < b1; b++) KQuantizer.affine32(x, off + b * 32, out, b * 24, 32);
            }
            case Q3_K -> {
                for (int b = b0; b < b1; b++) LowBitQuantizer.q3_K(x, off + b * 256, out, b * 110);
            }
            case Q2_K -> {
                for (int b = b0; b < b1; b++) LowBitQuantizer.q2_K(x, off + b * 256, out, b * 84);
            }
            case IQ4_NL -> {
                for (int b = b0; b < b1; b++) LowBitQuantizer.iq4_nl(x, off + b * 32, out, b * 18);
            }
            case IQ4_XS -> {
                for (int b = b0; b < b1; b++) LowBitQuantizer.iq4_xs(x, off + b * 256, out, b * 136);
            }
            default -> throw new IllegalArgumentException("moge does not quantize to " + type);
        }
    }

    private static void q8_0(float[] x, int o, byte[] out, int bo) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[o + j]));
        float d = amax / 127;
        float id = d != 0 ? 1.0f / d : 0.0f;
        putShort(out, bo, Float.floatToFloat16(d));
        for (int j = 0; j < 32; j++) out[bo + 2 + j] = (byte) roundAway(x[o + j] * id);
    }

    private static void q4_0(float[] x, int o, byte[] out, int bo) {
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
        putShort(out, bo, Float.floatToFloat16(d));
        for (int j = 0; j < 16; j++) {
            // (int8_t)(x + 8.5f) truncates; x + 8.5 is positive here, so this is floor.
            int lo = Math.min(15, (int) (x[o + j] * id + 8.5f));
            int hi = Math.min(15, (int) (x[o + 16 + j] * id + 8.5f));
            out[bo + 2 + j] = (byte) (lo | (hi << 4));
        }
    }

    /** C's roundf: halves away from zero. */
    private static int roundAway(float v) {
        double a = Math.floor(Math.abs((double) v) + 0.5);
        return (int) (v < 0 ? -a : a);
    }

    /** Decodes {@code n} values (whole blocks) of {@code type} starting at byte {@code at} of {@code seg}. */
    public static void decode(DType type, MemorySegment seg, long at, float[] out, int off, int n) {
        switch (type) {
            case F32 -> {
                for (int i = 0; i < n; i++) out[off + i] = seg.get(Layouts.F32, at + 4L * i);
            }
            case F16 -> {
                for (int i = 0; i < n; i++) out[off + i] = Float.float16ToFloat(seg.get(Layouts.I16, at + 2L * i));
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) out[off + i] = Float.intBitsToFloat((seg.get(Layouts.I16, at + 2L * i) & 0xFFFF) << 16);
            }
            case Q8_0 -> {
                for (int b = 0; b < n / 32; b++) {
                    long p = at + 34L * b;
                    float d = half(seg, p);
                    for (int j = 0; j < 32; j++) out[off + b * 32 + j] = seg.get(ValueLayout.JAVA_BYTE, p + 2 + j) * d;
                }
            }
            case Q4_0 -> {
                for (int b = 0; b < n / 32; b++) {
                    long p = at + 18L * b;
                    float d = half(seg, p);
                    for (int j = 0; j < 16; j++) {
                        int q = u8(seg, p + 2 + j);
                        out[off + b * 32 + j] = ((q & 0xF) - 8) * d;
                        out[off + b * 32 + 16 + j] = ((q >> 4) - 8) * d;
                    }
                }
            }
            case Q4_K -> {
                for (int b = 0; b < n / 256; b++) q4_K(seg, at + 144L * b, out, off + b * 256);
            }
            case Q6_K -> {
                for (int b = 0; b < n / 256; b++) q6_K(seg, at + 210L * b, out, off + b * 256);
            }
            case Q4_1, Q5_0, Q5_1, Q5_K, Q3_K, Q2_K, IQ4_NL, IQ4_XS -> GgmlQuants.dequantize(type, seg, at, out, off, n);
        }
    }

    /** Block: fp16 d, fp16 dmin, 12 bytes of packed 6-bit scales and mins, 128 bytes of nibbles. */
    private static void q4_K(MemorySegment seg, long p, float[] y, int o) {
        float d = half(seg, p), min = half(seg, p + 2);
        long sc = p + 4, q = p + 16;
        int[] smA = new int[2], smB = new int[2];
        for (int j = 0, is = 0; j < 256; j += 64, is += 2, q += 32) {
            scaleMin(seg, sc, is, smA);
            scaleMin(seg, sc, is + 1, smB);
            float d1 = d * smA[0], m1 = min * smA[1], d2 = d * smB[0], m2 = min * smB[1];
            for (int l = 0; l < 32; l++) y[o++] = d1 * (u8(seg, q + l) & 0xF) - m1;
            for (int l = 0; l < 32; l++) y[o++] = d2 * (u8(seg, q + l) >> 4) - m2;
        }
    }

    private static void scaleMin(MemorySegment seg, long s, int j, int[] out) {
        if (j < 4) {
            out[0] = u8(seg, s + j) & 63;
            out[1] = u8(seg, s + j + 4) & 63;
        } else {
            out[0] = (u8(seg, s + j + 4) & 0xF) | ((u8(seg, s + j - 4) >> 6) << 4);
            out[1] = (u8(seg, s + j + 4) >> 4) | ((u8(seg, s + j) >> 6) << 4);
        }
    }

    /** Block: 128 bytes low nibbles, 64 bytes high 2-bit pairs, 16 int8 scales, fp16 d. */
    private static void q6_K(MemorySegment seg, long p, float[] y, int o) {
        float d = half(seg, p + 208);
        long ql = p, qh = p + 128, sc = p + 192;
        for (int n = 0; n < 256; n += 128, ql += 64, qh += 32, sc += 8, o += 128) {
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int h = u8(seg, qh + l);
                int q1 = ((u8(seg, ql + l) & 0xF) | ((h & 3) << 4)) - 32;
                int q2 = ((u8(seg, ql + l + 32) & 0xF) | (((h >> 2) & 3) << 4)) - 32;
                int q3 = ((u8(seg, ql + l) >> 4) | (((h >> 4) & 3) << 4)) - 32;
                int q4 = ((u8(seg, ql + l + 32) >> 4) | (((h >> 6) & 3) << 4)) - 32;
                y[o + l] = d * i8(seg, sc + is) * q1;
                y[o + l + 32] = d * i8(seg, sc + is + 2) * q2;
                y[o + l + 64] = d * i8(seg, sc + is + 4) * q3;
                y[o + l + 96] = d * i8(seg, sc + is + 6) * q4;
            }
        }
    }

    private static float half(MemorySegment seg, long p) {
        return Float.float16ToFloat(seg.get(Layouts.I16, p));
    }

    private static int u8(MemorySegment seg, long p) {
        return seg.get(ValueLayout.JAVA_BYTE, p) & 0xFF;
    }

    private static int i8(MemorySegment seg, long p) {
        return seg.get(ValueLayout.JAVA_BYTE, p);
    }

    static void putShort(byte[] b, int i, short v) {
        b[i] = (byte) v;
        b[i + 1] = (byte) (v >>> 8);
    }

    private static void putInt(byte[] b, int i, int v) {
        for (int k = 0; k < 4; k++) b[i + k] = (byte) (v >>> (8 * k));
    }
}
