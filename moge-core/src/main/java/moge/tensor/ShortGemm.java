package moge.tensor;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Q4_0 weights times many tokens (a long prompt) in 16-bit integers, at 512 bits: the float GEMM ({@link Gemm})
 * ran at 86% of the FMA peak there, and one {@code vpmullw} plus one {@code vpaddw} do 32 multiply-adds where an
 * FMA does 16 (a probe on Zen 5: 155-169 G multiply-adds a second on one thread against 100-109 for the float
 * loop; with each block's sums taken to float, 124-133).
 * <p>
 * The tokens are quantized per block of 32 columns on {@link Q8Lanes}'s default grid (d = sum|x| / 4064, the
 * same values the decode kernels multiply), so a
 * block's sum of (code - 8) * q over its 32 columns fits a short exactly; it is widened to float once per block
 * and multiplied by the weight's and the token's scales. A panel holds {@link #ROWS} rows' codes minus 8, each
 * stored twice in an int so that one 32-bit broadcast load spreads it over all short lanes; the kernel multiplies
 * it with {@link #TILE} tokens (two vectors of 32 shorts) per column.
 * <p>
 * Results differ from the float path by the activations' rounding (the same as the decode kernels' for up to
 * {@link Q4_0Matrix#FEW_TOKENS} tokens), and each output sums its blocks in column order whatever the row split,
 * so they do not depend on the thread count.
 */
final class ShortGemm {
    private static final VectorSpecies<Short> SS = ShortVector.SPECIES_512;
    private static final VectorSpecies<Integer> IS = IntVector.SPECIES_512;
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_512, F8 = FloatVector.SPECIES_256;
    /**
     * Whether this path runs: only with 512-bit vectors, where it was measured; {@code -Dmoge.shortGemm=false}
     * keeps the float GEMM (for side-by-side figures).
     */
    static final boolean ON = FloatVector.SPECIES_PREFERRED.length() >= 16 && !"false".equals(System.getProperty("moge.shortGemm"));
    /** Rows a kernel pass holds (one accumulator each per vector of 32 tokens), and rows a decoded panel holds. */
    static final int ROWS = 8, LANES = 32;
    /** Ints of one block's sums: two per accumulator lane, 16 accumulators. */
    private static final int SUMS = 2 * ROWS * 16;
    static final int TILE = 64;
    /** Rows decoded at once and met by every tile of tokens while they stay in L2 (512 KiB at 2048 columns). */
    private static final int CHUNK = 2 * LANES;

    private ShortGemm() {
    }

    /**
     * The tokens quantized for the kernel. Per tile of {@link #TILE} tokens: q[(tile * cols + c) * TILE + j] for
     * token j of the tile; d[(tile * nb + b) * TILE + slot(j)], the slots in the order the kernel's sums come out
     * of their shorts (per vector of 32 tokens, even tokens then odd ones). Tokens past the end are zero.
     */
    static final class Tokens {
        short[] q = new short[0];
        float[] d = new float[0];
        int tokens, cols;
        boolean valid;

        void build(float[] x, int off, int T, int cols, Parallel team) {
            int tiles = (T + TILE - 1) / TILE, nb = cols / 32;
            if (q.length < tiles * TILE * cols) q = new short[tiles * TILE * cols];
            if (d.length < tiles * TILE * nb) d = new float[tiles * TILE * nb];
            tokens = T;
            this.cols = cols;
            if (team != null) team.forRange(tiles, 1, (long) T * cols, (i0, i1) -> quantize(x, off, i0, i1));
            else quantize(x, off, 0, tiles);
            valid = true;
        }

        private void quantize(float[] x, int off, int i0, int i1) {
            int nb = cols / 32;
            float[] lanes = new float[8];
            int[] ints = new int[32];
            for (int i = i0; i < i1; i++) {
                for (int j = 0; j < TILE; j++) {
                    int t = i * TILE + j, qo = i * cols * TILE + j;
                    if (t >= tokens) {
                        for (int c = 0; c < cols; c++) q[qo + c * TILE] = 0;
                        for (int b = 0; b < nb; b++) d[(i * nb + b) * TILE + slot(j)] = 0f;
                        continue;
                    }
                    for (int b = 0; b < nb; b++, qo += 32 * TILE) {
                        int src = off + t * cols + b * 32;
                        FloatVector x0 = FloatVector.fromArray(F8, x, src), x1 = FloatVector.fromArray(F8, x, src + 8);
                        FloatVector x2 = FloatVector.fromArray(F8, x, src + 16), x3 = FloatVector.fromArray(F8, x, src + 24);
                        // added in Q8Lanes' order, so that a token lands on the grid the decode kernels give it
                        x0.abs().add(x1.abs()).add(x2.abs().add(x3.abs())).intoArray(lanes, 0);
                        float sum = 0;
                        for (int k = 0; k < 8; k++) sum += lanes[k];
                        float inv = sum > 0 ? Q8Lanes.SUM / sum : 0f;
                        rounded(x0, inv).intoArray(ints, 0);
                        rounded(x1, inv).intoArray(ints, 8);
                        rounded(x2, inv).intoArray(ints, 16);
                        rounded(x3, inv).intoArray(ints, 24);
                        for (int c = 0; c < 32; c++) q[qo + c * TILE] = (short) ints[c];
                        d[(i * nb + b) * TILE + slot(j)] = sum / Q8Lanes.SUM;
                    }
                }
            }
        }

        /** x * inv rounded to the nearest integer, ties to even (as Q8Lanes rounds). */
        private static IntVector rounded(FloatVector x, float inv) {
            return (IntVector) x.mul(inv).add(Q8Lanes.ROUND).sub(Q8Lanes.ROUND).convertShape(VectorOperators.F2I, IntVector.SPECIES_256, 0);
        }
    }

    private static final java.util.concurrent.atomic.AtomicBoolean WARMING = new java.util.concurrent.atomic.AtomicBoolean();

    /** Runs {@link #warmUp} on a daemon thread, once per process: called when a Q4_0 matrix is loaded. */
    static void warmUpInBackground() {
        if (!ON || !WARMING.compareAndSet(false, true)) return;
        Thread t = new Thread(ShortGemm::warmUp, "moge-short-gemm-warm-up");
        t.setDaemon(true);
        t.start();
    }

    /**
     * Gets the kernels compiled through short products (32 rows, 64 columns, 64 tokens of zeros) before a prompt runs
     * them, for the reason {@link Gemm#warmUp} gives: a loop first compiled on stack replacement inside a long call
     * can keep a version whose Vector API intrinsics failed. Stops after 1,000 products under 20 us each (compiled,
     * one takes about 6 us on Zen 5, interpreted a millisecond or more; counted in all, not in a row, since a
     * busy host stretches a few of them), or after 2 s.
     */
    private static void warmUp() {
        int rows = LANES, cols = 64;
        Q4_0Matrix w = Q4_0Matrix.repack("warm-up", rows, cols, MemorySegment.ofArray(new byte[rows * cols / 32 * 18]), false);
        float[] x = new float[TILE * cols], y = new float[TILE * rows];
        Tokens tokens = new Tokens();
        long until = System.nanoTime() + 2_000_000_000L;
        for (int quick = 0; quick < 1000 && System.nanoTime() < until; ) {
            long t0 = System.nanoTime();
            tokens.build(x, 0, TILE, cols, null);
            matmul(w, tokens, y, rows, 0, 0, rows);
            if (System.nanoTime() - t0 < 20_000) quick++;
        }
    }

    /** Where token j of a tile has its scale and result: per vector of 32, even tokens, then odd ones. */
    static int slot(int j) {
        return (j & ~31) + (j & 1) * 16 + (j & 31) / 2;
    }

    /** Scratch of one thread: a chunk's panels, a block's sums and a tile's results. */
    private static final class Scratch {
        int[][] codes = new int[0][];
        float[][] scales = new float[0][];
        int[][] rowOf = new int[0][];
        final int[] sums = new int[2 * SUMS];
        final float[] acc = new float[ROWS * TILE];

        void fit(int panels, int cols) {
            int nb = cols / 32;
            if (codes.length < panels || codes[0].length < LANES * cols) {
                codes = new int[panels][LANES * cols];
                scales = new float[panels][LANES * nb];
                rowOf = new int[panels][LANES];
            }
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /**
     * y[t * yStride + yOff + r] = W[r] . x_t for rows [r0, r1) and all tokens of x. Panels of {@link #LANES} rows
     * start at multiples of 32 (a pair of Q4_0 tiles, see {@link Q4_0Panels#fill}); a panel's lanes outside
     * [r0, r1) are computed only when their group of {@link #ROWS} holds a row inside.
     */
    static void matmul(Q4_0Matrix w, Tokens x, float[] y, int yStride, int yOff, int r0, int r1) {
        int cols = x.cols, nb = cols / 32, T = x.tokens, tiles = (T + TILE - 1) / TILE;
        Scratch s = SCRATCH.get();
        s.fit(CHUNK / LANES, cols);
        for (int c0 = r0 / LANES * LANES; c0 < r1; c0 += CHUNK) {
            int panels = 0;
            for (int r = c0; r < Math.min(r1, c0 + CHUNK); r += LANES) w.panel(r, s.codes[panels], s.scales[panels], s.rowOf[panels++]);
            for (int i = 0; i < tiles; i++) {
                int tn = Math.min(TILE, T - i * TILE);
                for (int p = 0; p < panels; p++) {
                    int[] rowOf = s.rowOf[p];
                    for (int g = 0; g < LANES; g += ROWS) {
                        if (!anyIn(rowOf, g, r0, r1)) continue;
                        tile(s.codes[p], g, s.scales[p], nb, x.q, i * cols * TILE, x.d, i * nb * TILE, s.sums, s.acc);
                        boolean all = allIn(rowOf, g, r0, r1);
                        for (int j = 0; j < tn; j++) {
                            int at = slot(j), yo = (i * TILE + j) * yStride + yOff;
                            for (int k = 0; k < ROWS; k++) {
                                int row = rowOf[g + k];
                                if (all || row >= r0 && row < r1) y[yo + row] = s.acc[k * TILE + at];
                            }
                        }
                    }
                }
            }
        }
    }

    private static boolean allIn(int[] rowOf, int g, int r0, int r1) {
        for (int k = g; k < g + ROWS; k++) if (rowOf[k] < r0 || rowOf[k] >= r1) return false;
        return true;
    }

    private static boolean anyIn(int[] rowOf, int g, int r0, int r1) {
        for (int k = g; k < g + ROWS; k++) if (rowOf[k] >= r0 && rowOf[k] < r1) return true;
        return false;
    }

    /**
     * Lanes [g, g + ROWS) of a panel against one tile of tokens, all blocks: each block's 16-bit sums
     * ({@link #blockSums}) widened to float, times the row's and the tokens' scales, into acc[k * TILE + slot]. An
     * int lane of the sums holds an even token's sum (low short) and the next odd one's (high short).
     */
    private static void tile(int[] codes, int g, float[] ws, int nb, short[] xq, int xo, float[] xd, int xdo, int[] sums, float[] acc) {
        java.util.Arrays.fill(acc, 0f);
        // block b's sums are widened after block b + 1's are made, so that their loads never wait on the stores
        int wo = g / ROWS * nb * 32 * ROWS;
        blockSums(codes, wo, xq, xo, sums, 0);
        for (int b = 0; b < nb; b++) {
            if (b + 1 < nb) blockSums(codes, wo + (b + 1) * 32 * ROWS, xq, xo + (b + 1) * 32 * TILE, sums, ((b + 1) & 1) * SUMS);
            widen(sums, (b & 1) * SUMS, ws, g * nb + b, nb, xd, xdo + b * TILE, acc);
        }
    }

    /**
     * Adds one block's sums (8 rows, two vectors of 32 tokens each) times the rows' scales ws[wi + k * nb] and the
     * tokens' scales to acc. Kept small and apart from {@link #tile}: written inside its loop, with every index
     * computed there, C2 spilled the loop's values to the stack and the widening took 30% of a product's time.
     */
    private static void widen(int[] sums, int so, float[] ws, int wi, int nb, float[] xd, int xdb, float[] acc) {
        FloatVector d0 = FloatVector.fromArray(FS, xd, xdb), d1 = FloatVector.fromArray(FS, xd, xdb + 16);
        FloatVector d2 = FloatVector.fromArray(FS, xd, xdb + 32), d3 = FloatVector.fromArray(FS, xd, xdb + 48);
        for (int k = 0, ao = 0; k < ROWS; k++, so += 32, wi += nb, ao += TILE) {
            float dw = ws[wi];
            IntVector s0 = IntVector.fromArray(IS, sums, so), s1 = IntVector.fromArray(IS, sums, so + 16);
            FloatVector e0 = (FloatVector) s0.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0);
            FloatVector o0 = (FloatVector) s0.lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0);
            FloatVector e1 = (FloatVector) s1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0);
            FloatVector o1 = (FloatVector) s1.lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0);
            e0.mul(dw).fma(d0, FloatVector.fromArray(FS, acc, ao)).intoArray(acc, ao);
            o0.mul(dw).fma(d1, FloatVector.fromArray(FS, acc, ao + 16)).intoArray(acc, ao + 16);
            e1.mul(dw).fma(d2, FloatVector.fromArray(FS, acc, ao + 32)).intoArray(acc, ao + 32);
            o1.mul(dw).fma(d3, FloatVector.fromArray(FS, acc, ao + 48)).intoArray(acc, ao + 48);
        }
    }

    private static final VectorMask<Integer> FIRST = VectorMask.fromLong(IS, 0xFFL), SECOND = VectorMask.fromLong(IS, 0xFF00L);
    private static final VectorShuffle<Short> LOW = VectorShuffle.fromOp(SS, i -> i / 2), HIGH = VectorShuffle.fromOp(SS, i -> 16 + i / 2);

    /**
     * A pair of Q4_0 tiles' codes (blocks from {@code at}, vector i of a block {@code stride} bytes after vector
     * i - 1, blocks {@code step} apart) into {@code codes} as {@link Q4_0Panels#fill} lays them out, each code - 8 twice in an int: nibble k of
     * short lane {@code lane} of vector i is column i + 8k of that lane's row.
     */
    static void decodePairs(MemorySegment data, long at, int stride, int step, int nb, int[] codes) {
        int cols = nb * 32;
        for (int b = 0; b < nb; b++, at += step) {
            for (int i = 0; i < 8; i++) {
                ShortVector v = ShortVector.fromMemorySegment(SS, data, at + (long) i * stride, ByteOrder.LITTLE_ENDIAN);
                for (int k = 0; k < 4; k++) {
                    ShortVector c = v.lanewise(VectorOperators.LSHR, 4 * k).and((short) 15).sub((short) 8);
                    // lanes 0..7 go to group 0's codes, 8..15 to group 1's (a masked store each), and so on
                    int o = (b * 32 + i + 8 * k) * ROWS, group = cols * ROWS;
                    IntVector low = c.rearrange(LOW).reinterpretAsInts(), high = c.rearrange(HIGH).reinterpretAsInts();
                    low.intoArray(codes, o, FIRST);
                    low.intoArray(codes, o + group - ROWS, SECOND);
                    high.intoArray(codes, o + 2 * group, FIRST);
                    high.intoArray(codes, o + 3 * group - ROWS, SECOND);
                }
            }
        }
    }

    /**
     * One block of 32 columns: for each of the 8 rows and both vectors of 32 tokens, the 16-bit sums of code * q
     * (exact: see the class comment), as ints into {@code sums} (16 per row and vector, two shorts each).
     */
    private static void blockSums(int[] w, int wo, short[] x, int xo, int[] sums, int so) {
        ShortVector a0 = ShortVector.zero(SS), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        ShortVector b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0, b6 = a0, b7 = a0;
        for (int p = 0; p < 32; p++, wo += ROWS, xo += TILE) {
            ShortVector u = ShortVector.fromArray(SS, x, xo), v = ShortVector.fromArray(SS, x, xo + 32);
            ShortVector c = IntVector.broadcast(IS, w[wo]).reinterpretAsShorts();
            a0 = a0.add(c.mul(u));
            b0 = b0.add(c.mul(v));
            c = IntVector.broadcast(IS, w[wo + 1]).reinterpretAsShorts();
            a1 = a1.add(c.mul(u));
            b1 = b1.add(c.mul(v));
            c = IntVector.broadcast(IS, w[wo + 2]).reinterpretAsShorts();
            a2 = a2.add(c.mul(u));
            b2 = b2.add(c.mul(v));
            c = IntVector.broadcast(IS, w[wo + 3]).reinterpretAsShorts();
            a3 = a3.add(c.mul(u));
            b3 = b3.add(c.mul(v));
            c = IntVector.broadcast(IS, w[wo + 4]).reinterpretAsShorts();
            a4 = a4.add(c.mul(u));
            b4 = b4.add(c.mul(v));
            c = IntVector.broadcast(IS, w[wo + 5]).reinterpretAsShorts();
            a5 = a5.add(c.mul(u));
            b5 = b5.add(c.mul(v));
            c = IntVector.broadcast(IS, w[wo + 6]).reinterpretAsShorts();
            a6 = a6.add(c.mul(u));
            b6 = b6.add(c.mul(v));
            c = IntVector.broadcast(IS, w[wo + 7]).reinterpretAsShorts();
            a7 = a7.add(c.mul(u));
            b7 = b7.add(c.mul(v));
        }
        // vectors are never passed to a helper: one C2 declines to inline would box them
        a0.reinterpretAsInts().intoArray(sums, so);
        b0.reinterpretAsInts().intoArray(sums, so + 16);
        a1.reinterpretAsInts().intoArray(sums, so + 32);
        b1.reinterpretAsInts().intoArray(sums, so + 48);
        a2.reinterpretAsInts().intoArray(sums, so + 64);
        b2.reinterpretAsInts().intoArray(sums, so + 80);
        a3.reinterpretAsInts().intoArray(sums, so + 96);
        b3.reinterpretAsInts().intoArray(sums, so + 112);
        a4.reinterpretAsInts().intoArray(sums, so + 128);
        b4.reinterpretAsInts().intoArray(sums, so + 144);
        a5.reinterpretAsInts().intoArray(sums, so + 160);
        b5.reinterpretAsInts().intoArray(sums, so + 176);
        a6.reinterpretAsInts().intoArray(sums, so + 192);
        b6.reinterpretAsInts().intoArray(sums, so + 208);
        a7.reinterpretAsInts().intoArray(sums, so + 224);
        b7.reinterpretAsInts().intoArray(sums, so + 240);
    }

}
