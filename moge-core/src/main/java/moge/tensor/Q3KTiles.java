package moge.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import moge.format.Layouts;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Q3_K weights (ggml: per 256 values 32 bytes of third bits, 64 of 2-bit low parts, sixteen 6-bit scales in 12
 * bytes, fp16 d; a value is d * (sc - 32) * q with q in -4..3, one sc per 16 values) repacked into tiles of 16 rows
 * for {@link Q3KMatrix}'s 16-bit integer kernels, one row per short lane as in {@link Q4_0Matrix}. A short holds
 * five codes as signed 3-bit fields (bits 0-2, 3-5, 6-8, 9-11 and 13-15; bit 12 clear), so a code comes out with
 * a shift pair, or one arithmetic shift for the top field, already signed: no offset to take off afterwards, and
 * the products then need only 4 * sum|q| to fit a short, a grid four times finer than Q5_K's.
 * <p>
 * Tile layout, per block of 32 columns ({@value #BLOCK} bytes): {@value #VECTORS} vectors of 16 shorts, short lane
 * {@link Q4_0Matrix#laneOf}(row) of vector v holding positions v, v + 7, v + 14, v + 21 and v + 28 of that row
 * (slots past position 31 hold a code 0, which meets the integers after the block and adds nothing); then per
 * row (in order) the two 16-value groups' sc - 32 as signed bytes in a little-endian short, the first group's
 * the low byte; after the tile's blocks,
 * per super-block of 256 columns, the 16 rows' d as in the file (float16). 4.0625 bits a weight against the
 * file's 3.44 (the float runs this replaces read 10). Whole pairs of tiles are then interleaved ({@link TilePairs}).
 * Rows past the last whole tile keep the file's super-blocks.
 */
final class Q3KTiles {
    static final int SUPER = 256;
    static final int SUPER_BYTES = 110;
    /** Vectors of codes per block, five codes a short lane. */
    static final int VECTORS = 7;
    static final int BLOCK = 32 * VECTORS + 2 * TileKernels.TR;
    /** Per super-block of a tile: the 16 rows' d, float16. */
    static final int HEAD = 2 * TileKernels.TR;
    /** Where field k (0..4) of a short starts. */
    static final int[] SHIFT = {0, 3, 6, 9, 13};
    /** Field 2 holds positions 14..20: lanes 0 and 1 are the first group's. */
    private static final VectorMask<Float> FIRST_TWO = VectorMask.fromLong(TileKernels.FS, 0b11);

    private Q3KTiles() {
    }

    static Q3KMatrix repack(String name, int rows, int cols, MemorySegment blocks, boolean roundActivations) {
        int nb = cols / 32;
        TilePairs pairs = new TilePairs(rows / TileKernels.TR, nb, VECTORS, nb / 8 * HEAD);
        MemorySegment out = Repacking.tiles(name, "Q3_K", rows, cols, blocks, pairs.tileBytes(), SUPER_BYTES,
                (t, src, srcSeg, tile) -> fill(name, nb, t, src, srcSeg, tile), 108);
        pairs.pairUp(out);
        return new Q3KMatrix(name, rows, cols, out, roundActivations);
    }

    private static void fill(String name, int nb, int t, byte[] src, MemorySegment srcSeg, byte[] tile) {
        int TR = TileKernels.TR, nsb = nb / 8, rowBytes = nsb * SUPER_BYTES;
        for (int row = 0; row < TR; row++) {
            int j = Q4_0Matrix.laneOf(row);
            for (int s = 0; s < nsb; s++) {
                int sb = row * rowBytes + s * SUPER_BYTES;
                short d = Repacking.finiteScale(name, "Q3_K", t * TR + row, Repacking.half(src, sb + 108));
                Repacking.putShort(tile, nb * BLOCK + s * HEAD + 2 * row, d);
                for (int k = 0; k < 8; k++) {
                    int o = (s * 8 + k) * BLOCK;
                    for (int v = 0; v < VECTORS; v++) {
                        int w = 0;
                        for (int f = 0; f < 5; f++) {
                            int p = v + 7 * f;
                            if (p < 32) w |= (GgmlQuants.q3kCode(srcSeg, sb, 32 * k + p) & 7) << SHIFT[f];
                        }
                        Repacking.putShort(tile, o + 32 * v + 2 * j, (short) w);
                    }
                    tile[o + 32 * VECTORS + 2 * row] = (byte) (GgmlQuants.q3kScale(srcSeg, sb + 96, 2 * k) - 32);
                    tile[o + 32 * VECTORS + 2 * row + 1] = (byte) (GgmlQuants.q3kScale(srcSeg, sb + 96, 2 * k + 1) - 32);
                }
            }
        }
    }

    /**
     * Row m past the last whole tile (the file's super-blocks at {@code at}) against integer activations: per
     * 16-value group the same arithmetic as the tiles, dx * d * (sc - 32) * sum(q3 * q).
     */
    static float plainDot(MemorySegment data, long at, int nsb, Q8Lanes a) {
        float sum = 0;
        for (int s = 0; s < nsb; s++, at += SUPER_BYTES) {
            float d = GgmlQuants.half(data, at + 108);
            for (int g = 0; g < 16; g++) {
                int c0 = s * SUPER + 16 * g, dot = 0;
                for (int l = 0; l < 16; l++) dot += GgmlQuants.q3kCode(data, at, 16 * g + l) * a.value(c0 + l);
                sum += a.d[c0 / 32] * (d * (GgmlQuants.q3kScale(data, at + 96, g) - 32) * dot);
            }
        }
        return sum;
    }

    /**
     * Blocks [b0, b1) of row {@code row} of a tile (its block b0 at {@code at}, {@code stride} bytes between its
     * vectors, {@code step} between blocks, its super-block heads at {@code heads}) as the file's values, (d * (sc - 32)) * q as
     * ggml's dequantization rounds them, into dst from {@code out}. The GEMM decodes every weight this way, so the
     * codes go through vectors: field k of shorts 0..6 is positions 7k..7k+6, one run of the output written 8
     * lanes wide (the eighth lands on the position the next field writes after it); the last field's four codes
     * are written one by one. {@code packed} holds 8 ints.
     */
    static void decodeRow(MemorySegment data, long at, int stride, int step, long heads, int row, int b0, int b1,
                          float[] dst, int out, int[] packed) {
        int j = Q4_0Matrix.laneOf(row);
        long o = at + 2L * j, head = heads + 2L * row;
        for (int b = b0; b < b1; b++, o += step, out += 32) {
            long sc = o - 2L * j + (long) VECTORS * stride + 2L * row;
            float d = Float.float16ToFloat(data.get(Layouts.I16, head + (long) (b >> 3) * HEAD));
            float d0 = d * data.get(ValueLayout.JAVA_BYTE, sc), d1 = d * data.get(ValueLayout.JAVA_BYTE, sc + 1);
            for (int v = 0; v < VECTORS; v++) packed[v] = data.get(Layouts.I16, o + (long) stride * v); // sign-extended
            IntVector w = IntVector.fromArray(TileKernels.IS, packed, 0);
            FloatVector first = FloatVector.broadcast(TileKernels.FS, d0), second = FloatVector.broadcast(TileKernels.FS, d1);
            codes(w, 0).mul(first).intoArray(dst, out);
            codes(w, 1).mul(first).intoArray(dst, out + 7);
            codes(w, 2).mul(second.blend(first, FIRST_TWO)).intoArray(dst, out + 14);
            codes(w, 3).mul(second).intoArray(dst, out + 21);
            for (int v = 0; v < 4; v++) dst[out + 28 + v] = d1 * (packed[v] >> 13);
        }
    }

    /** Field k (0..3) of each int lane, signed, as floats. */
    private static FloatVector codes(IntVector w, int k) {
        return TileKernels.toFloat(w.lanewise(VectorOperators.LSHL, 29 - SHIFT[k]).lanewise(VectorOperators.ASHR, 29));
    }
}
