package moge.tensor;

import static moge.tensor.Q8_0Matrix.BPG;
import static moge.tensor.Q8_0Matrix.FAST;
import static moge.tensor.Q8_0Matrix.G;
import static moge.tensor.Q8_0Matrix.L;

import moge.format.DType;
import moge.format.HugePages;
import moge.format.Layouts;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The layout {@link Q8_0Matrix} reads, and the repacking into it: rows in quads interleaved group by group,
 * within a group byte k of int lane j holding value {@link #valueOf valueOf(j, k)}, values past the last whole
 * group in plain order, the fp16 scales after all rows (a quad's interleaved block by block); rows past the last
 * whole quad plainly. Q5_0 and IQ4_NL blocks arrive here widened to their Q8_0 blocks.
 */
final class Q8Interleave {
    private Q8Interleave() {
    }

    /**
     * The value of a group (0..G-1) in byte k (0..3) of int lane j: each block of 32 over 8 int lanes, value
     * 8k + j of the block in byte k of lane j, and at 512 bits a group's two blocks side by side, the first in
     * lanes 0..7, the second in lanes 8..15. So the two shorts of an int lane and every lane of a slice belong to
     * one block, and the one-token kernel adds a lane's two shorts before it widens them. At 512 bits the first
     * layout (value kL + j) spread each block over all 16 lanes: twice the widenings and scale products per group,
     * and one thread read 15.2-16.3 GB/s from DRAM where it reads 20.8-22.3 now (KernelBench Q8_0 2048x2048 x56).
     */
    static int valueOf(int j, int k) {
        return 32 * (j / 8) + 8 * k + j % 8;
    }

    /** Where value c of row r lies (in the repacked order within its group); full = whole groups' columns. */
    static long byteOf(int r, int c, int cols, int full, int quadRows) {
        if (r >= quadRows) return (long) r * cols + c;
        long quad = (long) (r / 4) * 4 * cols;
        int i = r % 4;
        if (c < full) return quad + (long) (c / G) * 4 * G + (long) i * G + c % G;
        return quad + 4L * full + (long) i * (cols - full) + (c - full);
    }

    /** The index of block b's scale of row r among the scales. */
    static long scaleIndex(int r, int b, int nb, int quadRows) {
        if (r >= quadRows) return (long) r * nb + b;
        return (long) (r / 4) * 4 * nb + 4L * b + r % 4;
    }

    /** Ggml Q8_0 blocks (row after row, 34 bytes per 32 values) repacked into a new off-heap array. */
    static MemorySegment ofQ8_0(int rows, int cols, MemorySegment blocks) {
        return packed(rows, cols, (r, src) ->
                MemorySegment.copy(blocks, ValueLayout.JAVA_BYTE, (long) r * src.length, src, 0, src.length));
    }

    /** Writes the 32 int8 codes of the block at q[p..] of row r into dst[o..o+32). */
    interface BlockCodes {
        void codes(int r, byte[] q, int p, byte[] dst, int o);
    }

    /** A {@code type} matrix of 32-value blocks that start with their fp16 d, each widened to the Q8_0 block of that d. */
    static MemorySegment widened(DType type, int rows, int cols, MemorySegment blocks, BlockCodes f) {
        int nb = cols / 32, bb = type.blockBytes;
        return packed(rows, cols, (r, src) -> {
            byte[] q = new byte[nb * bb];
            MemorySegment.copy(blocks, ValueLayout.JAVA_BYTE, (long) r * q.length, q, 0, q.length);
            for (int b = 0; b < nb; b++) {
                int p = bb * b, o = 34 * b;
                src[o] = q[p];
                src[o + 1] = q[p + 1];
                f.codes(r, q, p, src, o + 2);
            }
        });
    }

    /** Row r as ggml Q8_0 blocks into src (34 bytes per 32 values). */
    private interface Q8Rows {
        void read(int r, byte[] src);
    }

    /**
     * The repacked copy of rows read as Q8_0 blocks; rows are independent, so runs of them go to every core
     * (a 1.5 GB model spent seconds here on one thread).
     */
    private static MemorySegment packed(int rows, int cols, Q8Rows in) {
        long packedBytes = (long) rows * cols + (long) rows * (cols / 32) * 2;
        MemorySegment out = HugePages.allocate(packedBytes);
        Repacking.forRuns(rows, 4, (r0, r1) -> repackRows(rows, cols, in, out, r0, r1));
        return out;
    }

    private static void repackRows(int rows, int cols, Q8Rows in, MemorySegment out, int r0, int r1) {
        int nb = cols / 32;
        byte[] src = new byte[nb * 34];
        byte[] qs = new byte[cols];
        short[] sc = new short[nb];
        int groups = FAST ? cols / G : 0;
        int full = groups * G, quadRows = rows / 4 * 4;
        // byte 4j + k of a group is value valueOf(j, k): where that value sits in the group's ggml blocks
        int[] from = new int[G];
        for (int j = 0; j < L; j++) {
            for (int k = 0; k < 4; k++) from[4 * j + k] = valueOf(j, k) / 32 * 34 + 2 + valueOf(j, k) % 32;
        }
        for (int r = r0; r < r1; r++) {
            in.read(r, src);
            for (int b = 0; b < nb; b++) sc[b] = (short) ((src[b * 34] & 0xFF) | (src[b * 34 + 1] << 8));
            for (int g = 0; g < groups; g++) {
                int base = g * G, at = g * BPG * 34;
                for (int i = 0; i < G; i++) qs[base + i] = src[at + from[i]];
            }
            for (int c = full; c < cols; c++) qs[c] = value(src, c);
            for (int g = 0; g < groups; g++) {
                MemorySegment.copy(qs, g * G, out, ValueLayout.JAVA_BYTE, byteOf(r, g * G, cols, full, quadRows), G);
            }
            if (full < cols) MemorySegment.copy(qs, full, out, ValueLayout.JAVA_BYTE, byteOf(r, full, cols, full, quadRows), cols - full);
            for (int b = 0; b < nb; b++) out.set(Layouts.I16, (long) rows * cols + scaleIndex(r, b, nb, quadRows) * 2, sc[b]);
        }
    }

    private static byte value(byte[] src, int c) {
        return src[(c / 32) * 34 + 2 + c % 32];
    }
}
