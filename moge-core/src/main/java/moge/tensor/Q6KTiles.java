package moge.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import moge.format.Layouts;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Q6_K weights (ggml: per 256 values 128 bytes of low nibbles, 64 of 2-bit high parts, sixteen int8 scales, fp16 d;
 * a value is d * sc * (q - 32) with q in 0..63, one sc per 16 values) repacked into tiles of 16 rows for
 * {@link Q6KTileMatrix}'s 16-bit integer kernels, one row per short lane as in {@link Q4_0Matrix}. A short holds two
 * codes q - 32 as signed bytes, so a code comes out with a shift pair (low byte) or one arithmetic shift (high byte).
 * <p>
 * Tile layout, per block of 32 columns ({@value #BLOCK} bytes): {@value #VECTORS} vectors of 16 shorts, short lane
 * {@link Q4_0Matrix#laneOf}(row) of vector v holding position v of that row in its low byte and position v + 16 in
 * its high byte; then per row (in order) the two 16-value groups' sc as signed bytes in a little-endian short, the
 * first group's the low byte; after the tile's blocks, per super-block of 256 columns, the 16 rows' d as in the
 * file (float16). 8.56 bits a weight against the file's 6.56 (the float runs this replaces read 10). Whole pairs of
 * tiles are then interleaved ({@link TilePairs}). Rows past the last whole tile keep the file's super-blocks.
 */
final class Q6KTiles {
    static final int SUPER = 256;
    static final int SUPER_BYTES = 210;
    /** Vectors of codes per block, two codes a short lane. */
    static final int VECTORS = 16;
    static final int BLOCK = 32 * VECTORS + 2 * TileKernels.TR;
    /** Per super-block of a tile: the 16 rows' d, float16. */
    static final int HEAD = 2 * TileKernels.TR;
    /** Where a super-block's d lies. */
    private static final int D = 208;

    private Q6KTiles() {
    }

    static Q6KTileMatrix repack(String name, int rows, int cols, MemorySegment blocks, boolean roundActivations) {
        int nb = cols / 32;
        TilePairs pairs = new TilePairs(rows / TileKernels.TR, nb, VECTORS, nb / 8 * HEAD);
        MemorySegment out = Repacking.tiles(name, "Q6_K", rows, cols, blocks, pairs.tileBytes(), SUPER_BYTES,
                (t, src, srcSeg, tile) -> fill(name, nb, t, src, srcSeg, tile), D);
        pairs.pairUp(out);
        return new Q6KTileMatrix(name, rows, cols, out, roundActivations);
    }

    private static void fill(String name, int nb, int t, byte[] src, MemorySegment srcSeg, byte[] tile) {
        int TR = TileKernels.TR, nsb = nb / 8, rowBytes = nsb * SUPER_BYTES;
        for (int row = 0; row < TR; row++) {
            int j = Q4_0Matrix.laneOf(row);
            for (int s = 0; s < nsb; s++) {
                int sb = row * rowBytes + s * SUPER_BYTES;
                short d = Repacking.finiteScale(name, "Q6_K", t * TR + row, Repacking.half(src, sb + D));
                Repacking.putShort(tile, nb * BLOCK + s * HEAD + 2 * row, d);
                for (int k = 0; k < 8; k++) {
                    int o = (s * 8 + k) * BLOCK;
                    for (int v = 0; v < VECTORS; v++) {
                        int lo = code(srcSeg, sb, 32 * k + v) - 32, hi = code(srcSeg, sb, 32 * k + 16 + v) - 32;
                        Repacking.putShort(tile, o + 32 * v + 2 * j, (short) ((lo & 0xFF) | hi << 8));
                    }
                    tile[o + 32 * VECTORS + 2 * row] = src[sb + 192 + 2 * k];
                    tile[o + 32 * VECTORS + 2 * row + 1] = src[sb + 192 + 2 * k + 1];
                }
            }
        }
    }

    /**
     * Code (0..63) of position pos (0..255) of the super-block at p, as ggml's dequantize_row_q6_K reads it: in
     * each half of 128 values, quarter m takes the low (m < 2) or high nibble of ql[l + 32 (m & 1)] and bits 2m, 2m + 1
     * of qh[l] on top.
     */
    static int code(MemorySegment s, long p, int pos) {
        int h = pos >> 7, m = (pos >> 5) & 3, l = pos & 31;
        int lo = GgmlQuants.u8(s, p + 64L * h + l + 32 * (m & 1));
        int hb = (GgmlQuants.u8(s, p + 128 + 32L * h + l) >> 2 * m) & 3;
        return (m < 2 ? lo & 15 : lo >> 4) | hb << 4;
    }

    /**
     * Row m past the last whole tile (the file's super-blocks at {@code at}) against integer activations, the tiles'
     * arithmetic: per block the integer sum over its two groups of sc * sum((q - 32) * x), times the activations'
     * scale, and per super-block times d.
     */
    static float plainDot(MemorySegment data, long at, int nsb, Q8Lanes a) {
        float acc = 0;
        for (int s = 0; s < nsb; s++, at += SUPER_BYTES) {
            float inner = 0;
            for (int k = 0; k < 8; k++) {
                int b = 8 * s + k, dot = 0;
                for (int g = 0; g < 2; g++) {
                    int sum = 0;
                    for (int l = 0; l < 16; l++) sum += (code(data, at, 32 * k + 16 * g + l) - 32) * a.value(32 * b + 16 * g + l);
                    dot += sum * data.get(ValueLayout.JAVA_BYTE, at + 192 + 2 * k + g);
                }
                inner = Math.fma((float) dot, a.d[b], inner);
            }
            acc = Math.fma(inner, GgmlQuants.half(data, at + D), acc);
        }
        return acc;
    }

    /**
     * Blocks [b0, b1) of row {@code row} of a tile (its block b0 at {@code at}, {@code stride} bytes between its
     * vectors, {@code step} between blocks, its super-block heads at {@code heads}) as the file's values,
     * (d * sc) * (q - 32) as ggml's dequantization rounds them, into dst from {@code out}. The GEMM decodes every
     * weight this way: the row's 16 shorts of a block, sign-extended into ints, give positions 0..15 from their low
     * bytes and 16..31 from their high ones. {@code packed} holds 16 ints.
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
            IntVector w0 = IntVector.fromArray(TileKernels.IS, packed, 0), w1 = IntVector.fromArray(TileKernels.IS, packed, 8);
            FloatVector first = FloatVector.broadcast(TileKernels.FS, d0), second = FloatVector.broadcast(TileKernels.FS, d1);
            low(w0).mul(first).intoArray(dst, out);
            low(w1).mul(first).intoArray(dst, out + 8);
            high(w0).mul(second).intoArray(dst, out + 16);
            high(w1).mul(second).intoArray(dst, out + 24);
        }
    }

    private static FloatVector low(IntVector w) {
        return TileKernels.toFloat(w.lanewise(VectorOperators.LSHL, 24).lanewise(VectorOperators.ASHR, 24));
    }

    private static FloatVector high(IntVector w) {
        return TileKernels.toFloat(w.lanewise(VectorOperators.ASHR, 8));
    }
}
