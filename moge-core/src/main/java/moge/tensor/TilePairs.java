package moge.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static moge.tensor.TileKernels.TR;

/**
 * Where the bytes of a 16-bit integer tile matrix lie ({@link Q4_0Matrix} for Q4_0 and Q4_K, {@link KQuantTileMatrix}
 * for Q5_K, Q3_K and Q2_K). A tile is written as a run of blocks (per block of 32 columns {@code vectors} vectors of
 * {@link TileKernels#TR} shorts, then 2 * TR bytes of scales), then, for the K-quants, its super-block heads. Whole
 * pairs of tiles are then interleaved ({@link #pairUp}): per block, vector i of tile 2m and vector i of tile 2m + 1
 * side by side, then the two tiles' scales (Q4_0 reorders them by halves of rows, {@link Q4_0Tiles}); after the
 * pair's blocks, tile 2m's heads then tile 2m + 1's. A last odd
 * tile keeps the single layout. With 512-bit vectors one load brings both tiles' codes, half the instructions per
 * cache line of two 16-lane streams (BENCHMARKS.md section 2).
 */
final class TilePairs {
    private final int tiles;
    private final int nb;
    private final int vectors;
    /** Bytes of one block of one tile: its vectors, then its scales. */
    private final int block;
    /** Bytes of one tile's super-block heads (0 for Q4_0). */
    private final int heads;
    private final long tileBytes;

    TilePairs(int tiles, int nb, int vectors, int heads) {
        this.tiles = tiles;
        this.nb = nb;
        this.vectors = vectors;
        this.block = 2 * TR * (vectors + 1);
        this.heads = heads;
        this.tileBytes = (long) nb * block + heads;
    }

    /** Bytes of one tile (a pair is two of them). */
    long tileBytes() {
        return tileBytes;
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
     * {@link #scalesAt}; the next block {@code step(t)} bytes on.
     */
    long blockAt(int t, int b) {
        if (!paired(t)) return t * tileBytes + (long) b * block;
        return (t & ~1) * tileBytes + (long) b * 2 * block + (t & 1) * 2L * TR;
    }

    /** Byte of tile t's scales in block b (2 * TR bytes, two per row in order). */
    long scalesAt(int t, int b) {
        return blockAt(t, b) + (long) vectors * stride(t);
    }

    /** Bytes from one vector of tile t's codes to the next. */
    int stride(int t) {
        return paired(t) ? 4 * TR : 2 * TR;
    }

    /** Bytes from one block of tile t to the next. */
    int step(int t) {
        return paired(t) ? 2 * block : block;
    }

    /** Byte of a K-quant tile's super-block heads. */
    long headsAt(int t) {
        if (!paired(t)) return t * tileBytes + (long) nb * block;
        return (t & ~1) * tileBytes + (long) nb * 2 * block + (t & 1) * (long) heads;
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
                        int src = from + b * block;
                        for (int i = 0; i <= vectors; i++) { // the last run is the scales
                            MemorySegment.copy(two, src + 2 * TR * i, out, ValueLayout.JAVA_BYTE, at + 4L * TR * i, 2 * TR);
                        }
                    }
                    if (heads > 0) MemorySegment.copy(two, from + nb * block, out, ValueLayout.JAVA_BYTE, headsAt(t), heads);
                }
            }
        });
    }
}
