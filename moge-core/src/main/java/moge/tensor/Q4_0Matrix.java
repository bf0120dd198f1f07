package moge.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import moge.format.DType;
import moge.format.HugePages;
import moge.format.Layouts;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Q4_0 weights, repacked at load time into tiles of {@link #TR} rows so that the decode kernel multiplies
 * them in 16-bit integers, one row per short lane, against activations turned into integers per block of 32
 * ({@link Q8Lanes}: llama.cpp's int8 grid with {@code --activations q8}, else a finer one). AVX2 has no int8
 * dot product the Vector API can reach, but a 16-lane {@code vpmullw} plus {@code vpaddw} does 16
 * multiply-adds in two instructions where a float kernel needs a mask, a conversion and an FMA for 8; a
 * block's sum of (code - 8) * q always fits 16 bits, so with 8 * sum(q) taken off at the end the wrapping
 * 16-bit sum of code * q gives it exactly. Many tokens (the GEMM) multiply float activations as before.
 * <p>
 * Tile layout, per block of 32 columns ({@value #TILE_BLOCK} bytes): 8 vectors of 16 shorts, short lane
 * {@code j} of vector {@code i} holding in its four nibbles the codes (value + 8) of positions
 * {@code i, i+8, i+16, i+24} of the tile row that {@link #laneOf} places in lane j; then the 16 rows' scales
 * as float32.
 * Rows past the last whole tile keep ggml's nibble order (16 bytes per block) with their float32 scales
 * after them.
 */
final class Q4_0Matrix extends RepackedBlockMatrix {
    /**
     * Up to this many tokens, {@link #matmulFew} (the integer kernel, two tokens per pass): the GEMM needs the
     * weights decoded to float first, which fewer tokens do not repay (1 thread, ms, pairs vs GEMM: 2048x192
     * 32 tokens 3.7-3.9 vs 6.2, 48 tokens 5.7 vs 8.1; 192x2048 48 tokens 5.6-5.7 vs 5.4-5.6; 2 threads,
     * 2048x2048 x8, 32 tokens 18.8 vs 24-30).
     */
    static final int FEW_TOKENS = 48;

    private static final VectorSpecies<Short> SS = Q8Lanes.SS;
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_256;
    private static final VectorSpecies<Integer> IS = IntVector.SPECIES_256;
    /** Rows per tile: one per short lane. */
    static final int TR = Q8Lanes.LANES;
    private static final int TILE_BLOCK = 16 * TR + 4 * TR;
    /** Rows decoded to float at a time for the GEMM. */
    private static final int CHUNK = 2 * TR;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ThreadLocal<float[]> CHUNKS = ThreadLocal.withInitial(() -> new float[0]);
    /** Per thread, the block sums of one or two tiles ({@link #SUMS_BLOCK} bytes per block), off-heap like the weights. */
    private static final ThreadLocal<MemorySegment> SUMS = new ThreadLocal<>();
    private static final long SUMS_BLOCK = 4L * TR;

    private final int nb;
    private final int tiles;
    private final long tileBytes;
    /** Where the rows past the last whole tile start, and their scales. */
    private final long plain;
    private final long plainScales;

    private Q4_0Matrix(String name, int rows, int cols, MemorySegment packed, boolean roundActivations) {
        super(name, rows, cols, packed, roundActivations, FEW_TOKENS);
        this.nb = cols / 32;
        this.tiles = rows / TR;
        this.tileBytes = (long) nb * TILE_BLOCK;
        this.plain = tiles * tileBytes;
        this.plainScales = plain + (long) (rows - tiles * TR) * nb * 16;
    }

    @Override
    public DType type() {
        return DType.Q4_0;
    }

    /** The short lane holding tile row {@code row}: lanes interleave the two halves, so an int's low short is rows 0..7. */
    static int laneOf(int row) {
        return row < TR / 2 ? 2 * row : 2 * (row - TR / 2) + 1;
    }

    /** Tiles are independent, so runs of them go to every core (as {@link Q8_0Matrix#repack}). */
    static Q4_0Matrix repack(String name, int rows, int cols, MemorySegment blocks, boolean roundActivations) {
        int nb = cols / 32, tiles = rows / TR;
        MemorySegment out = HugePages.allocate((long) rows * nb * 20);
        Repacking.forRuns(tiles, 1, (t0, t1) -> repackTiles(nb, blocks, out, t0, t1));
        int left = rows - tiles * TR;
        long plain = tiles * (long) nb * TILE_BLOCK, plainScales = plain + (long) left * nb * 16;
        byte[] one = new byte[nb * 18];
        for (int m = 0; m < left; m++) {
            MemorySegment.copy(blocks, ValueLayout.JAVA_BYTE, (long) (tiles * TR + m) * nb * 18, one, 0, one.length);
            for (int b = 0; b < nb; b++) {
                MemorySegment.copy(one, b * 18 + 2, out, ValueLayout.JAVA_BYTE, plain + ((long) m * nb + b) * 16, 16);
                out.set(Layouts.F32, plainScales + ((long) m * nb + b) * 4, scale(one, b * 18));
            }
        }
        return new Q4_0Matrix(name, rows, cols, out, roundActivations);
    }

    private static void repackTiles(int nb, MemorySegment blocks, MemorySegment out, int t0, int t1) {
        long tileBytes = (long) nb * TILE_BLOCK;
        byte[] src = new byte[TR * nb * 18];
        byte[] tile = new byte[(int) tileBytes];
        for (int t = t0; t < t1; t++) {
            MemorySegment.copy(blocks, ValueLayout.JAVA_BYTE, (long) t * TR * nb * 18, src, 0, src.length);
            for (int b = 0; b < nb; b++) {
                int o = b * TILE_BLOCK;
                for (int row = 0; row < TR; row++) {
                    int j = laneOf(row), blk = (row * nb + b) * 18;
                    for (int i = 0; i < 8; i++) {
                        int s = 0;
                        for (int k = 0; k < 4; k++) s |= code(src, blk, i + 8 * k) << (4 * k);
                        tile[o + 32 * i + 2 * j] = (byte) s;
                        tile[o + 32 * i + 2 * j + 1] = (byte) (s >> 8);
                    }
                    int sc = o + 16 * TR + 4 * row, bits = Float.floatToRawIntBits(scale(src, blk));
                    for (int n = 0; n < 4; n++) tile[sc + n] = (byte) (bits >> (8 * n));
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

    private static float scale(byte[] src, int blk) {
        return Float.float16ToFloat((short) ((src[blk] & 0xFF) | (src[blk + 1] << 8)));
    }

    @Override
    void prepareOne(Activations x) {
        x.q8Lanes(roundActivations);
    }

    @Override
    void matmulOne(Activations x, float[] y, int yOff, int r0, int r1) {
        Q8Lanes a = x.q8Lanes(roundActivations);
        MemorySegment sums = sums(nb * SUMS_BLOCK);
        int tileEnd = tiles * TR, r = r0;
        float[] tmp = null;
        while (r < r1 && r < tileEnd) {
            int t = r / TR;
            int n = r % TR == 0 && r + 2 * TR <= Math.min(r1, tileEnd) ? 2 : 1;
            integerSums(t, n, a, sums);
            if (r % TR == 0 && r + n * TR <= r1) {
                finish(t, n, a.d, sums, 0, y, yOff + r);
                r += n * TR;
            } else {
                // a range that starts or ends inside a tile: the whole tile, then the rows asked for
                if (tmp == null) tmp = new float[TR];
                finish(t, 1, a.d, sums, 0, tmp, 0);
                int end = Math.min(r1, (t + 1) * TR);
                System.arraycopy(tmp, r - t * TR, y, yOff + r, end - r);
                r = end;
            }
        }
        for (; r < r1; r++) y[yOff + r] = plainDot(r - tileEnd, a);
    }

    /**
     * A few tokens, two at a time: each nibble taken out of the weights serves both tokens (the integer sums are
     * exact, so each token's result is the one it gets alone). An odd last token runs alone.
     */
    @Override
    void matmulFew(Activations x, float[] y, int yStride, int yOff, int r0, int r1) {
        int T = x.tokens(), t = 0;
        for (; t + 2 <= T; t += 2) pair(x.token(t), x.token(t + 1), y, yOff + t * yStride, yOff + (t + 1) * yStride, r0, r1);
        if (t < T) matmulOne(x.token(t), y, yOff + t * yStride, r0, r1);
    }

    /**
     * Two tokens' rows [r0, r1): pairs of whole tiles through {@link #integerSums2x2}; the rows before the first
     * whole tile and after the last pair (a range cut inside a tile, an odd tile, rows past the tiles) through
     * {@link #matmulOne}, token by token.
     */
    private void pair(Activations xa, Activations xb, float[] y, int ya, int yb, int r0, int r1) {
        Q8Lanes a = xa.q8Lanes(roundActivations), b = xb.q8Lanes(roundActivations);
        long region = nb * SUMS_BLOCK;
        int r = Math.min(r1, (r0 + TR - 1) / TR * TR), end = Math.min(r1, tiles * TR);
        if (r > r0) {
            matmulOne(xa, y, ya, r0, r);
            matmulOne(xb, y, yb, r0, r);
        }
        MemorySegment sums = sums(2 * region);
        for (; r + 2 * TR <= end; r += 2 * TR) {
            integerSums2x2(r / TR, a, b, sums, region);
            finish(r / TR, 2, a.d, sums, 0, y, ya + r);
            finish(r / TR, 2, b.d, sums, region, y, yb + r);
        }
        if (r < r1) {
            matmulOne(xa, y, ya, r, r1);
            matmulOne(xb, y, yb, r, r1);
        }
    }

    /** As {@link #integerSums} over tiles t and t+1, for two tokens at once: token a's sums at 0, b's at {@code region}. */
    private void integerSums2x2(int t, Q8Lanes a, Q8Lanes b, MemorySegment sums, long region) {
        long o = t * tileBytes, p = o + tileBytes;
        short[] qa = a.q, qb = b.q;
        for (int blk = 0; blk < nb; blk++, o += TILE_BLOCK, p += TILE_BLOCK) {
            ShortVector c = ShortVector.zero(SS), e = c, f = c, g = c;
            int xo = blk * 32 * TR;
            for (int i = 0; i < 8; i++) {
                ShortVector w = ShortVector.fromMemorySegment(SS, data, o + 32 * i, LE);
                ShortVector v = ShortVector.fromMemorySegment(SS, data, p + 32 * i, LE);
                for (int k = 0; k < 4; k++) {
                    ShortVector nw = nibble(w, k), nv = nibble(v, k);
                    int xi = xo + (i + 8 * k) * TR;
                    ShortVector xa = ShortVector.fromArray(SS, qa, xi);
                    c = c.add(nw.mul(xa));
                    e = e.add(nv.mul(xa));
                    ShortVector xb = ShortVector.fromArray(SS, qb, xi);
                    f = f.add(nw.mul(xb));
                    g = g.add(nv.mul(xb));
                }
            }
            ShortVector ca = ShortVector.fromArray(SS, a.corr, blk * TR), cb = ShortVector.fromArray(SS, b.corr, blk * TR);
            long at = blk * SUMS_BLOCK;
            c.sub(ca).intoMemorySegment(sums, at, LE);
            e.sub(ca).intoMemorySegment(sums, at + 2 * TR, LE);
            f.sub(cb).intoMemorySegment(sums, region + at, LE);
            g.sub(cb).intoMemorySegment(sums, region + at + 2 * TR, LE);
        }
    }

    private static MemorySegment sums(long bytes) {
        MemorySegment sums = SUMS.get();
        if (sums == null || sums.byteSize() < bytes) SUMS.set(sums = Arena.ofAuto().allocate(bytes, 64));
        return sums;
    }

    // Nibble k of each short lane as its code (0..15). Helpers that take or return vectors stay under 35 bytes
    // of bytecode, which C2 always inlines.
    private static ShortVector nibble(ShortVector w, int k) {
        return switch (k) {
            case 0 -> w.and((short) 15);
            case 3 -> w.lanewise(VectorOperators.LSHR, 12);
            default -> w.lanewise(VectorOperators.LSHR, 4 * k).and((short) 15);
        };
    }

    // How the product is cut into methods matters as much as what it computes. C2 stops inlining once a
    // compiled method's graph passes a node budget, and a Vector API call it does not inline makes every vector
    // a heap object (measured: decode at 36-56 instead of 75 tokens/s, depending on what had been compiled
    // before). So the integer part of a product (integerSums, over 350 bytes of bytecode, which C2 never
    // inlines into its caller) runs apart from its float part (finish, small); the block sums go between them
    // through a buffer that stays in L1.

    /**
     * The exact block sums, sum((code - 8) * q), of tiles t..t+n-1 (n = 1 or 2) into {@code sums}: per block,
     * {@link #SUMS_BLOCK} bytes, 16 shorts per tile. Two tiles per pass when the rows allow: each activation
     * vector loaded once then serves 32 rows.
     */
    private void integerSums(int t, int n, Q8Lanes a, MemorySegment sums) {
        long o = t * tileBytes, p = o + tileBytes;
        short[] q = a.q, corr = a.corr;
        if (n == 2) {
            for (int b = 0; b < nb; b++, o += TILE_BLOCK, p += TILE_BLOCK) {
                ShortVector c = ShortVector.zero(SS), e = c;
                int xo = b * 32 * TR;
                for (int i = 0; i < 8; i++) {
                    ShortVector w = ShortVector.fromMemorySegment(SS, data, o + 32 * i, LE);
                    ShortVector v = ShortVector.fromMemorySegment(SS, data, p + 32 * i, LE);
                    for (int k = 0; k < 4; k++) {
                        ShortVector xv = ShortVector.fromArray(SS, q, xo + (i + 8 * k) * TR);
                        c = c.add(nibble(w, k).mul(xv));
                        e = e.add(nibble(v, k).mul(xv));
                    }
                }
                ShortVector cr = ShortVector.fromArray(SS, corr, b * TR);
                c.sub(cr).intoMemorySegment(sums, b * SUMS_BLOCK, LE);
                e.sub(cr).intoMemorySegment(sums, b * SUMS_BLOCK + 2 * TR, LE);
            }
        } else {
            for (int b = 0; b < nb; b++, o += TILE_BLOCK) {
                ShortVector c = ShortVector.zero(SS);
                int xo = b * 32 * TR;
                for (int i = 0; i < 8; i++) {
                    ShortVector w = ShortVector.fromMemorySegment(SS, data, o + 32 * i, LE);
                    for (int k = 0; k < 4; k++) c = c.add(nibble(w, k).mul(ShortVector.fromArray(SS, q, xo + (i + 8 * k) * TR)));
                }
                c.sub(ShortVector.fromArray(SS, corr, b * TR)).intoMemorySegment(sums, b * SUMS_BLOCK, LE);
            }
        }
    }

    /**
     * Tiles t..t+n-1's results from their block sums: per block, the sums (read as ints: even shorts rows
     * 0..7, odd shorts rows 8..15) times the activation and row scales.
     */
    private void finish(int t, int n, float[] dx, MemorySegment sums, long base, float[] y, int yo) {
        for (int u = 0; u < n; u++) {
            long o = (t + u) * tileBytes + 16 * TR, slot = base + 2L * TR * u;
            FloatVector lo = FloatVector.zero(FS), hi = lo;
            for (int b = 0; b < nb; b++, o += TILE_BLOCK) {
                IntVector s = IntVector.fromMemorySegment(IS, sums, b * SUMS_BLOCK + slot, LE);
                float d = dx[b];
                lo = low(s).mul(d).fma(FloatVector.fromMemorySegment(FS, data, o, LE), lo);
                hi = high(s).mul(d).fma(FloatVector.fromMemorySegment(FS, data, o + 2 * TR, LE), hi);
            }
            lo.intoArray(y, yo + u * TR);
            hi.intoArray(y, yo + u * TR + TR / 2);
        }
    }

    /** Block sums of rows 0..7 (the even shorts of an int) as floats. */
    private static FloatVector low(IntVector s) {
        return (FloatVector) s.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).convertShape(VectorOperators.I2F, FS, 0);
    }

    /** ... and of rows 8..15 (the odd shorts). */
    private static FloatVector high(IntVector s) {
        return (FloatVector) s.lanewise(VectorOperators.ASHR, 16).convertShape(VectorOperators.I2F, FS, 0);
    }

    /** Row m past the last whole tile, ggml order, the same arithmetic per block as the tiles. */
    private float plainDot(int m, Q8Lanes a) {
        float sum = 0;
        for (int b = 0; b < nb; b++) {
            long at = plain + ((long) m * nb + b) * 16;
            int s = 0;
            for (int i = 0; i < 16; i++) {
                int v = data.get(ValueLayout.JAVA_BYTE, at + i) & 0xFF;
                s += ((v & 15) - 8) * a.q[(b * 32 + i) * TR] + ((v >> 4) - 8) * a.q[(b * 32 + 16 + i) * TR];
            }
            sum = Math.fma((float) s * a.d[b], plainScale(m, b), sum);
        }
        return sum;
    }

    private float plainScale(int m, int b) {
        return data.get(Layouts.F32, plainScales + ((long) m * nb + b) * 4);
    }

    /** Many tokens: rows decoded to float a chunk at a time, each chunk multiplied with every token. */
    @Override
    void gemm(float[] xt, int T, float[] y, int yStride, int yOff, int r0, int r1) {
        float[] buf = CHUNKS.get();
        if (buf.length < CHUNK * cols) CHUNKS.set(buf = new float[CHUNK * cols]);
        float[] chunk = buf;
        for (int c0 = r0; c0 < r1; c0 += CHUNK) {
            int c1 = Math.min(r1, c0 + CHUNK), base = c0;
            decodeRows(c0, c1, chunk, 0);
            Gemm.matmul((r, n, k0, k1, dst, stride) -> {
                for (int i = 0; i < n; i++) System.arraycopy(chunk, (r - base + i) * cols + k0, dst, i * stride, k1 - k0);
            }, cols, xt, T, y, yStride, yOff, c0, c1);
        }
    }

    /** Rows [r0, r1) as float32, row after row, into dst from {@code off}. */
    private void decodeRows(int r0, int r1, float[] dst, int off) {
        int tileEnd = tiles * TR;
        int[] packed = new int[8];
        for (int r = r0; r < Math.min(r1, tileEnd); r++) {
            int t = r / TR, row = r % TR, j = laneOf(row);
            long o = t * tileBytes + 2L * j;
            int out = off + (r - r0) * cols;
            for (int b = 0; b < nb; b++, o += TILE_BLOCK, out += 32) {
                // the row's 8 shorts, one per int lane: nibble k of lane i is position i + 8k
                for (int i = 0; i < 8; i++) packed[i] = data.get(Layouts.I16, o + 32L * i);
                IntVector v = IntVector.fromArray(IS, packed, 0);
                float d = data.get(Layouts.F32, o - 2L * j + 16 * TR + 4L * row);
                for (int k = 0; k < 4; k++) {
                    ((FloatVector) v.lanewise(VectorOperators.LSHR, 4 * k).and(15).convertShape(VectorOperators.I2F, FS, 0))
                            .sub(8f).mul(d).intoArray(dst, out + 8 * k);
                }
            }
        }
        for (int r = Math.max(r0, tileEnd); r < r1; r++) plainRow(r - tileEnd, dst, off + (r - r0) * cols);
    }

    /** Not on the product path ({@link #gemm} decodes whole chunks); kept for the base class's contract. */
    @Override
    void decode(int r, int n, int k0, int k1, float[] dst, int stride) {
        float[] f = new float[n * cols];
        decodeRows(r, r + n, f, 0);
        for (int i = 0; i < n; i++) System.arraycopy(f, i * cols + k0, dst, i * stride, k1 - k0);
    }

    @Override
    public void row(int r, float[] out, int off) {
        decodeRows(r, r + 1, out, off);
    }

    private void plainRow(int m, float[] out, int off) {
        for (int b = 0; b < nb; b++) {
            float d = plainScale(m, b);
            long at = plain + ((long) m * nb + b) * 16;
            for (int i = 0; i < 16; i++) {
                int v = data.get(ValueLayout.JAVA_BYTE, at + i) & 0xFF;
                out[off + b * 32 + i] = d * ((v & 15) - 8);
                out[off + b * 32 + 16 + i] = d * ((v >> 4) - 8);
            }
        }
    }

    /**
     * The ggml size ({@value #BLOCK_BYTES} bytes per block of 32), as in the file and in llama.cpp's model size;
     * the repacked copy holds 2 bytes more per block (its scales as float32).
     */
    @Override
    public long bytes() {
        return (long) rows * nb * BLOCK_BYTES;
    }

    private static final int BLOCK_BYTES = 18;
}
