package moge.tensor;

import static moge.tensor.Q4_0Matrix.TILE_BLOCK;
import static moge.tensor.Q4_0Matrix.TR;

import moge.format.HugePages;
import moge.format.Layouts;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Where the bytes of {@link Q4_0Matrix}'s tiles lie, and Q4_0's repacking into them (Q4_K's is {@link Q4KTiles}).
 * A tile is written as a run of blocks (per block 8 vectors of {@link Q4_0Matrix#TR} shorts, then 2 * TR bytes
 * of scales; for Q4_K, after the blocks, the super-block heads). Whole pairs of tiles are then interleaved
 * ({@link #pairUp}): per block, vector i of tile 2m and vector i of tile 2m + 1 side by side, then the two
 * tiles' scales; for Q4_K, after the pair's blocks, tile 2m's heads then tile 2m + 1's. A last odd tile keeps
 * the single layout. With 512-bit vectors one load brings both tiles' codes (BENCHMARKS.md section 2).
 */
final class Q4_0Tiles {
    private final int tiles;
    private final int nb;
    private final long tileBytes;
    /** Bytes of one tile's super-block heads: 0 for Q4_0. */
    private final int heads;

    Q4_0Tiles(int tiles, int nb, boolean kquant) {
        this.tiles = tiles;
        this.nb = nb;
        this.tileBytes = Q4_0Matrix.tileBytes(nb, kquant);
        this.heads = kquant ? nb / 8 * Q4KTiles.HEAD : 0;
    }

    /** Whether tile t is stored in a pair with its neighbour (every whole pair of tiles). */
    boolean paired(int t) {
        return (t | 1) < tiles;
    }

    /** Whether a pass over two tiles may start at tile t: a pair's first, or a tile outside pairs. */
    boolean pairStarts(int t) {
        return !paired(t) || (t & 1) == 0;
    }

    /**
     * Byte of tile t's block b: its vector i of codes at {@code + i * stride(t)}, its scales at
     * {@code + 8 * stride(t)}; the next block {@code step(t)} bytes on.
     */
    long blockAt(int t, int b) {
        if (!paired(t)) return t * tileBytes + (long) b * TILE_BLOCK;
        return (t & ~1) * tileBytes + (long) b * 2 * TILE_BLOCK + (t & 1) * 2L * TR;
    }

    /** Bytes from one vector of tile t's codes to the next. */
    int stride(int t) {
        return paired(t) ? 4 * TR : 2 * TR;
    }

    /** Bytes from one block of tile t to the next. */
    int step(int t) {
        return paired(t) ? 2 * TILE_BLOCK : TILE_BLOCK;
    }

    /** Byte of a Q4_K tile's super-block heads ({@link Q4KTiles}). */
    long headsAt(int t) {
        if (!paired(t)) return t * tileBytes + (long) nb * TILE_BLOCK;
        return (t & ~1) * tileBytes + (long) nb * 2 * TILE_BLOCK + (t & 1) * (long) heads;
    }

    /** Rearranges tiles written one after the other into pairs, as {@link #blockAt} and {@link #headsAt} read them. */
    void pairUp(MemorySegment out) {
        Repacking.forRuns(tiles / 2, 1, (p0, p1) -> {
            byte[] two = new byte[(int) (2 * tileBytes)];
            for (int p = p0; p < p1; p++) {
                MemorySegment.copy(out, ValueLayout.JAVA_BYTE, 2 * p * tileBytes, two, 0, two.length);
                for (int u = 0; u < 2; u++) {
                    int t = 2 * p + u, from = (int) (u * tileBytes);
                    for (int b = 0; b < nb; b++) {
                        long at = blockAt(t, b);
                        int src = from + b * TILE_BLOCK;
                        for (int i = 0; i < 8; i++) MemorySegment.copy(two, src + 2 * TR * i, out, ValueLayout.JAVA_BYTE, at + 4L * TR * i, 2 * TR);
                        MemorySegment.copy(two, src + 16 * TR, out, ValueLayout.JAVA_BYTE, at + 32L * TR, 2 * TR);
                    }
                    if (heads > 0) MemorySegment.copy(two, from + nb * TILE_BLOCK, out, ValueLayout.JAVA_BYTE, headsAt(t), heads);
                }
            }
        });
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
        new Q4_0Tiles(tiles, nb, false).pairUp(out);
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
