package moge.tensor;

import moge.format.DType;
import moge.format.Layouts;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Plain scalar dequantizers over ggml's block layouts (ggml-common.h), the reference that every fast
 * kernel is tested against:
 * <ul>
 * <li>block_q8_0 (34 bytes): fp16 d; int8 qs[32]; x = d * qs[i]</li>
 * <li>block_q4_0 (18 bytes): fp16 d; uint8 qs[16]; x[i] = d * ((qs[i] &amp; 15) - 8), x[i + 16] = d * ((qs[i] &gt;&gt; 4) - 8)</li>
 * <li>block_q4_K (144 bytes, 256 values): fp16 d, dmin; uint8 scales[12] (eight 6-bit scales and mins);
 * uint8 qs[128]; each 64 values take the low nibbles of 32 bytes (sub-block 2j) then their high nibbles
 * (sub-block 2j+1); x = d * sc * q - dmin * m</li>
 * <li>block_q4_1 (20 bytes): fp16 d, m; uint8 qs[16] as Q4_0's; x = d * q + m</li>
 * <li>block_q5_0 (22 bytes): fp16 d; uint8 qh[4] (bit i: the fifth bit of value i); uint8 qs[16] as Q4_0's;
 * x = d * (q - 16)</li>
 * <li>block_q5_1 (24 bytes): fp16 d, m; uint8 qh[4] and qs[16] as Q5_0's; x = d * q + m</li>
 * <li>block_q5_K (176 bytes, 256 values): fp16 d, dmin; uint8 scales[12] as Q4_K's; uint8 qh[32], bit j of
 * qh[l] the fifth bit of value l of sub-block j; uint8 qs[128] as Q4_K's; x = d * sc * q - dmin * m</li>
 * <li>block_q6_K (210 bytes, 256 values): uint8 ql[128]; uint8 qh[64]; int8 scales[16]; fp16 d; each half
 * of 128 values reads 64 ql bytes and 32 qh bytes; x = d * scales[i / 16] * (q - 32)</li>
 * <li>block_q3_K (110 bytes, 256 values): uint8 hmask[32]; uint8 qs[64]; uint8 scales[12] (sixteen 6-bit
 * scales: low nibbles in bytes 0-7, top two bits in bytes 8-11); fp16 d. Value i takes the 2-bit field
 * 2 ((i % 128) / 32) of qs[32 (i / 128) + i % 32] and bit i / 32 of hmask[i % 32], q = low - (bit ? 0 : 4) in
 * -4..3; x = d * (scale[i / 16] - 32) * q</li>
 * <li>block_q2_K (84 bytes, 256 values): uint8 scales[16] (group i / 16's 4-bit scale in the low nibble, its
 * 4-bit min in the high one); uint8 qs[64]; fp16 d, dmin. Value i is the 2-bit field 2 ((i % 128) / 32) of
 * qs[32 (i / 128) + i % 32], as Q3_K's low bits; x = (d * sc) * q - dmin * m</li>
 * <li>block_iq4_nl (18 bytes, 32 values): fp16 d; uint8 qs[16] as Q4_0's; x = d * kvalues_iq4nl[q]</li>
 * <li>block_iq4_xs (136 bytes, 256 values): fp16 d; uint16 scales_h; uint8 scales_l[4]; uint8 qs[128], 16 bytes
 * a 32-value block packed as Q4_0's; block b's 6-bit scale ls has its low nibble in scales_l[b / 2] (low nibble
 * for even b) and its top bits at bit 2b of scales_h; x = d * (ls - 32) * kvalues_iq4nl[q]</li>
 * </ul>
 */
public final class GgmlQuants {
    private GgmlQuants() {
    }

    /** Dequantizes {@code n} values (a whole number of blocks) starting at byte {@code at} into out[off..]. */
    public static void dequantize(DType type, MemorySegment s, long at, float[] out, int off, int n) {
        if (n % type.blockSize != 0) throw new IllegalArgumentException(n + " values is not a whole number of " + type + " blocks");
        int blocks = n / type.blockSize;
        for (int b = 0; b < blocks; b++) {
            long p = at + (long) b * type.blockBytes;
            int o = off + b * type.blockSize;
            switch (type) {
                case Q8_0 -> q8_0(s, p, out, o);
                case Q4_0 -> q4_0(s, p, out, o);
                case Q4_1 -> q4_1(s, p, out, o);
                case Q5_0 -> q5_0(s, p, out, o);
                case Q5_1 -> q5_1(s, p, out, o);
                case Q4_K -> q4_K(s, p, out, o);
                case Q5_K -> q5_K(s, p, out, o);
                case Q6_K -> q6_K(s, p, out, o);
                case Q3_K -> q3_K(s, p, out, o);
                case Q2_K -> q2_K(s, p, out, o);
                case IQ4_NL -> iq4_nl(s, p, out, o);
                case IQ4_XS -> iq4_xs(s, p, out, o);
                default -> throw new IllegalArgumentException(type + " is not block-quantized");
            }
        }
    }

    static float half(MemorySegment s, long p) {
        return Float.float16ToFloat(s.get(Layouts.I16, p));
    }

    static int u8(MemorySegment s, long p) {
        return s.get(ValueLayout.JAVA_BYTE, p) & 0xFF;
    }

    static void q8_0(MemorySegment s, long p, float[] out, int o) {
        float d = half(s, p);
        for (int i = 0; i < 32; i++) out[o + i] = d * s.get(ValueLayout.JAVA_BYTE, p + 2 + i);
    }

    static void q4_0(MemorySegment s, long p, float[] out, int o) {
        float d = half(s, p);
        for (int i = 0; i < 16; i++) {
            int q = u8(s, p + 2 + i);
            out[o + i] = d * ((q & 15) - 8);
            out[o + i + 16] = d * ((q >> 4) - 8);
        }
    }

    static void q5_0(MemorySegment s, long p, float[] out, int o) {
        float d = half(s, p);
        int qh = s.get(Layouts.I32, p + 2);
        for (int i = 0; i < 16; i++) {
            int q = u8(s, p + 6 + i);
            out[o + i] = d * (((q & 15) | ((qh >>> i) & 1) << 4) - 16);
            out[o + i + 16] = d * (((q >> 4) | ((qh >>> (i + 16)) & 1) << 4) - 16);
        }
    }

    static void q4_1(MemorySegment s, long p, float[] out, int o) {
        float d = half(s, p), m = half(s, p + 2);
        for (int i = 0; i < 16; i++) {
            int q = u8(s, p + 4 + i);
            out[o + i] = d * (q & 15) + m;
            out[o + i + 16] = d * (q >> 4) + m;
        }
    }

    static void q5_1(MemorySegment s, long p, float[] out, int o) {
        float d = half(s, p), m = half(s, p + 2);
        int qh = s.get(Layouts.I32, p + 4);
        for (int i = 0; i < 16; i++) {
            int q = u8(s, p + 8 + i);
            out[o + i] = d * ((q & 15) | ((qh >>> i) & 1) << 4) + m;
            out[o + i + 16] = d * ((q >> 4) | ((qh >>> (i + 16)) & 1) << 4) + m;
        }
    }

    /** The j-th (0..7) 6-bit scale of a q4_K block's 12 packed scale bytes at {@code sc}. */
    static int q4kScale(MemorySegment s, long sc, int j) {
        return j < 4 ? u8(s, sc + j) & 63 : (u8(s, sc + j + 4) & 0xF) | ((u8(s, sc + j - 4) >> 6) << 4);
    }

    /** The j-th (0..7) 6-bit min of a q4_K block. */
    static int q4kMin(MemorySegment s, long sc, int j) {
        return j < 4 ? u8(s, sc + j + 4) & 63 : (u8(s, sc + j + 4) >> 4) | ((u8(s, sc + j) >> 6) << 4);
    }

    static void q4_K(MemorySegment s, long p, float[] out, int o) {
        float d = half(s, p), dmin = half(s, p + 2);
        long sc = p + 4, qs = p + 16;
        for (int j = 0; j < 4; j++) {
            float d1 = d * q4kScale(s, sc, 2 * j), m1 = dmin * q4kMin(s, sc, 2 * j);
            float d2 = d * q4kScale(s, sc, 2 * j + 1), m2 = dmin * q4kMin(s, sc, 2 * j + 1);
            for (int l = 0; l < 32; l++) {
                int q = u8(s, qs + 32L * j + l);
                out[o + 64 * j + l] = d1 * (q & 15) - m1;
                out[o + 64 * j + 32 + l] = d2 * (q >> 4) - m2;
            }
        }
    }

    static void q5_K(MemorySegment s, long p, float[] out, int o) {
        float d = half(s, p), dmin = half(s, p + 2);
        long sc = p + 4, qh = p + 16, qs = p + 48;
        for (int j = 0; j < 8; j++) {
            float dj = d * q4kScale(s, sc, j), mj = dmin * q4kMin(s, sc, j);
            int shift = 4 * (j % 2);
            for (int l = 0; l < 32; l++) {
                int q = ((u8(s, qs + 32L * (j / 2) + l) >> shift) & 15) | ((u8(s, qh + l) >> j) & 1) << 4;
                out[o + 32 * j + l] = dj * q - mj;
            }
        }
    }

    static void q6_K(MemorySegment s, long p, float[] out, int o) {
        float d = half(s, p + 208);
        for (int h = 0; h < 2; h++) {
            long ql = p + 64L * h, qh = p + 128 + 32L * h, sc = p + 192 + 8L * h;
            int y = o + 128 * h;
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int hb = u8(s, qh + l);
                int q1 = ((u8(s, ql + l) & 15) | ((hb & 3) << 4)) - 32;
                int q2 = ((u8(s, ql + l + 32) & 15) | (((hb >> 2) & 3) << 4)) - 32;
                int q3 = ((u8(s, ql + l) >> 4) | (((hb >> 4) & 3) << 4)) - 32;
                int q4 = ((u8(s, ql + l + 32) >> 4) | (((hb >> 6) & 3) << 4)) - 32;
                y(out, y + l, d, s, sc + is, q1);
                y(out, y + l + 32, d, s, sc + is + 2, q2);
                y(out, y + l + 64, d, s, sc + is + 4, q3);
                y(out, y + l + 96, d, s, sc + is + 6, q4);
            }
        }
    }

    /** ggml's kvalues_iq4nl: the 16 levels a 4-bit IQ4_NL / IQ4_XS code stands for, denser near zero. */
    private static final byte[] IQ4NL = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

    /** The level of 4-bit IQ4 code q (0..15). */
    public static int iq4nl(int q) {
        return IQ4NL[q];
    }

    /** The is-th (0..15) 6-bit scale of a q3_K block's 12 packed scale bytes at {@code sc}, before the -32. */
    static int q3kScale(MemorySegment s, long sc, int is) {
        return ((u8(s, sc + is % 8) >> 4 * (is / 8)) & 15) | ((u8(s, sc + 8 + is % 4) >> 2 * (is / 4)) & 3) << 4;
    }

    /** Code i (-4..3) of the q3_K block at p: two low bits from qs, the third from hmask (set: no -4). */
    static int q3kCode(MemorySegment s, long p, int i) {
        int low = (u8(s, p + 32 + 32L * (i / 128) + i % 32) >> 2 * ((i % 128) / 32)) & 3;
        return low - (((u8(s, p + i % 32) >> (i / 32)) & 1) != 0 ? 0 : 4);
    }

    static void q3_K(MemorySegment s, long p, float[] out, int o) {
        float d = half(s, p + 108);
        for (int g = 0; g < 16; g++) {
            float dl = d * (q3kScale(s, p + 96, g) - 32);
            for (int l = 0; l < 16; l++) out[o + 16 * g + l] = dl * q3kCode(s, p, 16 * g + l);
        }
    }

    /** Code i (0..3) of the q2_K block at p: the same 2-bit field of qs (at 16) as Q3_K's low bits. */
    static int q2kCode(MemorySegment s, long p, int i) {
        return (u8(s, p + 16 + 32L * (i / 128) + i % 32) >> 2 * ((i % 128) / 32)) & 3;
    }

    static void q2_K(MemorySegment s, long p, float[] out, int o) {
        float d = half(s, p + 80), dmin = half(s, p + 82);
        for (int g = 0; g < 16; g++) {
            int sm = u8(s, p + g);
            float dl = d * (sm & 15), ml = dmin * (sm >> 4);
            for (int l = 0; l < 16; l++) out[o + 16 * g + l] = dl * q2kCode(s, p, 16 * g + l) - ml;
        }
    }

    static void iq4_nl(MemorySegment s, long p, float[] out, int o) {
        iq4Block(s, p + 2, half(s, p), out, o);
    }

    /** The 6-bit scale of 32-value block b (0..7) of the iq4_xs block at p, before the -32. */
    static int iq4xsScale(MemorySegment s, long p, int b) {
        int h = s.get(Layouts.I16, p + 2) & 0xFFFF;
        return ((u8(s, p + 4 + b / 2) >> 4 * (b % 2)) & 15) | ((h >> 2 * b) & 3) << 4;
    }

    static void iq4_xs(MemorySegment s, long p, float[] out, int o) {
        float d = half(s, p);
        for (int b = 0; b < 8; b++) iq4Block(s, p + 8 + 16L * b, d * (iq4xsScale(s, p, b) - 32), out, o + 32 * b);
    }

    /** 32 values from the 16 nibble bytes at qs (low nibbles first, as Q4_0), each dl times its level. */
    private static void iq4Block(MemorySegment s, long qs, float dl, float[] out, int o) {
        for (int j = 0; j < 16; j++) {
            int q = u8(s, qs + j);
            out[o + j] = dl * IQ4NL[q & 15];
            out[o + j + 16] = dl * IQ4NL[q >> 4];
        }
    }

    private static void y(float[] out, int i, float d, MemorySegment s, long scale, int q) {
        out[i] = d * s.get(ValueLayout.JAVA_BYTE, scale) * q;
    }
}
