package moge.tensor;

import moge.format.DType;

import java.lang.foreign.MemorySegment;

/**
 * Q3_K and IQ4_XS weights into {@link Q6KMatrix}'s runs of 32 int8 codes and two float scales, one per 16 values.
 * Both types are a signed code times a scale that ggml forms as a float product of the fp16 d and a 6-bit
 * integer, so writing that product in the run's slots gives ggml's values to the bit, and the kernel that made
 * Q6_K fast runs them with no new code (10 bits a weight against the files' 3.44 and 4.25: decoding 3-bit fields
 * or a table lookup in registers would cost more than reading the wider codes, as it did for Q6_K's 6-bit fields).
 * <ul>
 * <li>Q3_K: codes q in -4..3, the run's halves scaled by d * (sc - 32) of their own 16-value group.</li>
 * <li>IQ4_XS: codes are the int8 levels of kvalues_iq4nl, both halves scaled by the block's d * (ls - 32).</li>
 * </ul>
 */
final class ScaledRunsRepack {
    private static final int Q3K_BYTES = 110, IQ4XS_BYTES = 136;

    private ScaledRunsRepack() {
    }

    static Q6KMatrix q3K(String name, int rows, int cols, MemorySegment blocks) {
        return Q6KMatrix.fromRows(name, DType.Q3_K, rows, cols, blocks, (r, src, dst) -> {
            MemorySegment in = MemorySegment.ofArray(src);
            for (int s = 0; s < cols / 256; s++) q3KSuper(name, r, in, src, s * Q3K_BYTES, dst, s * 8);
        });
    }

    /**
     * Super-block at p into runs [run, run + 8), after ggml's dequantize_row_q3_K: each half of 128 values reads
     * 32 bytes of qs, two bits a value (shift 2j for its j-th 32), and the third bit of value i is bit i / 32 of
     * hmask[i % 32], a clear bit meaning -4.
     */
    private static void q3KSuper(String name, int row, MemorySegment in, byte[] src, int p, byte[] dst, int run) {
        float d = Float.float16ToFloat(Repacking.finiteScale(name, "Q3_K", row, Repacking.half(src, p + 108)));
        for (int h = 0; h < 2; h++) {
            for (int j = 0; j < 4; j++) {
                int o = (run + 4 * h + j) * Q6KMatrix.RUN, bit = 4 * h + j;
                for (int l = 0; l < 32; l++) {
                    int low = (src[p + 32 + 32 * h + l] >> 2 * j) & 3, high = (src[p + l] >> bit) & 1;
                    dst[o + l] = (byte) (low - 4 + 4 * high);
                }
            }
        }
        for (int g = 0; g < 16; g++) {
            float dl = d * (GgmlQuants.q3kScale(in, p + 96, g) - 32);
            Repacking.putFloat(dst, (run + g / 2) * Q6KMatrix.RUN + 32 + 4 * (g % 2), dl);
        }
    }

    static Q6KMatrix iq4XS(String name, int rows, int cols, MemorySegment blocks) {
        return Q6KMatrix.fromRows(name, DType.IQ4_XS, rows, cols, blocks, (r, src, dst) -> {
            for (int s = 0; s < cols / 256; s++) iq4XSSuper(name, r, src, s * IQ4XS_BYTES, dst, s * 8);
        });
    }

    /** Super-block at p (fp16 d, scales_h, scales_l[4], qs[128]) into runs [run, run + 8), one 32-value block each. */
    private static void iq4XSSuper(String name, int row, byte[] src, int p, byte[] dst, int run) {
        float d = Float.float16ToFloat(Repacking.finiteScale(name, "IQ4_XS", row, Repacking.half(src, p)));
        int high = Repacking.half(src, p + 2) & 0xFFFF;
        for (int b = 0; b < 8; b++) {
            int ls = ((src[p + 4 + b / 2] >> 4 * (b % 2)) & 15) | ((high >> 2 * b) & 3) << 4, o = (run + b) * Q6KMatrix.RUN;
            Repacking.iq4Codes32(src, p + 8 + 16 * b, dst, o);
            float dl = d * (ls - 32);
            Repacking.putFloat(dst, o + 32, dl);
            Repacking.putFloat(dst, o + 36, dl);
        }
    }
}
