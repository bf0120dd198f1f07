package moge.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import moge.format.Layouts;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Q5_K weights (ggml: per 256 values fp16 d and dmin, Q4_K's twelve bytes of 6-bit scales and mins, 32 bytes of
 * fifth bits, 128 of nibbles) repacked into tiles of 16 rows for {@link Q5KMatrix}'s 16-bit integer kernels, one
 * row per short lane as in {@link Q4_0Matrix}. A short holds three 5-bit codes (bits 0-4, 5-9, 10-14; bit 15
 * clear), so taking one out costs an AND, a shift and an AND, or a shift alone: per code about what Q4_K's
 * nibbles cost, for 11 vectors of codes per block of 32 columns against Q4_K's 8.
 * <p>
 * Tile layout, per block of 32 columns ({@value #BLOCK} bytes): {@value #VECTORS} vectors of 16 shorts, short lane
 * {@link Q4_0Matrix#laneOf}(row) of vector v holding the codes of positions v, v + 11 and v + 22 of that row (the
 * 33rd slot, position 32, is a code 0: it meets whatever integer follows the block and adds nothing); then per
 * row (in order) sc and m in a little-endian short, sc the low byte; after the tile's blocks, per super-block of
 * 256 columns, the 16 rows' d then dmin as in the file (float16). 6.125 bits a weight against the file's 5.5
 * (the float runs this replaces read 10). Whole pairs of tiles are then interleaved ({@link TilePairs}). Rows past
 * the last whole tile keep the file's super-blocks.
 */
final class Q5KTiles {
    static final int SUPER = 256;
    static final int SUPER_BYTES = 176;
    /** Vectors of codes per block, three codes a short lane. */
    static final int VECTORS = 11;
    static final int BLOCK = 32 * VECTORS + 2 * TileKernels.TR;

    private Q5KTiles() {
    }

    static Q5KMatrix repack(String name, int rows, int cols, MemorySegment blocks, boolean roundActivations) {
        int nb = cols / 32;
        TilePairs pairs = new TilePairs(rows / TileKernels.TR, nb, VECTORS, nb / 8 * TileKernels.HEAD);
        MemorySegment out = Repacking.tiles(name, "Q5_K", rows, cols, blocks, pairs.tileBytes(), SUPER_BYTES,
                (t, src, srcSeg, tile) -> fill(name, nb, t, src, srcSeg, tile));
        pairs.pairUp(out);
        return new Q5KMatrix(name, rows, cols, out, roundActivations);
    }

    private static void fill(String name, int nb, int t, byte[] src, MemorySegment srcSeg, byte[] tile) {
        int TR = TileKernels.TR, nsb = nb / 8, rowBytes = nsb * SUPER_BYTES;
        int[] codes = new int[33];
        for (int row = 0; row < TR; row++) {
            int j = Q4_0Matrix.laneOf(row);
            for (int s = 0; s < nsb; s++) {
                int sb = row * rowBytes + s * SUPER_BYTES;
                short d = Repacking.finiteScale(name, "Q5_K", t * TR + row, Repacking.half(src, sb));
                short dmin = Repacking.finiteScale(name, "Q5_K", t * TR + row, Repacking.half(src, sb + 2));
                int head = nb * BLOCK + s * TileKernels.HEAD;
                Repacking.putShort(tile, head + 2 * row, d);
                Repacking.putShort(tile, head + 2 * TR + 2 * row, dmin);
                for (int k = 0; k < 8; k++) {
                    int o = (s * 8 + k) * BLOCK;
                    for (int p = 0; p < 32; p++) codes[p] = code(src, sb, k, p);
                    for (int v = 0; v < VECTORS; v++) {
                        Repacking.putShort(tile, o + 32 * v + 2 * j, (short) (codes[v] | codes[v + 11] << 5 | codes[v + 22] << 10));
                    }
                    tile[o + 32 * VECTORS + 2 * row] = (byte) GgmlQuants.q4kScale(srcSeg, sb + 4, k);
                    tile[o + 32 * VECTORS + 2 * row + 1] = (byte) GgmlQuants.q4kMin(srcSeg, sb + 4, k);
                }
            }
        }
    }

    /**
     * Code (0..31) of position p (0..31) of sub-block k (0..7) in the super-block at {@code sb}, as ggml's
     * dequantize_row_q5_K reads it: the low (k even) or high nibble of qs[32 (k / 2) + p], bit k of qh[p] on top.
     */
    private static int code(byte[] src, int sb, int k, int p) {
        int lo = (src[sb + 48 + 32 * (k / 2) + p] >> (4 * (k & 1))) & 15;
        return lo | ((src[sb + 16 + p] >> k) & 1) << 4;
    }

    /**
     * Blocks [b0, b1) of row {@code row} of a tile (its block b0 at {@code first}, {@code stride} bytes between its
     * vectors, {@code step} between blocks, its super-block heads at {@code heads}, as {@link TilePairs} places
     * them) as the file's values, d * sc * code - dmin * m rounded as ggml's dequantization rounds them, into dst
     * from {@code out}. The GEMM decodes every weight this way, so the codes go through vectors: field k of shorts
     * 0..10 is positions 11k..11k+10, one run of the output, lanes 0..7 then 8..10 (the first two fields' second
     * stores run over positions the next field writes after them; the last field's three are written one by one,
     * the third being the 33rd slot). {@code packed} holds 16 ints.
     */
    static void decodeRow(MemorySegment data, long first, int stride, int step, long heads, int row, int b0, int b1,
                          float[] dst, int out, int[] packed) {
        int TR = TileKernels.TR, j = Q4_0Matrix.laneOf(row);
        long o = first + 2L * j, head = heads + 2L * row;
        for (int b = b0; b < b1; b++, o += step, out += 32) {
            long h = head + (long) (b >> 3) * TileKernels.HEAD, sc = o - 2L * j + (long) VECTORS * stride + 2L * row;
            float d1 = Float.float16ToFloat(data.get(Layouts.I16, h)) * data.get(ValueLayout.JAVA_BYTE, sc);
            float m1 = Float.float16ToFloat(data.get(Layouts.I16, h + 2 * TR)) * data.get(ValueLayout.JAVA_BYTE, sc + 1);
            for (int v = 0; v < VECTORS; v++) packed[v] = data.get(Layouts.I16, o + (long) stride * v);
            IntVector lo = IntVector.fromArray(TileKernels.IS, packed, 0), hi = IntVector.fromArray(TileKernels.IS, packed, 8);
            for (int k = 0; k < 3; k++) {
                values(lo, 5 * k, d1, m1).intoArray(dst, out + 11 * k);
                if (k < 2) values(hi, 5 * k, d1, m1).intoArray(dst, out + 11 * k + 8);
            }
            dst[out + 30] = d1 * ((packed[8] >> 10) & 31) - m1;
            dst[out + 31] = d1 * ((packed[9] >> 10) & 31) - m1;
        }
    }

    private static FloatVector values(IntVector w, int shift, float d1, float m1) {
        return TileKernels.toFloat(w.lanewise(VectorOperators.LSHR, shift).and(31)).mul(d1).sub(m1);
    }
}
