package moge.tensor;

import static moge.tensor.Q4_0Matrix.TILE_BLOCK;
import static moge.tensor.Q4_0Matrix.TR;

import moge.format.HugePages;
import moge.format.Layouts;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Q4_0's repacking into {@link Q4_0Matrix}'s tiles (Q4_K's is {@link Q4KTiles}): each tile written as one run of
 * blocks, then whole pairs interleaved by {@link TilePairs}.
 */
final class Q4_0Tiles {
    private Q4_0Tiles() {
    }

    /**
     * Q4_0 blocks as ggml writes them into tiles, then pairs; rows past the last whole tile keep ggml's nibble
     * order (16 bytes per block) with their scales after them. Tiles are independent, so runs of them go to
     * every core (as {@link Q8_0Matrix#repack}).
     */
    static MemorySegment repack(String name, int rows, int cols, MemorySegment blocks) {
        int nb = cols / 32, tiles = rows / TR;
        MemorySegment out = HugePages.allocate((long) rows * nb * 18);
        Repacking.forRuns(tiles, 1, (t0, t1) -> repackTiles(name, nb, blocks, out, t0, t1));
        TilePairs layout = Q4_0Matrix.layout(rows, nb, false);
        layout.pairUp(out);
        halvesFirst(layout, tiles, nb, out);
        int left = rows - tiles * TR;
        long plain = tiles * (long) nb * TILE_BLOCK, plainScales = plain + (long) left * nb * 16;
        byte[] one = new byte[nb * 18];
        for (int m = 0; m < left; m++) {
            MemorySegment.copy(blocks, ValueLayout.JAVA_BYTE, (long) (tiles * TR + m) * nb * 18, one, 0, one.length);
            for (int b = 0; b < nb; b++) {
                MemorySegment.copy(one, b * 18 + 2, out, ValueLayout.JAVA_BYTE, plain + ((long) m * nb + b) * 16, 16);
                out.set(Layouts.I16, plainScales + ((long) m * nb + b) * 2, scale(name, one, b * 18, tiles * TR + m));
            }
        }
        return out;
    }

    /** Tiles [t0, t1), each as one run of blocks: short lane laneOf(row) of vector i holds that row's codes at i, i+8, i+16, i+24. */
    private static void repackTiles(String name, int nb, MemorySegment blocks, MemorySegment out, int t0, int t1) {
        long tileBytes = (long) nb * TILE_BLOCK;
        byte[] src = new byte[TR * nb * 18];
        byte[] tile = new byte[(int) tileBytes];
        for (int t = t0; t < t1; t++) {
            MemorySegment.copy(blocks, ValueLayout.JAVA_BYTE, (long) t * TR * nb * 18, src, 0, src.length);
            for (int b = 0; b < nb; b++) {
                int o = b * TILE_BLOCK;
                for (int row = 0; row < TR; row++) {
                    int j = Q4_0Matrix.laneOf(row), blk = (row * nb + b) * 18;
                    for (int i = 0; i < 8; i++) {
                        int s = 0;
                        for (int k = 0; k < 4; k++) s |= code(src, blk, i + 8 * k) << (4 * k);
                        tile[o + 32 * i + 2 * j] = (byte) s;
                        tile[o + 32 * i + 2 * j + 1] = (byte) (s >> 8);
                    }
                    short h = scale(name, src, blk, t * TR + row);
                    tile[o + 16 * TR + 2 * row] = (byte) h;
                    tile[o + 16 * TR + 2 * row + 1] = (byte) (h >> 8);
                }
            }
            MemorySegment.copy(tile, 0, out, ValueLayout.JAVA_BYTE, t * tileBytes, tile.length);
        }
    }

    /**
     * In every stored pair's blocks, the scales as both tiles' rows 0..7 then both tiles' rows 8..15 (pairUp left
     * tile 2m's 16 then tile 2m + 1's): the order {@link Q4_0Matrix#finish} reads a pair's block sums in.
     */
    private static void halvesFirst(TilePairs layout, int tiles, int nb, MemorySegment out) {
        Repacking.forRuns(tiles / 2, 1, (p0, p1) -> {
            byte[] run = new byte[4 * TR];
            for (int p = p0; p < p1; p++) {
                for (int b = 0; b < nb; b++) {
                    long at = layout.scalesAt(2 * p, b);
                    MemorySegment.copy(out, ValueLayout.JAVA_BYTE, at, run, 0, run.length);
                    MemorySegment.copy(run, 2 * TR, out, ValueLayout.JAVA_BYTE, at + TR, TR); // tile 2m + 1's rows 0..7
                    MemorySegment.copy(run, TR, out, ValueLayout.JAVA_BYTE, at + 2 * TR, TR); // tile 2m's rows 8..15
                }
            }
        });
    }

    /** The code (value + 8) at position p of the ggml block at byte {@code blk}. */
    private static int code(byte[] src, int blk, int p) {
        int q = src[blk + 2 + (p & 15)] & 0xFF;
        return p < 16 ? q & 15 : q >> 4;
    }

    /** The float16 scale of the ggml block at byte {@code blk} ({@link TileKernels#widen} keeps finite ones only). */
    private static short scale(String name, byte[] src, int blk, int row) {
        return Repacking.finiteScale(name, "Q4_0", row, Repacking.half(src, blk));
    }
}
