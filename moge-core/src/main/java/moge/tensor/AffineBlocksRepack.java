package moge.tensor;

import moge.format.DType;

import java.lang.foreign.MemorySegment;

/**
 * Q4_1 and Q5_1 weights (ggml: per 32 values fp16 d and m, for Q5_1 four bytes of fifth bits, then 16 bytes of
 * nibbles; x = d * q + m) into {@link ByteRunsMatrix}'s affine runs: the codes q as whole bytes, then d and -m as floats.
 * A run's value is d * q - (-m), ggml's d * q + m to the bit, and its kernels are the scaled runs' with a min per run (10 bits a
 * weight against the file's 5 or 6). Older llama.cpp files use these types, and its Q5_K_M uses Q5_1 for rows that are not whole
 * 256-value blocks.
 */
final class AffineBlocksRepack {
    private AffineBlocksRepack() {
    }

    static ByteRunsMatrix repack(String name, DType type, int rows, int cols, MemorySegment blocks) {
        if (type != DType.Q4_1 && type != DType.Q5_1) throw new IllegalArgumentException(type + " is not Q4_1 or Q5_1");
        int bb = type.blockBytes;
        boolean five = type == DType.Q5_1;
        return ByteRunsMatrix.fromRows(name, type, rows, cols, blocks, (r, src, dst) -> {
            for (int b = 0; b < cols / 32; b++) {
                int p = b * bb, o = b * ByteRunsMatrix.RUN;
                float d = Float.float16ToFloat(Repacking.finiteScale(name, type.name(), r, Repacking.half(src, p)));
                float m = Float.float16ToFloat(Repacking.finiteScale(name, type.name(), r, Repacking.half(src, p + 2)));
                Repacking.codes32(src, p + (five ? 8 : 4), five ? p + 4 : -1, 0, dst, o);
                Repacking.putFloat(dst, o + 32, d);
                Repacking.putFloat(dst, o + 36, -m);
            }
        });
    }
}
