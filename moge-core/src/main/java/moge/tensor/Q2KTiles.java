package moge.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import moge.format.Layouts;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Q2_K weights (ggml: per 256 values sixteen bytes of 4-bit scale and min pairs, 64 bytes of 2-bit codes, fp16 d
 * and dmin; a value is d * sc * q - dmin * m with q in 0..3, one sc and m per 16 values) repacked into tiles of 16
 * rows for {@link Q2KMatrix}'s 16-bit integer kernels, one row per short lane as in {@link Q4_0Matrix}. A short
 * holds eight neighbouring codes, position 8v + f of the block in bits 2f..2f+1, so that a code comes out with a
 * shift and an AND, and a run of eight positions decodes from one short.
 * <p>
 * Tile layout, per block of 32 columns ({@value #BLOCK} bytes): {@value #VECTORS} vectors of 16 shorts, short lane
 * {@link Q4_0Matrix#laneOf}(row) of vector v holding positions 8v..8v+7 of that row (vectors 0 and 1 are the first
 * 16-value group, 2 and 3 the second); then per row (in order) the two groups' scale bytes as in the file (sc in
 * the low nibble, m in the high one) in a little-endian short, the first group's the low byte; after the tile's
 * blocks, per super-block of 256 columns, the 16 rows' d then dmin as in the file (float16). 2.625 bits a
 * weight, as in the file. Whole pairs of tiles are then interleaved ({@link TilePairs}). Rows past the last whole
 * tile keep the file's super-blocks.
 */
final class Q2KTiles {
    static final int SUPER = 256;
    static final int SUPER_BYTES = 84;
    /** Vectors of codes per block, eight codes a short lane. */
    static final int VECTORS = 4;
    static final int BLOCK = 32 * VECTORS + 2 * TileKernels.TR;
    /** Where code f of a short starts, as int lanes: the shifts that spread one short over eight positions. */
    private static final IntVector SHIFTS = IntVector.fromArray(TileKernels.IS, new int[]{0, 2, 4, 6, 8, 10, 12, 14}, 0);

    private Q2KTiles() {
    }

    static Q2KMatrix repack(String name, int rows, int cols, MemorySegment blocks, boolean roundActivations) {
        int nb = cols / 32;
        TilePairs pairs = new TilePairs(rows / TileKernels.TR, nb, VECTORS, nb / 8 * TileKernels.HEAD);
        MemorySegment out = Repacking.tiles(name, "Q2_K", rows, cols, blocks, pairs.tileBytes(), SUPER_BYTES,
                (t, src, srcSeg, tile) -> fill(name, nb, t, src, srcSeg, tile), 80, 82);
        pairs.pairUp(out);
        return new Q2KMatrix(name, rows, cols, out, roundActivations);
    }

    private static void fill(String name, int nb, int t, byte[] src, MemorySegment srcSeg, byte[] tile) {
        int TR = TileKernels.TR, nsb = nb / 8, rowBytes = nsb * SUPER_BYTES;
        for (int row = 0; row < TR; row++) {
            int j = Q4_0Matrix.laneOf(row);
            for (int s = 0; s < nsb; s++) {
                int sb = row * rowBytes + s * SUPER_BYTES, head = nb * BLOCK + s * TileKernels.HEAD;
                Repacking.putShort(tile, head + 2 * row, Repacking.finiteScale(name, "Q2_K", t * TR + row, Repacking.half(src, sb + 80)));
                Repacking.putShort(tile, head + 2 * TR + 2 * row, Repacking.finiteScale(name, "Q2_K", t * TR + row, Repacking.half(src, sb + 82)));
                for (int k = 0; k < 8; k++) {
                    int o = (s * 8 + k) * BLOCK;
                    for (int v = 0; v < VECTORS; v++) {
                        int w = 0;
                        for (int f = 0; f < 8; f++) w |= GgmlQuants.q2kCode(srcSeg, sb, 32 * k + 8 * v + f) << 2 * f;
                        Repacking.putShort(tile, o + 32 * v + 2 * j, (short) w);
                    }
                    tile[o + 32 * VECTORS + 2 * row] = src[sb + 2 * k];
                    tile[o + 32 * VECTORS + 2 * row + 1] = src[sb + 2 * k + 1];
                }
            }
        }
    }

    /**
     * Row m past the last whole tile (the file's super-blocks at {@code at}) against integer activations: per
     * 16-value group the same arithmetic as the tiles, dx * (d * sc * sum(q2 * q) - dmin * m * sum(q)).
     */
    static float plainDot(MemorySegment data, long at, int nsb, Q8Lanes a) {
        float sum = 0;
        for (int s = 0; s < nsb; s++, at += SUPER_BYTES) {
            float d = GgmlQuants.half(data, at + 80), dmin = GgmlQuants.half(data, at + 82);
            for (int g = 0; g < 16; g++) {
                int c0 = s * SUPER + 16 * g, sm = GgmlQuants.u8(data, at + g), dot = 0;
                for (int l = 0; l < 16; l++) dot += GgmlQuants.q2kCode(data, at, 16 * g + l) * a.value(c0 + l);
                sum += a.d[c0 / 32] * (d * (sm & 15) * dot - dmin * (sm >> 4) * a.groups[c0 / 16]);
            }
        }
        return sum;
    }

    /**
     * Blocks [b0, b1) of row {@code row} of a tile (its block b0 at {@code first}, {@code stride} bytes between its
     * vectors, {@code step} between blocks, its super-block heads at {@code heads}) as the file's values, (d * sc) * q - dmin * m
     * as ggml's dequantization rounds them, into dst from {@code out}: each short spread over eight int lanes
     * and shifted lane by lane, one vector store per eight positions.
     */
    static void decodeRow(MemorySegment data, long first, int stride, int step, long heads, int row, int b0, int b1, float[] dst, int out) {
        int TR = TileKernels.TR, j = Q4_0Matrix.laneOf(row);
        long o = first + 2L * j, head = heads + 2L * row;
        for (int b = b0; b < b1; b++, o += step, out += 32) {
            long h = head + (long) (b >> 3) * TileKernels.HEAD, sc = o - 2L * j + (long) VECTORS * stride + 2L * row;
            float d = Float.float16ToFloat(data.get(Layouts.I16, h)), dmin = Float.float16ToFloat(data.get(Layouts.I16, h + 2 * TR));
            for (int g = 0; g < 2; g++) {
                int sm = data.get(ValueLayout.JAVA_BYTE, sc + g) & 0xFF;
                float dl = d * (sm & 15), ml = dmin * (sm >> 4);
                for (int v = 2 * g; v < 2 * g + 2; v++) {
                    int w = data.get(Layouts.I16, o + (long) stride * v) & 0xFFFF;
                    IntVector codes = IntVector.broadcast(TileKernels.IS, w).lanewise(VectorOperators.LSHR, SHIFTS).and(3);
                    ((FloatVector) codes.convertShape(VectorOperators.I2F, TileKernels.FS, 0)).mul(dl).sub(ml).intoArray(dst, out + 8 * v);
                }
            }
        }
    }
}
