package moge.tensor;

import moge.format.DType;

import java.lang.foreign.MemorySegment;

/**
 * IQ4_XS weights into {@link ByteRunsMatrix}'s runs of 32 int8 codes and two float scales, one per 16 values: the codes
 * are the int8 levels of kvalues_iq4nl, both halves scaled by the block's d * (ls - 32), which ggml forms as a
 * float product of the fp16 d and a 6-bit integer, so writing that product in the run's slots gives ggml's values
 * to the bit, and the kernel that made Q6_K fast (until its tiles) runs them with no new code (10 bits a weight against the file's
 * 4.25). Q3_K ran here too until it moved to 16-bit tiles ({@link Q3KTiles}).
 */
final class ScaledRunsRepack {
    private static final int IQ4XS_BYTES = 136;

    private ScaledRunsRepack() {
    }

    static ByteRunsMatrix iq4XS(String name, int rows, int cols, MemorySegment blocks) {
        return ByteRunsMatrix.fromRows(name, DType.IQ4_XS, rows, cols, blocks, (r, src, dst) -> {
            for (int s = 0; s < cols / 256; s++) iq4XSSuper(name, r, src, s * IQ4XS_BYTES, dst, s * 8);
        });
    }

    /** Super-block at p (fp16 d, scales_h, scales_l[4], qs[128]) into runs [run, run + 8), one 32-value block each. */
    private static void iq4XSSuper(String name, int row, byte[] src, int p, byte[] dst, int run) {
        float d = Float.float16ToFloat(Repacking.finiteScale(name, "IQ4_XS", row, Repacking.half(src, p)));
        int high = Repacking.half(src, p + 2) & 0xFFFF;
        for (int b = 0; b < 8; b++) {
            int ls = ((src[p + 4 + b / 2] >> 4 * (b % 2)) & 15) | ((high >> 2 * b) & 3) << 4, o = (run + b) * ByteRunsMatrix.RUN;
            Repacking.iq4Codes32(src, p + 8 + 16 * b, dst, o);
            float dl = d * (ls - 32);
            Repacking.putFloat(dst, o + 32, dl);
            Repacking.putFloat(dst, o + 36, dl);
        }
    }
}
