package moge.tensor;

import moge.format.DType;
import moge.format.HugePages;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Q4_1 and Q5_1 weights (ggml: per 32 values fp16 d and m, for Q5_1 four bytes of fifth bits, then 16 bytes of
 * nibbles; x = d * q + m) into {@link Q6KMatrix}'s affine runs: the codes q as whole bytes, then d and -m as floats.
 * A run's value is d * q - (-m), ggml's d * q + m to the bit, and its kernels are Q5_K's (10 bits a weight against
 * the file's 5 or 6). Older llama.cpp files use these types, and its Q5_K_M uses Q5_1 for rows that are not whole
 * 256-value blocks.
 */
final class AffineBlocksRepack {
    private AffineBlocksRepack() {
    }

    /** Rows are independent, so runs of them go to every core (as the other repacks). */
    static Q6KMatrix repack(String name, DType type, int rows, int cols, MemorySegment blocks) {
        if (type != DType.Q4_1 && type != DType.Q5_1) throw new IllegalArgumentException(type + " is not Q4_1 or Q5_1");
        int runs = cols / 32, bb = type.blockBytes;
        boolean five = type == DType.Q5_1;
        MemorySegment out = HugePages.allocate((long) rows * runs * Q6KMatrix.RUN);
        Repacking.forRuns(rows, 1, (r0, r1) -> {
            byte[] src = new byte[runs * bb], dst = new byte[runs * Q6KMatrix.RUN];
            for (int r = r0; r < r1; r++) {
                MemorySegment.copy(blocks, ValueLayout.JAVA_BYTE, (long) r * src.length, src, 0, src.length);
                for (int b = 0; b < runs; b++) {
                    int p = b * bb, o = b * Q6KMatrix.RUN, qs = p + (five ? 8 : 4);
                    float d = Float.float16ToFloat(Repacking.finiteScale(name, type.name(), r, Repacking.half(src, p)));
                    float m = Float.float16ToFloat(Repacking.finiteScale(name, type.name(), r, Repacking.half(src, p + 2)));
                    int qh = five ? (src[p + 4] & 0xFF) | (src[p + 5] & 0xFF) << 8 | (src[p + 6] & 0xFF) << 16 | (src[p + 7] & 0xFF) << 24 : 0;
                    for (int i = 0; i < 16; i++) {
                        int q = src[qs + i] & 0xFF;
                        dst[o + i] = (byte) ((q & 15) | ((qh >>> i) & 1) << 4);
                        dst[o + i + 16] = (byte) ((q >> 4) | ((qh >>> (i + 16)) & 1) << 4);
                    }
                    putFloat(dst, o + 32, d);
                    putFloat(dst, o + 36, -m);
                }
                MemorySegment.copy(dst, 0, out, ValueLayout.JAVA_BYTE, (long) r * dst.length, dst.length);
            }
        });
        return new Q6KMatrix(name, type, rows, cols, out);
    }

    private static void putFloat(byte[] b, int at, float v) {
        int bits = Float.floatToRawIntBits(v);
        for (int i = 0; i < 4; i++) b[at + i] = (byte) (bits >>> (8 * i));
    }
}
