package moge.tensor;

import static moge.tensor.Q4_0Pairs.finishPair;
import static moge.tensor.Q4_0Pairs.nibble;
import static moge.tensor.Q4_0Pairs.pairProduct;
import static moge.tensor.Q4_0Pairs.pairSums;
import static moge.tensor.Q4_0Pairs.pairSums2;
import static moge.tensor.Q4_0Pairs.pairSums4;
import static moge.tensor.TileKernels.lanes;
import static moge.tensor.TileKernels.sums;
import static moge.tensor.TileKernels.WIDE;
import static moge.tensor.TileKernels.WS;
import static moge.tensor.TileKernels.wideLanes;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import moge.format.DType;
import moge.format.Layouts;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Q4_0 weights (and Q4_K's, {@link Q4KTiles}), repacked at load time into tiles of {@link #TR} rows so that the decode kernel multiplies
 * them in 16-bit integers, one row per short lane, against activations turned into integers per block of 32
 * ({@link Q8Lanes}: llama.cpp's int8 grid with {@code --activations q8}, else a finer one). AVX2 has no int8
 * dot product the Vector API can reach, but a 16-lane {@code vpmullw} plus {@code vpaddw} does 16
 * multiply-adds in two instructions where a float kernel needs a mask, a conversion and an FMA for 8; a
 * block's sum of (code - 8) * q always fits 16 bits, so with 8 * sum(q) taken off at the end the wrapping
 * 16-bit sum of code * q gives it exactly. Up to {@link #FEW_TOKENS} tokens run these integer kernels, four at
 * a time ({@link #integerSums2x4}) so that each nibble taken out serves four tokens; more tokens (a long
 * prompt) multiply float activations with weights decoded to float.
 * <p>
 * Tile layout, per block of 32 columns ({@value #TILE_BLOCK} bytes): 8 vectors of 16 shorts, short lane
 * {@code j} of vector {@code i} holding in its four nibbles the codes (value + 8) of positions
 * {@code i, i+8, i+16, i+24} of the tile row that {@link #laneOf} places in lane j; then the 16 rows' scales
 * as in the file (float16; in a stored pair both tiles' rows 0..7, then both tiles' rows 8..15, see
 * {@link #halfScales}), which {@link #finish} widens with integer operations: 18 bytes per
 * block as in ggml, where float32 scales read 11% more bytes than the file's size in every token.
 * Rows past the last whole tile keep ggml's nibble order (16 bytes per block) with their scales after them.
 * <p>
 * Q4_0's tiles are stored in pairs ({@link TilePairs}): per block, vector i of tile 2m and vector i of tile 2m + 1
 * side by side (64 bytes), then the two tiles' scales, so that with AVX-512 one 512-bit load brings 32 rows'
 * codes and the decode kernel ({@link #integerSums}) runs one 32-lane vector where it ran two of 16. Against
 * two 16-lane streams that halves the instructions per cache line, which is what bounds the kernel from DRAM
 * (the out-of-order window reaches that many more lines ahead): BENCHMARKS.md section 2. Q4_K's tiles are paired
 * the same way, their super-block heads after the pair's blocks; a last odd tile keeps the
 * single layout.
 */
final class Q4_0Matrix extends RepackedBlockMatrix implements TileKernels.Tiled {
    /**
     * Up to this many tokens, {@link #matmulFew} (the integer kernels, four tokens per pass), past it the float
     * GEMM over weights decoded a chunk at a time. MultiTokenBench (2 threads, 8 matrices, ms, integer vs GEMM):
     * 2048x192 64 tokens 4.1-4.4 vs 6.4-7.3, 192 tokens 13.4-15.0 vs 17.6-18.5; 192x2048 64 tokens 4.1-4.2 vs
     * 4.8-4.9; 2048x2048 64 tokens 37-48 vs 40-55, 128 tokens 78-80 vs 77-84, 192 tokens 118-138 vs 102-120; and
     * pangu-embedded Q4_0 pp512 (every product 512 tokens) fell 10% through the integer kernels.
     */
    static final int FEW_TOKENS = 128;

    /**
     * Tokens per group in {@link #quads}: the weights are read from memory once per group (not once per four
     * tokens), and the group's integer activations (4 bytes a column each, 8 KiB a token at 2048 columns) stay
     * in the second-level cache while a pair of weight tiles meets every one of them.
     */
    private static final int GROUP = 32;
    private static final VectorSpecies<Short> SS = Q8Lanes.SS;
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_256;
    private static final VectorSpecies<Integer> IS = IntVector.SPECIES_256;
    /** Rows per tile: one per short lane. */
    static final int TR = Q8Lanes.LANES;
    static final int TILE_BLOCK = 16 * TR + 2 * TR;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final int SUMS_BLOCK = TileKernels.SUMS_BLOCK;

    final int nb;
    /** Q4_K repacked by {@link Q4KTiles}: per block 6-bit scales and mins, per super-block d and dmin. */
    private final boolean kquant;
    final int tiles;
    /** Where each tile's blocks and heads lie (in pairs). */
    final TilePairs layout;
    /** Where the rows past the last whole tile start, and their scales. */
    final long plain;
    private final long plainScales;

    private Q4_0Matrix(String name, int rows, int cols, MemorySegment packed, boolean roundActivations, boolean kquant) {
        super(name, rows, cols, packed, roundActivations, FEW_TOKENS);
        this.nb = cols / 32;
        this.kquant = kquant;
        this.tiles = rows / TR;
        this.layout = layout(rows, nb, kquant);
        this.plain = tiles * layout.tileBytes();
        this.plainScales = plain + (long) (rows - tiles * TR) * nb * 16;
    }

    /** Where the tiles of a matrix of {@code rows} rows lie: 8 vectors a block, and for Q4_K the super-blocks' d and dmin. */
    static TilePairs layout(int rows, int nb, boolean kquant) {
        return new TilePairs(rows / TR, nb, 8, kquant ? nb / 8 * Q4KTiles.HEAD : 0);
    }

    /** Q4_K tiles as {@link Q4KTiles} lays them out. */
    static Q4_0Matrix ofQ4K(String name, int rows, int cols, MemorySegment packed, boolean roundActivations) {
        return new Q4_0Matrix(name, rows, cols, packed, roundActivations, true);
    }

    @Override
    public DType type() {
        return kquant ? DType.Q4_K : DType.Q4_0;
    }

    /** The short lane holding tile row {@code row}: lanes interleave the two halves, so an int's low short is rows 0..7. */
    static int laneOf(int row) {
        return row < TR / 2 ? 2 * row : 2 * (row - TR / 2) + 1;
    }

    @Override
    public boolean pairStarts(int t) {
        return layout.pairStarts(t);
    }

    /** Q4_0 blocks as ggml writes them, repacked into tiles ({@link Q4_0Tiles#repack}). */
    static Q4_0Matrix repack(String name, int rows, int cols, MemorySegment blocks, boolean roundActivations) {
        ShortGemm.warmUpInBackground();
        return new Q4_0Matrix(name, rows, cols, Q4_0Tiles.repack(name, rows, cols, blocks), roundActivations, false);
    }

    @Override
    void prepareOne(Activations x) {
        x.q8Lanes(roundActivations);
    }

    @Override
    void matmulOne(Activations x, float[] y, int yOff, int r0, int r1) {
        Q8Lanes a = x.q8Lanes(roundActivations);
        if (!WIDE || kquant) {
            TileKernels.matmulOne(this, nb, a, y, yOff, r0, r1);
            return;
        }
        int r = pairStart(r0, r1), end = Math.min(r1, tiles * TR);
        if (r > r0) TileKernels.matmulOne(this, nb, a, y, yOff, r0, r);
        for (; r + 2 * TR <= end && layout.paired(r / TR); r += 2 * TR) pairProduct(data, layout.blockAt(r / TR, 0), nb, a, y, yOff + r);
        if (r < r1) TileKernels.matmulOne(this, nb, a, y, yOff, r, r1);
    }

    @Override
    public int tiledRows() {
        return tiles * TR;
    }

    /**
     * Several tokens, four at a time, then two, then one: each nibble taken out of the weights serves every
     * token of the group (the integer sums are exact, so each token's result is the one it gets alone).
     */
    @Override
    void matmulFew(Activations x, float[] y, int yStride, int yOff, int r0, int r1) {
        int T = x.tokens(), t = 0;
        while (t + 4 <= T) {
            int end = Math.min(T, t + GROUP) & ~3;
            quads(x, t, end, y, yStride, yOff, r0, r1);
            t = end;
        }
        for (; t + 2 <= T; t += 2) pair(x.token(t), x.token(t + 1), y, yOff + t * yStride, yOff + (t + 1) * yStride, r0, r1);
        if (t < T) matmulOne(x.token(t), y, yOff + t * yStride, r0, r1);
    }

    /** The first row at or after r0 (at most r1) where a pair of tiles starts: the few-token kernels run from there. */
    private int pairStart(int r0, int r1) {
        int t = (r0 + TR - 1) / TR;
        if (!pairStarts(t)) t++;
        return Math.min(r1, t * TR);
    }

    /**
     * Tokens [t0, t1) (a multiple of 4 of them), rows [r0, r1): pairs of whole tiles through
     * {@link #integerSums2x4}, every quad of tokens against one pair before the next, so that the pair's weights
     * are read from memory once per group and from the cache after; the rows outside whole pairs token by token.
     */
    private void quads(Activations x, int t0, int t1, float[] y, int yStride, int yOff, int r0, int r1) {
        int r = pairStart(r0, r1), end = Math.min(r1, tiles * TR);
        if (r > r0) for (int j = t0; j < t1; j++) matmulOne(x.token(j), y, yOff + j * yStride, r0, r);
        Q8Lanes[] q = new Q8Lanes[t1 - t0];
        for (int j = t0; j < t1; j++) q[j - t0] = x.token(j).q8Lanes(roundActivations);
        int region = nb * SUMS_BLOCK;
        short[] sums = sums(4 * region);
        for (; r + 2 * TR <= end; r += 2 * TR) {
            for (int j = 0; j < q.length; j += 4) {
                Q8Lanes a = q[j], b = q[j + 1], c = q[j + 2], d = q[j + 3];
                int ya = yOff + (t0 + j) * yStride + r;
                integerSums2x4(r / TR, a, b, c, d, sums, region);
                // one call site: C2 inlines finish here, and four copies of it ran past the node budget (vectors
                // then live on the heap: 748 collections in one pp512)
                for (int k = 0; k < 4; k++) finish(r / TR, 2, q[j + k], sums, k * region, y, ya + k * yStride);
            }
        }
        if (r < r1) for (int j = t0; j < t1; j++) matmulOne(x.token(j), y, yOff + j * yStride, r, r1);
    }

    /**
     * As {@link #integerSums} over tiles t and t+1 for four tokens, token j's sums at {@code j * region}: every
     * nibble serves four tokens and every activation two tiles, so the multiply-adds outnumber the rest three
     * to one. The activations come from their compact form (one int per position, broadcast), which keeps four
     * tokens of them in the first-level cache.
     */
    private void integerSums2x4(int t, Q8Lanes qa, Q8Lanes qb, Q8Lanes qc, Q8Lanes qd, short[] sums, int region) {
        if (WIDE && layout.paired(t)) {
            pairSums4(data, layout.blockAt(t, 0), nb, qa, qb, qc, qd, sums, region);
            return;
        }
        long o = layout.blockAt(t, 0), p = layout.blockAt(t + 1, 0);
        int so = layout.stride(t), sp = layout.stride(t + 1), stepO = layout.step(t), stepP = layout.step(t + 1);
        int[] xa = qa.pairs, xb = qb.pairs, xc = qc.pairs, xd = qd.pairs;
        for (int blk = 0; blk < nb; blk++, o += stepO, p += stepP) {
            ShortVector a0 = ShortVector.zero(SS), a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0, d0 = a0, d1 = a0;
            int xo = blk * 32;
            long oi = o, pi = p; // by pointer steps: strides as multipliers held one register per vector and spilled
            for (int i = 0; i < 8; i++, oi += so, pi += sp) {
                ShortVector w = ShortVector.fromMemorySegment(SS, data, oi, LE);
                ShortVector v = ShortVector.fromMemorySegment(SS, data, pi, LE);
                // one body for the four nibbles (shift by 4k, then mask): C2 inlines a written-out version only in part
                // (its node budget), and with a switch on k (nibble) it leaves the loop rolled and branches
                for (int sh = 0; sh < 16; sh += 4) {
                    ShortVector nw = w.lanewise(VectorOperators.LSHR, sh).and((short) 15);
                    ShortVector nv = v.lanewise(VectorOperators.LSHR, sh).and((short) 15);
                    int xi = xo + i + 2 * sh;
                    ShortVector s = lanes(xa[xi]);
                    a0 = a0.add(nw.mul(s));
                    a1 = a1.add(nv.mul(s));
                    s = lanes(xb[xi]);
                    b0 = b0.add(nw.mul(s));
                    b1 = b1.add(nv.mul(s));
                    s = lanes(xc[xi]);
                    c0 = c0.add(nw.mul(s));
                    c1 = c1.add(nv.mul(s));
                    s = lanes(xd[xi]);
                    d0 = d0.add(nw.mul(s));
                    d1 = d1.add(nv.mul(s));
                }
            }
            int at = blk * SUMS_BLOCK;
            a0.intoArray(sums, at);
            a1.intoArray(sums, at + TR);
            b0.intoArray(sums, region + at);
            b1.intoArray(sums, region + at + TR);
            c0.intoArray(sums, 2 * region + at);
            c1.intoArray(sums, 2 * region + at + TR);
            d0.intoArray(sums, 3 * region + at);
            d1.intoArray(sums, 3 * region + at + TR);
        }
    }

    /**
     * Two tokens' rows [r0, r1): pairs of whole tiles through {@link #integerSums2x2}; the rows before the first
     * whole tile and after the last pair (a range cut inside a tile, an odd tile, rows past the tiles) through
     * {@link #matmulOne}, token by token.
     */
    private void pair(Activations xa, Activations xb, float[] y, int ya, int yb, int r0, int r1) {
        Q8Lanes a = xa.q8Lanes(roundActivations), b = xb.q8Lanes(roundActivations);
        int region = nb * SUMS_BLOCK;
        int r = pairStart(r0, r1), end = Math.min(r1, tiles * TR);
        if (r > r0) {
            matmulOne(xa, y, ya, r0, r);
            matmulOne(xb, y, yb, r0, r);
        }
        short[] sums = sums(2 * region);
        for (; r + 2 * TR <= end; r += 2 * TR) {
            integerSums2x2(r / TR, a, b, sums, region);
            // one call site for finish, for the node budget (see quads)
            for (int k = 0; k < 2; k++) finish(r / TR, 2, k == 0 ? a : b, sums, k * region, y, (k == 0 ? ya : yb) + r);
        }
        if (r < r1) {
            matmulOne(xa, y, ya, r, r1);
            matmulOne(xb, y, yb, r, r1);
        }
    }

    /** As {@link #integerSums} over tiles t and t+1, for two tokens at once: token a's sums at 0, b's at {@code region}. */
    private void integerSums2x2(int t, Q8Lanes a, Q8Lanes b, short[] sums, int region) {
        if (WIDE && layout.paired(t)) {
            pairSums2(data, layout.blockAt(t, 0), nb, a, b, sums, region);
            return;
        }
        long o = layout.blockAt(t, 0), p = layout.blockAt(t + 1, 0);
        int so = layout.stride(t), sp = layout.stride(t + 1), stepO = layout.step(t), stepP = layout.step(t + 1);
        int[] qa = a.pairs, qb = b.pairs;
        for (int blk = 0; blk < nb; blk++, o += stepO, p += stepP) {
            ShortVector c = ShortVector.zero(SS), e = c, f = c, g = c;
            int xo = blk * 32;
            long oi = o, pi = p; // by pointer steps: strides as multipliers held one register per vector and spilled
            for (int i = 0; i < 8; i++, oi += so, pi += sp) {
                ShortVector w = ShortVector.fromMemorySegment(SS, data, oi, LE);
                ShortVector v = ShortVector.fromMemorySegment(SS, data, pi, LE);
                for (int k = 0; k < 4; k++) {
                    ShortVector nw = nibble(w, k), nv = nibble(v, k);
                    int xi = xo + i + 8 * k;
                    ShortVector xa = lanes(qa[xi]);
                    c = c.add(nw.mul(xa));
                    e = e.add(nv.mul(xa));
                    ShortVector xb = lanes(qb[xi]);
                    f = f.add(nw.mul(xb));
                    g = g.add(nv.mul(xb));
                }
            }
            int at = blk * SUMS_BLOCK;
            c.intoArray(sums, at);
            e.intoArray(sums, at + TR);
            f.intoArray(sums, region + at);
            g.intoArray(sums, region + at + TR);
        }
    }

    // How the product is cut into methods matters as much as what it computes. C2 stops inlining once a
    // compiled method's graph passes a node budget, and a Vector API call it does not inline makes every vector
    // a heap object (measured: decode at 36-56 instead of 75 tokens/s, depending on what had been compiled
    // before). So the integer part of a product (integerSums, over 350 bytes of bytecode, which C2 never
    // inlines into its caller) runs apart from its float part (finish, small); the block sums go between them
    // through a buffer that stays in L1. The exception is a stored pair's one-token product at 512 bits
    // (pairProduct, a method of its own): there the float pass between two integer passes cost 20-30% of the
    // product from memory, against 13% in cache, and with both passes in one loop decode ran 1.2-1.3x faster.

    /**
     * The block sums of code * q (16 bits, wrapping; {@link #finish} makes them sum((code - 8) * q), exact) of
     * tiles t..t+n-1 (n = 1 or 2) into {@code sums}: per block,
     * {@link #SUMS_BLOCK} shorts, 16 per tile. Two tiles per pass when the rows allow: each activation
     * vector loaded once then serves 32 rows.
     */
    @Override
    public void integerSums(int t, int n, Q8Lanes a, short[] sums) {
        if (n == 2 && WIDE && layout.paired(t) && (t & 1) == 0) {
            pairSums(data, layout.blockAt(t, 0), nb, a, sums);
            return;
        }
        long o = layout.blockAt(t, 0), p = n == 2 ? layout.blockAt(t + 1, 0) : 0;
        int so = layout.stride(t), stepO = layout.step(t);
        int[] q = a.pairs;
        if (n == 2) {
            int sp = layout.stride(t + 1), stepP = layout.step(t + 1);
            for (int b = 0; b < nb; b++, o += stepO, p += stepP) {
                ShortVector c = ShortVector.zero(SS), e = c;
                int xo = b * 32;
                long oi = o, pi = p;
                for (int i = 0; i < 8; i++, oi += so, pi += sp) {
                    ShortVector w = ShortVector.fromMemorySegment(SS, data, oi, LE);
                    ShortVector v = ShortVector.fromMemorySegment(SS, data, pi, LE);
                    for (int k = 0; k < 4; k++) {
                        ShortVector xv = lanes(q[xo + i + 8 * k]);
                        c = c.add(nibble(w, k).mul(xv));
                        e = e.add(nibble(v, k).mul(xv));
                    }
                }
                c.intoArray(sums, b * SUMS_BLOCK);
                e.intoArray(sums, b * SUMS_BLOCK + TR);
            }
        } else {
            for (int b = 0; b < nb; b++, o += stepO) {
                ShortVector c = ShortVector.zero(SS);
                int xo = b * 32;
                long oi = o;
                for (int i = 0; i < 8; i++, oi += so) {
                    ShortVector w = ShortVector.fromMemorySegment(SS, data, oi, LE);
                    for (int k = 0; k < 4; k++) c = c.add(nibble(w, k).mul(lanes(q[xo + i + 8 * k])));
                }
                c.intoArray(sums, b * SUMS_BLOCK);
            }
        }
    }

    /**
     * Tiles t..t+n-1's results from their sums of code * q: per block, the sums less 8 * sum(q) (in 16 bits,
     * where they wrapped; read as ints: even shorts rows 0..7, odd shorts rows 8..15) times the activation and
     * row scales. The correction is taken off here rather than in the integer kernels, which C2 compiles
     * well only while they stay under its node budget.
     */
    @Override
    public void finish(int t, int n, Q8Lanes a, short[] sums, int base, float[] y, int yo) {
        if (kquant) {
            finishK(t, n, a, sums, base, y, yo);
            return;
        }
        if (n == 2 && WIDE && layout.paired(t) && (t & 1) == 0) {
            finishPair(data, layout.scalesAt(t, 0), layout.step(t), nb, a, sums, base, y, yo);
            return;
        }
        for (int u = 0; u < n; u++) finishTile(t + u, a, sums, base + TR * u, y, yo + TR * u);
    }

    /** As {@link #finish} for tile t alone, in 8 float lanes: rows 0..7, then rows 8..15. */
    private void finishTile(int t, Q8Lanes a, short[] sums, int slot, float[] y, int yo) {
        float[] dx = a.d;
        int[] corrs = a.corrs;
        long o = halfScales(t, 0, 0);
        int step = layout.step(t), up = (int) (halfScales(t, 0, 1) - o);
        FloatVector lo = FloatVector.zero(FS), hi = lo;
        for (int b = 0; b < nb; b++, o += step) {
            IntVector s = (IntVector) ShortVector.fromArray(SS, sums, b * SUMS_BLOCK + slot).sub(lanes(corrs[b])).reinterpretAsInts();
            float d = dx[b];
            lo = low(s).mul(d).fma(TileKernels.widen(data, o), lo);
            hi = high(s).mul(d).fma(TileKernels.widen(data, o + up), hi);
        }
        lo.intoArray(y, yo);
        hi.intoArray(y, yo + TR / 2);
    }

    /**
     * Byte of the 8 float16 scales of rows 8h..8h+7 of tile t in block b. A stored pair keeps both tiles' rows
     * 0..7 first, then both tiles' rows 8..15: the order of the pair's block sums read as 16 ints (low shorts rows
     * 0..7 of tile t then of tile t + 1), so that {@link #finishPair} widens each half with one load.
     */
    long halfScales(int t, int b, int h) {
        if (!layout.paired(t)) return layout.scalesAt(t, b) + (long) TR * h;
        return layout.scalesAt(t & ~1, b) + 2L * TR * h + (long) TR * (t & 1);
    }

    /**
     * As {@link #finish} for Q4_K tiles: per block, (sum(code * q) in float, the 16-bit sum corrected as for
     * Q4_0 and 8 * sum(q) added back) * dx * d * sc - sum(q) * dx * dmin * m, with d and dmin loaded once per
     * super-block.
     */
    private void finishK(int t, int n, Q8Lanes a, short[] sums, int base, float[] y, int yo) {
        if (n == 2 && WIDE && layout.paired(t) && (t & 1) == 0) {
            long sc = layout.scalesAt(t, 0);
            int step = layout.step(t);
            TileKernels.finishAffinePair(data, sc, step, layout.headsAt(t), layout.headsAt(t + 1), nb, 0, a, sums, base, y, yo);
            TileKernels.finishAffinePair(data, sc, step, layout.headsAt(t), layout.headsAt(t + 1), nb, 1, a, sums, base, y, yo);
            return;
        }
        for (int u = 0; u < n; u++) {
            // rows 0..7 and 8..15 in two passes: one pass over both ran past C2's node budget (boxed vectors, 6x slower)
            long sc = layout.blockAt(t + u, 0) + 8L * layout.stride(t + u), heads = layout.headsAt(t + u);
            int step = layout.step(t + u);
            TileKernels.finishAffineHalf(data, sc, step, heads, nb, 0, a, sums, base + TR * u, y, yo + u * TR);
            TileKernels.finishAffineHalf(data, sc, step, heads, nb, 1, a, sums, base + TR * u, y, yo + u * TR + TR / 2);
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
    @Override
    public float plainDot(int m, Q8Lanes a) {
        if (kquant) return Q4KTiles.plainDot(data, plain + (long) m * (nb / 8) * Q4KTiles.SUPER_BYTES, nb / 8, a);
        float sum = 0;
        for (int b = 0; b < nb; b++) {
            long at = plain + ((long) m * nb + b) * 16;
            int s = 0;
            for (int i = 0; i < 16; i++) {
                int v = data.get(ValueLayout.JAVA_BYTE, at + i) & 0xFF;
                s += ((v & 15) - 8) * a.value(b * 32 + i) + ((v >> 4) - 8) * a.value(b * 32 + 16 + i);
            }
            sum = Math.fma((float) s * a.d[b], plainScale(m, b), sum);
        }
        return sum;
    }

    float plainScale(int m, int b) {
        return Float.float16ToFloat(data.get(Layouts.I16, plainScales + ((long) m * nb + b) * 2));
    }

    /**
     * Rows [r, r + n), columns [k0, k1) (multiples of 32) as float32: dst[i * stride + c - k0]. The GEMM takes
     * them a chunk of rows at a time ({@link DecodedPanels}), so each weight is decoded once per product.
     */
    @Override
    void decode(int r, int n, int k0, int k1, float[] dst, int stride) {
        decode(r, n, k0, k1, dst, 0, stride);
    }

    private void decode(int r, int n, int k0, int k1, float[] dst, int off, int stride) {
        int tileEnd = tiles * TR, b0 = k0 / 32, b1 = k1 / 32;
        int[] packed = new int[8];
        for (int i = 0; i < n; i++) {
            int m = r + i, out = off + i * stride;
            if (m >= tileEnd) {
                plainRow(m - tileEnd, b0, b1, dst, out);
                continue;
            }
            if (kquant) {
                int t = m / TR;
                Q4KTiles.decodeRow(data, layout.blockAt(t, b0), layout.stride(t), layout.step(t), layout.headsAt(t), m % TR, b0, b1, dst, out, packed);
                continue;
            }
            int t = m / TR, row = m % TR, j = laneOf(row), vs = layout.stride(t), step = layout.step(t);
            long o = layout.blockAt(t, b0) + 2L * j, sc = halfScales(t, b0, row / 8) + 2L * (row % 8);
            for (int b = b0; b < b1; b++, o += step, sc += step, out += 32) {
                // the row's 8 shorts, one per int lane: nibble k of lane i is position i + 8k
                for (int s = 0; s < 8; s++) packed[s] = data.get(Layouts.I16, o + (long) vs * s);
                IntVector v = IntVector.fromArray(IS, packed, 0);
                float d = Float.float16ToFloat(data.get(Layouts.I16, sc));
                for (int k = 0; k < 4; k++) {
                    ((FloatVector) v.lanewise(VectorOperators.LSHR, 4 * k).and(15).convertShape(VectorOperators.I2F, FS, 0))
                            .sub(8f).mul(d).intoArray(dst, out + 8 * k);
                }
            }
        }
    }

    /** Whether long prompts take {@link ShortGemm}: Q4_0 (not Q4_K) on the default activation grid, at 512 bits. */
    private boolean shortGemm() {
        return ShortGemm.ON && !kquant && !roundActivations;
    }

    @Override
    void prepareMany(Activations x) {
        if (shortGemm()) x.shortTokens(); else super.prepareMany(x);
    }

    @Override
    void matmulMany(Activations x, float[] y, int yStride, int yOff, int r0, int r1) {
        if (shortGemm()) ShortGemm.matmul(this, x.shortTokens(), y, yStride, yOff, r0, r1);
        else super.matmulMany(x, y, yStride, yOff, r0, r1);
    }

    /**
     * The panel of ShortGemm's lanes from row r: {@link Q4_0Panels#fill}. ShortGemm calls it here: with the static
     * call in its chunk loop, pangu-embedded Q4_0 pp512 ran 8% slower (another inlining of that loop by C2).
     */
    void panel(int r, int[] codes, float[] scales, int[] rowOf) {
        Q4_0Panels.fill(this, r, codes, scales, rowOf);
    }

    @Override
    public void row(int r, float[] out, int off) {
        decode(r, 1, 0, cols, out, off, cols);
    }

    /** Blocks [b0, b1) of row m past the last whole tile, into out from {@code off}. */
    private void plainRow(int m, int b0, int b1, float[] out, int off) {
        if (kquant) {
            float[] sb = new float[Q4KTiles.SUPER];
            long at = plain + (long) m * (nb / 8) * Q4KTiles.SUPER_BYTES;
            for (int b = b0; b < b1; b++, off += 32) {
                if (b == b0 || b % 8 == 0) GgmlQuants.q4_K(data, at + (long) (b / 8) * Q4KTiles.SUPER_BYTES, sb, 0);
                System.arraycopy(sb, (b % 8) * 32, out, off, 32);
            }
            return;
        }
        for (int b = b0; b < b1; b++, off += 32) {
            float d = plainScale(m, b);
            long at = plain + ((long) m * nb + b) * 16;
            for (int i = 0; i < 16; i++) {
                int v = data.get(ValueLayout.JAVA_BYTE, at + i) & 0xFF;
                out[off + i] = d * ((v & 15) - 8);
                out[off + 16 + i] = d * ((v >> 4) - 8);
            }
        }
    }

    /**
     * The ggml size ({@value #BLOCK_BYTES} bytes per block of 32), as in the file and in llama.cpp's model size,
     * and the size of the repacked copy.
     */
    @Override
    public long bytes() {
        return kquant ? (long) rows * (nb / 8) * Q4KTiles.SUPER_BYTES : (long) rows * nb * BLOCK_BYTES;
    }

    private static final int BLOCK_BYTES = 18;
}
