package moge.tensor;

import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import moge.format.DType;

import java.lang.foreign.MemorySegment;

import static moge.tensor.TileKernels.LE;
import static moge.tensor.TileKernels.SS;
import static moge.tensor.TileKernels.SUMS_BLOCK;
import static moge.tensor.TileKernels.TR;
import static moge.tensor.TileKernels.lanes;

/**
 * Q5_K in {@link Q5KTiles}' tiles: one token multiplies 5-bit codes with integer activations in 16-bit lanes as
 * Q4_K does in {@link Q4_0Matrix}, 16 rows per vector, on a grid with half Q4_K's budget
 * ({@link Activations#q5Lanes}): a block's sum of (code - 16) * q fits 16 bits when 16 * sum|q| does, so with
 * 16 * sum(q) taken off the wrapping sum of code * q is exact. More tokens run the panel GEMM over rows decoded
 * to float, as before (the integer kernels serve one token at a time here). With llama.cpp's int8 activations
 * ({@code --activations q8}) the sums would not fit, so every product then goes through the GEMM on the Q8 grid.
 */
final class Q5KMatrix extends RepackedBlockMatrix implements TileKernels.Tiled {
    private static final int BLOCK = Q5KTiles.BLOCK;
    private static final int V = Q5KTiles.VECTORS;

    private final int nb;
    private final int tiles;
    private final long tileBytes;
    /** Where the rows past the last whole tile start (the file's super-blocks). */
    private final long plain;

    Q5KMatrix(String name, int rows, int cols, MemorySegment packed, boolean roundActivations) {
        super(name, rows, cols, packed, roundActivations, 1);
        this.nb = cols / 32;
        this.tiles = rows / TR;
        this.tileBytes = Q5KTiles.tileBytes(nb);
        this.plain = tiles * tileBytes;
    }

    @Override
    public DType type() {
        return DType.Q5_K;
    }

    @Override
    void prepareOne(Activations x) {
        if (roundActivations) x.tokenMajorQ8(Gemm.TILE);
        else x.q5Lanes();
    }

    @Override
    void matmulOne(Activations x, float[] y, int yOff, int r0, int r1) {
        if (roundActivations) {
            gemm(x.tokenMajorQ8(Gemm.TILE), 1, y, 0, yOff, r0, r1);
            return;
        }
        TileKernels.matmulOne(this, nb, x.q5Lanes(), y, yOff, r0, r1);
    }

    @Override
    public int tiledRows() {
        return tiles * TR;
    }

    @Override
    public float plainDot(int m, Q8Lanes a) {
        // the file's super-blocks: qh at 16, qs at 48
        return Q4KTiles.plainDot(data, plain + (long) m * (nb / 8) * Q5KTiles.SUPER_BYTES, nb / 8, a, Q5KTiles.SUPER_BYTES, 16, 48);
    }

    // Code k (0..2) of each short lane. Under 35 bytes of bytecode, which C2 always inlines.
    private static ShortVector code(ShortVector w, int k) {
        return switch (k) {
            case 0 -> w.and((short) 31);
            case 2 -> w.lanewise(VectorOperators.LSHR, 10);
            default -> w.lanewise(VectorOperators.LSHR, 5).and((short) 31);
        };
    }

    /**
     * The block sums of code * q (16 bits, wrapping) of tiles t..t+n-1 (n = 1 or 2) into {@code sums}, per
     * block {@link TileKernels#SUMS_BLOCK} shorts, 16 per tile; two tiles per pass when the rows allow, each
     * activation broadcast then serving 32 rows. Kept apart from the float pass for C2's node budget (see
     * {@link Q4_0Matrix}).
     */
    @Override
    public void integerSums(int t, int n, Q8Lanes a, short[] sums) {
        long o = t * tileBytes, p = o + tileBytes;
        int[] q = a.pairs;
        if (n == 2) {
            for (int b = 0; b < nb; b++, o += BLOCK, p += BLOCK) {
                ShortVector c = ShortVector.zero(SS), e = c;
                int xo = b * 32;
                for (int i = 0; i < V; i++) {
                    ShortVector w = ShortVector.fromMemorySegment(SS, data, o + 32 * i, LE);
                    ShortVector v = ShortVector.fromMemorySegment(SS, data, p + 32 * i, LE);
                    for (int k = 0; k < 3; k++) {
                        ShortVector xv = lanes(q[xo + i + V * k]);
                        c = c.add(code(w, k).mul(xv));
                        e = e.add(code(v, k).mul(xv));
                    }
                }
                c.intoArray(sums, b * SUMS_BLOCK);
                e.intoArray(sums, b * SUMS_BLOCK + TR);
            }
        } else {
            for (int b = 0; b < nb; b++, o += BLOCK) {
                ShortVector c = ShortVector.zero(SS);
                int xo = b * 32;
                for (int i = 0; i < V; i++) {
                    ShortVector w = ShortVector.fromMemorySegment(SS, data, o + 32 * i, LE);
                    for (int k = 0; k < 3; k++) c = c.add(code(w, k).mul(lanes(q[xo + i + V * k])));
                }
                c.intoArray(sums, b * SUMS_BLOCK);
            }
        }
    }

    /** Tiles t..t+n-1's results from their block sums, rows 0..7 and 8..15 in two passes (C2's node budget). */
    @Override
    public void finish(int t, int n, Q8Lanes a, short[] sums, int base, float[] y, int yo) {
        for (int u = 0; u < n; u++) {
            long tile = (t + u) * tileBytes;
            TileKernels.finishAffineHalf(data, tile, nb, BLOCK, 0, a, sums, base + TR * u, y, yo + u * TR);
            TileKernels.finishAffineHalf(data, tile, nb, BLOCK, 1, a, sums, base + TR * u, y, yo + u * TR + TR / 2);
        }
    }

    /** Rows [r, r + n), columns [k0, k1) (multiples of 32) as float32, for the GEMM. */
    @Override
    void decode(int r, int n, int k0, int k1, float[] dst, int stride) {
        decode(r, n, k0, k1, dst, 0, stride);
    }

    private void decode(int r, int n, int k0, int k1, float[] dst, int off, int stride) {
        int tileEnd = tiles * TR, b0 = k0 / 32, b1 = k1 / 32;
        float[] sb = null;
        int[] packed = new int[16];
        for (int i = 0; i < n; i++) {
            int m = r + i, out = off + i * stride;
            if (m < tileEnd) {
                Q5KTiles.decodeRow(data, m / TR * tileBytes, nb, m % TR, b0, b1, dst, out, packed);
                continue;
            }
            if (sb == null) sb = new float[Q5KTiles.SUPER];
            long at = plain + (long) (m - tileEnd) * (nb / 8) * Q5KTiles.SUPER_BYTES;
            for (int b = b0; b < b1; b++, out += 32) {
                if (b == b0 || b % 8 == 0) GgmlQuants.q5_K(data, at + (long) (b / 8) * Q5KTiles.SUPER_BYTES, sb, 0);
                System.arraycopy(sb, (b % 8) * 32, dst, out, 32);
            }
        }
    }

    @Override
    public void row(int r, float[] out, int off) {
        decode(r, 1, 0, cols, out, off, cols);
    }

    /** The ggml size, as in the file and in llama.cpp's model size. */
    @Override
    public long bytes() {
        return (long) rows * (nb / 8) * Q5KTiles.SUPER_BYTES;
    }
}
