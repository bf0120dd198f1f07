package moge.tensor;

import moge.format.DType;

import java.lang.foreign.MemorySegment;

import static moge.tensor.TileKernels.TR;

/**
 * What Q6_K's, Q5_K's, Q3_K's and Q2_K's tiled matrices ({@link Q6KTileMatrix}, {@link Q5KMatrix}, {@link Q3KMatrix},
 * {@link Q2KMatrix}) share:
 * whole tiles of 16 rows, stored in pairs as Q4_0's are ({@link TilePairs}: with 512-bit vectors one load brings
 * 32 rows' codes), and after them the rows left over in the file's super-blocks; one token through {@link TileKernels#matmulOne} on an
 * integer activation form of the format's own, a few tokens one such pass each, more tokens (and every product with
 * llama.cpp's int8 activations, {@code --activations q8}, which the 16-bit sums cannot hold, but for Q6_K's 8-column
 * sums) through the panel GEMM over rows decoded to float.
 */
abstract class KQuantTileMatrix extends RepackedBlockMatrix implements TileKernels.Tiled {
    private final DType type;
    private final int superBytes;
    /** Block sums per block of 32 columns that {@link #integerSums} keeps (one per group of scaled values). */
    private final int sumsPerBlock;
    final int nb;
    final int tiles;
    /** Where each tile's blocks, scales and heads lie (in pairs). */
    final TilePairs layout;
    /** Where the rows past the last whole tile start (the file's super-blocks). */
    final long plain;

    /**
     * @param vectors vectors of codes per block of 32 columns in a tile
     * @param head bytes of a tile's head per super-block of 256 columns
     * @param sumsPerBlock block sums per block of 32 columns that {@link #integerSums} keeps (one per scale)
     * @param fewTokens up to this many tokens, one single-token pass each: the GEMM decodes every weight to float
     *     whatever the token count (eight 2048x2048 products at 2 tokens: Q5_K 19.0 ms, Q3_K 14.4, Q2_K 12.8,
     *     against 1.4, 1.6, 1.3 for one token; AVX-512, 2 threads)
     */
    KQuantTileMatrix(String name, DType type, int rows, int cols, MemorySegment packed, boolean roundActivations,
                     int vectors, int head, int sumsPerBlock, int fewTokens) {
        super(name, rows, cols, packed, roundActivations, fewTokens);
        this.type = type;
        this.superBytes = type.blockBytes;
        this.sumsPerBlock = sumsPerBlock;
        this.nb = cols / 32;
        this.tiles = rows / TR;
        this.layout = new TilePairs(tiles, nb, vectors, nb / 8 * head);
        this.plain = tiles * layout.tileBytes();
    }

    /**
     * The 16-bit block (or group) sums of tiles t..t+n-1 (n = 1 or 2) into {@code sums}, per block
     * {@link TileKernels#SUMS_BLOCK} shorts, 16 per tile. Two tiles in a pass are always a stored pair
     * ({@link TileKernels#matmulOne} starts passes where {@link #pairStarts} says), which 512-bit vectors read
     * in one load per vector of codes; each format's kernels stay apart from the float pass for C2's node
     * budget (see {@link Q4_0Matrix}).
     */
    @Override
    public final void integerSums(int t, int n, Q8Lanes a, short[] sums) {
        if (n == 1) tileSums(t, a, sums);
        else if (TileKernels.WIDE) pairSums(t, a, sums);
        else pairSums256(t, a, sums);
    }

    /** One tile's sums (a tile of a pair or the last odd one), its vectors {@link TilePairs#stride} apart. */
    abstract void tileSums(int t, Q8Lanes a, short[] sums);

    /** The stored pair t, t + 1 (t even) in 512-bit vectors, lanes 0..15 tile t's rows: one store fills both tiles' sums. */
    abstract void pairSums(int t, Q8Lanes a, short[] sums);

    /**
     * The stored pair t, t + 1 (t even) in 16-lane vectors, at constant offsets: with the strides in registers C2
     * ran short of them on AVX2 and spilled (Q3_K 0.55x).
     */
    abstract void pairSums256(int t, Q8Lanes a, short[] sums);

    /** Blocks [b0, b1) of row {@code row} of tile t as ggml's values, into dst from {@code out}. */
    abstract void decodeTileRow(int t, int row, int b0, int b1, float[] dst, int out, int[] packed);

    /**
     * Rows 8 * half .. 8 * half + 7 of a tile (its first block's scales at {@code scales}, {@code step} bytes from one
     * block to the next, its super-block heads at {@code heads}) from its sums (the low (half 0) or high (1) shorts
     * of the ints at {@code slot}), into y from yo.
     */
    abstract void finishHalf(long scales, int step, long heads, int half, Q8Lanes a, short[] sums, int slot, float[] y, int yo);

    /** Tiles t..t+n-1's results from their sums, rows 0..7 and 8..15 in two passes (C2's node budget). */
    @Override
    public final void finish(int t, int n, Q8Lanes a, short[] sums, int base, float[] y, int yo) {
        if (n == 2 && TileKernels.WIDE && finishPair(layout.scalesAt(t, 0), layout.step(t), layout.headsAt(t), layout.headsAt(t + 1), a, sums, base, y, yo)) return;
        for (int u = 0; u < n; u++) {
            // the addresses come in as arguments: worked out inside the float pass, they put it past C2's node
            // budget (Q3_K's vectors then lived on the heap: 0.75x)
            long scales = layout.scalesAt(t + u, 0), heads = layout.headsAt(t + u);
            int step = layout.step(t + u);
            finishHalf(scales, step, heads, 0, a, sums, base + TR * u, y, yo + u * TR);
            finishHalf(scales, step, heads, 1, a, sums, base + TR * u, y, yo + u * TR + TR / 2);
        }
    }

    /**
     * Both tiles of a stored pair (n = 2 is always one) in 16 float lanes, where the format has such a pass
     * ({@link TileKernels#finishAffinePair}); false where it has not, and the tiles then go one half at a time.
     */
    boolean finishPair(long scales, int step, long headsT, long headsU, Q8Lanes a, short[] sums, int slot, float[] y, int yo) {
        return false;
    }

    @Override
    public final boolean pairStarts(int t) {
        return layout.pairStarts(t);
    }

    @Override
    public final DType type() {
        return type;
    }

    /** The single-token integer form of x, on the format's own grid, that its kernel reads. */
    abstract Q8Lanes integerForm(Activations x);

    /**
     * Whether the format's integer form is llama.cpp's int8 grid itself (Q6_K's), whose sums fit: then
     * {@code --activations q8} runs the integer kernels too, where the other formats take the GEMM.
     */
    boolean integerOnLlamaGrid() {
        return false;
    }

    /** Whether products go through the GEMM on the Q8 grid even for one token (llama.cpp's grid, whose sums would not fit). */
    private boolean gemmOnly() {
        return roundActivations && !integerOnLlamaGrid();
    }

    /** With llama.cpp's int8 activations a single token runs the GEMM too, so many go through it at once. */
    @Override
    final int fewTokens() {
        return gemmOnly() ? 1 : super.fewTokens();
    }

    @Override
    final void prepareOne(Activations x) {
        if (gemmOnly()) x.tokenMajorQ8(Gemm.TILE);
        else integerForm(x);
    }

    @Override
    final void matmulOne(Activations x, float[] y, int yOff, int r0, int r1) {
        if (gemmOnly()) {
            gemm(x.tokenMajorQ8(Gemm.TILE), 1, y, 0, yOff, r0, r1);
            return;
        }
        TileKernels.matmulOne(this, sumsPerBlock * nb, integerForm(x), y, yOff, r0, r1);
    }

    @Override
    public final int tiledRows() {
        return tiles * TR;
    }

    /** Where row m past the last whole tile starts. */
    final long plainRow(int m) {
        return plain + (long) m * (nb / 8) * superBytes;
    }

    /** Rows [r, r + n), columns [k0, k1) (multiples of 32) as float32, for the GEMM. */
    @Override
    final void decode(int r, int n, int k0, int k1, float[] dst, int stride) {
        decode(r, n, k0, k1, dst, 0, stride);
    }

    private void decode(int r, int n, int k0, int k1, float[] dst, int off, int stride) {
        int tileEnd = tiles * TR, b0 = k0 / 32, b1 = k1 / 32;
        float[] sb = null;
        int[] packed = new int[16];
        for (int i = 0; i < n; i++) {
            int m = r + i, out = off + i * stride;
            if (m < tileEnd) {
                decodeTileRow(m / TR, m % TR, b0, b1, dst, out, packed);
                continue;
            }
            if (sb == null) sb = new float[256];
            long at = plainRow(m - tileEnd);
            for (int b = b0; b < b1; b++, out += 32) {
                if (b == b0 || b % 8 == 0) GgmlQuants.dequantize(type, data, at + (long) (b / 8) * superBytes, sb, 0, 256);
                System.arraycopy(sb, (b % 8) * 32, dst, out, 32);
            }
        }
    }

    @Override
    public final void row(int r, float[] out, int off) {
        decode(r, 1, 0, cols, out, off, cols);
    }

    /** The ggml size, as in the file and in llama.cpp's model size. */
    @Override
    public final long bytes() {
        return (long) rows * (nb / 8) * superBytes;
    }
}
