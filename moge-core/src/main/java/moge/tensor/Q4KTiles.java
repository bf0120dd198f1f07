package moge.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import moge.format.Layouts;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Q4_K weights repacked into {@link Q4_0Matrix}'s tiles, so that they run through the same 16-bit integer
 * kernels as Q4_0 (read in place, a Q4_K super-block was decoded to float32 first: 8x slower than Q4_0 per
 * token). A Q4_K value is {@code d * sc * code - dmin * m} with a 4-bit code and, per 32 values, 6-bit sc and
 * m; the kernels sum {@code code * q} as for Q4_0, and {@link Q4_0Matrix} applies both terms per block in
 * float: {@code dx * (d * sc * sum(code * q) - dmin * m * sum(q))}, which is the exact dot product of the
 * weights with the integer activations.
 * <p>
 * Tile layout: per block of 32 columns the 256 bytes of codes as Q4_0's tiles hold them, then per row (in
 * order) sc and m in a little-endian short, sc the low byte, where Q4_0 has its scales, so a block is as long as Q4_0's ({@code 16 * TR + 2 * TR}); after the tile's
 * blocks, per super-block of 256 columns, the 16 rows' d then dmin as in the file (float16). 4.625 bits a
 * weight against the file's 4.5. Rows past the last whole tile keep the file's super-blocks.
 */
final class Q4KTiles {
    static final int SUPER = 256;
    static final int SUPER_BYTES = 144;
    /** Per super-block of a tile: 16 d and 16 dmin, float16. */
    static final int HEAD = TileKernels.HEAD;

    private Q4KTiles() {
    }

    static Q4_0Matrix repack(String name, int rows, int cols, MemorySegment blocks, boolean roundActivations) {
        int nb = cols / 32;
        TilePairs pairs = Q4_0Matrix.layout(rows, nb, true);
        MemorySegment out = Repacking.tiles(name, "Q4_K", rows, cols, blocks, pairs.tileBytes(), SUPER_BYTES,
                (t, src, srcSeg, tile) -> fill(name, nb, t, src, srcSeg, tile));
        pairs.pairUp(out);
        return Q4_0Matrix.ofQ4K(name, rows, cols, out, roundActivations);
    }

    private static void fill(String name, int nb, int t, byte[] src, MemorySegment srcSeg, byte[] tile) {
        int TR = Q4_0Matrix.TR, nsb = nb / 8, rowBytes = nsb * SUPER_BYTES, block = Q4_0Matrix.TILE_BLOCK;
        for (int row = 0; row < TR; row++) {
            int j = Q4_0Matrix.laneOf(row);
            for (int s = 0; s < nsb; s++) {
                int sb = row * rowBytes + s * SUPER_BYTES;
                Repacking.finiteScale(name, "Q4_K", t * TR + row, Repacking.half(src, sb));     // d
                Repacking.finiteScale(name, "Q4_K", t * TR + row, Repacking.half(src, sb + 2)); // dmin
                int head = nb * block + s * HEAD;
                copyHalf(src, sb, tile, head + 2 * row);              // d
                copyHalf(src, sb + 2, tile, head + 2 * TR + 2 * row); // dmin
                for (int k = 0; k < 8; k++) {
                    int o = (s * 8 + k) * block;
                    for (int i = 0; i < 8; i++) {
                        int v = 0;
                        for (int c = 0; c < 4; c++) v |= code(src, sb, k, i + 8 * c) << (4 * c);
                        tile[o + 32 * i + 2 * j] = (byte) v;
                        tile[o + 32 * i + 2 * j + 1] = (byte) (v >> 8);
                    }
                    tile[o + 16 * TR + 2 * row] = (byte) GgmlQuants.q4kScale(srcSeg, sb + 4, k);
                    tile[o + 16 * TR + 2 * row + 1] = (byte) GgmlQuants.q4kMin(srcSeg, sb + 4, k);
                }
            }
        }
    }

    /** Code (0..15) of position p (0..31) of sub-block k (0..7) in the super-block at {@code sb}. */
    private static int code(byte[] src, int sb, int k, int p) {
        int q = src[sb + 16 + 32 * (k / 2) + p] & 0xFF;
        return (k & 1) == 0 ? q & 15 : q >> 4;
    }

    private static void copyHalf(byte[] src, int at, byte[] dst, int to) {
        dst[to] = src[at];
        dst[to + 1] = src[at + 1];
    }

    /**
     * Row m past the last whole tile (file layout at {@code at}) against integer activations: per block the
     * same arithmetic as the tiles, dx * (d * sc * sum(code * q) - dmin * m * sum(q)).
     */
    static float plainDot(MemorySegment data, long at, int nsb, Q8Lanes a) {
        return plainDot(data, at, nsb, a, SUPER_BYTES, -1, 16);
    }

    /**
     * As {@link #plainDot(MemorySegment, long, int, Q8Lanes)} for Q4_K ({@code qh < 0}) or Q5_K super-blocks of
     * {@code superBytes}: nibbles at {@code qs} from each super-block's start (sub-block k the low or high
     * nibbles of qs[32 (k / 2) + p]), and for Q5_K bit k of qh[p] as the fifth bit.
     */
    static float plainDot(MemorySegment data, long at, int nsb, Q8Lanes a, int superBytes, int qh, int qs) {
        float sum = 0;
        for (int s = 0; s < nsb; s++, at += superBytes) {
            float d = GgmlQuants.half(data, at), dmin = GgmlQuants.half(data, at + 2);
            for (int k = 0; k < 8; k++) {
                int b = s * 8 + k, sc = GgmlQuants.q4kScale(data, at + 4, k), mn = GgmlQuants.q4kMin(data, at + 4, k);
                int dot = 0, qsum = 0;
                for (int p = 0; p < 32; p++) {
                    int q = (GgmlQuants.u8(data, at + qs + 32L * (k / 2) + p) >> (4 * (k & 1))) & 15;
                    if (qh >= 0) q |= ((GgmlQuants.u8(data, at + qh + p) >> k) & 1) << 4;
                    int x = a.value(b * 32 + p);
                    dot += q * x;
                    qsum += x;
                }
                sum += a.d[b] * (d * sc * dot - dmin * mn * qsum);
            }
        }
        return sum;
    }

    /**
     * Blocks [b0, b1) of row {@code row} of a tile (its block b0 at {@code first}, {@code stride} bytes between its
     * vectors, {@code step} between blocks, its super-block heads at {@code heads}) as the file's values, d * sc * code - dmin * m
     * rounded as ggml's dequantization rounds them, into dst from {@code out}.
     */
    static void decodeRow(MemorySegment data, long first, int stride, int step, long heads, int row, int b0, int b1, float[] dst, int out, int[] packed) {
        int TR = Q4_0Matrix.TR, j = Q4_0Matrix.laneOf(row);
        long o = first + 2L * j, head = heads + 2L * row;
        for (int b = b0; b < b1; b++, o += step, out += 32) {
            // the row's 8 shorts, one per int lane: nibble k of lane i is position i + 8k
            for (int s = 0; s < 8; s++) packed[s] = data.get(Layouts.I16, o + (long) stride * s);
            IntVector v = IntVector.fromArray(IS, packed, 0);
            long h = head + (long) (b >> 3) * HEAD, sc = o - 2L * j + 8L * stride + 2L * row;
            float d1 = Float.float16ToFloat(data.get(Layouts.I16, h)) * data.get(ValueLayout.JAVA_BYTE, sc);
            float m1 = Float.float16ToFloat(data.get(Layouts.I16, h + 2 * TR)) * data.get(ValueLayout.JAVA_BYTE, sc + 1);
            for (int k = 0; k < 4; k++) {
                ((FloatVector) v.lanewise(VectorOperators.LSHR, 4 * k).and(15).convertShape(VectorOperators.I2F, FS, 0))
                        .mul(d1).sub(m1).intoArray(dst, out + 8 * k);
            }
        }
    }

    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_256;
    private static final VectorSpecies<Integer> IS = IntVector.SPECIES_256;
}
