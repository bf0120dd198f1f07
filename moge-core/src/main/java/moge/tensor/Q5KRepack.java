package moge.tensor;

import moge.format.DType;

import java.lang.foreign.MemorySegment;

/**
 * Q5_K weights (ggml: per 256 values fp16 d and dmin, Q4_K's twelve bytes of 6-bit scales and mins, 32 bytes of
 * fifth bits, 128 of nibbles) into {@link Q6KMatrix}'s runs of whole-byte codes, the run's scale and min in its
 * two floats: the kernel that made Q6_K fast needs only a min per run besides, and a 5-bit field costs as much to
 * decode in registers as a 6-bit one.
 */
final class Q5KRepack {
    private static final int SUPER_BYTES = 176;

    private Q5KRepack() {
    }

    static Q6KMatrix repack(String name, int rows, int cols, MemorySegment blocks) {
        return Q6KMatrix.fromRows(name, DType.Q5_K, rows, cols, blocks, (r, src, dst) -> {
            MemorySegment in = MemorySegment.ofArray(src);
            for (int s = 0; s < cols / 256; s++) repackSuper(name, r, in, src, s * SUPER_BYTES, dst, s * 8);
        });
    }

    /**
     * Super-block at p into runs [run, run + 8), following ggml's dequantize_row_q5_K: sub-block j takes the low
     * (j even) or high nibbles of qs[32 (j / 2) + l] and bit j of qh[l] as its fifth bit.
     */
    private static void repackSuper(String name, int row, MemorySegment in, byte[] src, int p, byte[] dst, int run) {
        float d = Float.float16ToFloat(Repacking.finiteScale(name, "Q5_K", row, Repacking.half(src, p)));
        float dmin = Float.float16ToFloat(Repacking.finiteScale(name, "Q5_K", row, Repacking.half(src, p + 2)));
        for (int j = 0; j < 8; j++) {
            int o = (run + j) * Q6KMatrix.RUN, shift = 4 * (j % 2);
            for (int l = 0; l < 32; l++) {
                int lo = (src[p + 48 + 32 * (j / 2) + l] >> shift) & 15, hi = (src[p + 16 + l] >> j) & 1;
                dst[o + l] = (byte) (lo | hi << 4);
            }
            Repacking.putFloat(dst, o + 32, d * GgmlQuants.q4kScale(in, p + 4, j));
            Repacking.putFloat(dst, o + 36, dmin * GgmlQuants.q4kMin(in, p + 4, j));
        }
    }
}
