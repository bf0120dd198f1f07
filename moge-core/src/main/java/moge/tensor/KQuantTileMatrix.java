package moge.tensor;

import moge.format.DType;

import java.lang.foreign.MemorySegment;
import java.util.function.Function;

import static moge.tensor.TileKernels.TR;

/**
 * What Q5_K's and Q3_K's tiled matrices ({@link Q5KMatrix}, {@link Q3KMatrix}) share: whole tiles of 16 rows and
 * after them the rows left over in the file's super-blocks; one token through {@link TileKernels#matmulOne} on an
 * integer activation form of the format's own, a few tokens one such pass each, more tokens (and every product with
 * llama.cpp's int8 activations, {@code --activations q8}, which the 16-bit sums cannot hold) through the panel GEMM
 * over rows decoded to float.
 */
abstract class KQuantTileMatrix extends RepackedBlockMatrix implements TileKernels.Tiled {
    private final DType type;
    private final int superBytes;
    private final Function<Activations, Q8Lanes> integerForm;
    /** Block sums per block of 32 columns that {@link #integerSums} keeps (one per group of scaled values). */
    private final int sumsPerBlock;
    final int nb;
    final int tiles;
    final long tileBytes;
    /** Where the rows past the last whole tile start (the file's super-blocks). */
    final long plain;

    /**
     * @param integerForm the single-token integer form the format's kernel reads
     * @param sumsPerBlock block sums per block of 32 columns that {@link #integerSums} keeps (one per scale)
     * @param fewTokens up to this many tokens, one single-token pass each: the GEMM decodes every weight to float
     *     whatever the token count (eight 2048x2048 products at 2 tokens: Q5_K 19.0 ms, Q3_K 14.4, Q2_K 12.8,
     *     against 1.4, 1.6, 1.3 for one token; AVX-512, 2 threads)
     */
    KQuantTileMatrix(String name, DType type, int rows, int cols, MemorySegment packed, boolean roundActivations,
                     long tileBytes, Function<Activations, Q8Lanes> integerForm, int sumsPerBlock, int fewTokens) {
        super(name, rows, cols, packed, roundActivations, fewTokens);
        this.type = type;
        this.superBytes = type.blockBytes;
        this.integerForm = integerForm;
        this.sumsPerBlock = sumsPerBlock;
        this.nb = cols / 32;
        this.tiles = rows / TR;
        this.tileBytes = tileBytes;
        this.plain = tiles * tileBytes;
    }

    /** Blocks [b0, b1) of row {@code row} of the tile at {@code tile} as ggml's values, into dst from {@code out}. */
    abstract void decodeTileRow(long tile, int row, int b0, int b1, float[] dst, int out, int[] packed);

    /**
     * Rows 8 * half .. 8 * half + 7 of the tile at {@code tile} from its sums (the low (half 0) or high (1) shorts
     * of the ints at {@code slot}), into y from yo.
     */
    abstract void finishHalf(long tile, int half, Q8Lanes a, short[] sums, int slot, float[] y, int yo);

    /** Tiles t..t+n-1's results from their sums, rows 0..7 and 8..15 in two passes (C2's node budget). */
    @Override
    public final void finish(int t, int n, Q8Lanes a, short[] sums, int base, float[] y, int yo) {
        for (int u = 0; u < n; u++) {
            long tile = (t + u) * tileBytes;
            finishHalf(tile, 0, a, sums, base + TR * u, y, yo + u * TR);
            finishHalf(tile, 1, a, sums, base + TR * u, y, yo + u * TR + TR / 2);
        }
    }

    @Override
    public final DType type() {
        return type;
    }

    /** With llama.cpp's int8 activations a single token runs the GEMM too, so many go through it at once. */
    @Override
    final int fewTokens() {
        return roundActivations ? 1 : super.fewTokens();
    }

    @Override
    final void prepareOne(Activations x) {
        if (roundActivations) x.tokenMajorQ8(Gemm.TILE);
        else integerForm.apply(x);
    }

    @Override
    final void matmulOne(Activations x, float[] y, int yOff, int r0, int r1) {
        if (roundActivations) {
            gemm(x.tokenMajorQ8(Gemm.TILE), 1, y, 0, yOff, r0, r1);
            return;
        }
        TileKernels.matmulOne(this, sumsPerBlock * nb, integerForm.apply(x), y, yOff, r0, r1);
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
                decodeTileRow(m / TR * tileBytes, m % TR, b0, b1, dst, out, packed);
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
