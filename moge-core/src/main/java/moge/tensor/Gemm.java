package moge.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Matrix-matrix product for several tokens (prefill, verification, batched decode), shared by every storage
 * format: a panel of {@link #ROWS} weight rows by {@link #KP} columns is decoded to float32 once (it stays in
 * L1), then multiplied against tiles of {@link #TILE} tokens read from {@link Activations#tokenMajor}: each
 * step broadcasts one weight and multiplies it with a vector of tokens, so there are no horizontal sums.
 * Tokens are taken {@link #GROUP} at a time so that their activations stay in L2 while the rows stream by.
 * <p>
 * Each output (row, token) is summed over k in the same order whatever the row split, the row's position
 * in its panel or the token's position in its tile, so results do not depend on the thread count.
 */
final class Gemm {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final int L = FS.length();
    static final int ROWS = 4;
    static final int TILE = 2 * L;
    /**
     * Whether vectors are 512 bits: a tile then holds 32 tokens, so products of up to 16 tokens (batched decode,
     * speculative verification) take paths of their own rather than multiply a vector of padding, and the
     * few-token thresholds of the formats move (each says by how much, and why).
     */
    static final boolean WIDE = L >= 16;
    static final int KP = 512;
    /**
     * Whether tiles go through {@link #kernel2} two at a time: at 512 bits (32 vector registers), where the
     * 16 accumulators fit. On Zen 5, whose two 512-bit FMA pipes one tile's four broadcasts and two loads per eight
     * FMAs left a quarter idle, a product of 512 tokens ran 9-15% faster (BENCHMARKS section 2, Zen 5 block).
     */
    static final boolean PAIRS = WIDE;
    static final int GROUP = 4 * TILE;
    /**
     * Finished results wait in a block of this many rows by the group's tokens (8 KiB, in L1) and go to y a
     * contiguous run per token: written into y directly, each tile's 4 x 16 results landed 16 bytes in each of
     * 16 rows a token apart, which cost a 2048 x 192 product (a MoE down projection, whose short rows give few
     * multiply-adds per result) 40% of its time at 512 tokens.
     */
    static final int OUT_ROWS = 32;
    /** Up to this many bytes of a group's activations, rows are the outer loop (half of a 512 KB L2). */
    private static final long ROW_ORDER_BYTES = 256 * 1024;
    /** Whether {@link #warmUp} has run, and whether a thread has been started for it. */
    private static volatile boolean warm;
    private static final AtomicBoolean WARMING = new AtomicBoolean();

    /** Decodes rows [r, r + n) and columns [k0, k1) of a weight matrix to float32: dst[i * stride + k - k0]. */
    interface Source {
        void decode(int r, int n, int k0, int k1, float[] dst, int stride);

        /**
         * The panel of rows [r, r + n) and columns [k0, k1) as the kernel reads it (row i from i * KP): decoded
         * into {@code scratch}, or one decoded already for every group of tokens ({@link DecodedPanels}), so that
         * the kernel never takes an offset (BENCHMARKS section 2: one more cost Q8_0 products 9-28%).
         */
        default float[] panel(int r, int n, int k0, int k1, float[] scratch) {
            decode(r, n, k0, k1, scratch, KP);
            return scratch;
        }
    }

    private Gemm() {
    }

    /**
     * Whether T tokens run faster here than in the register tiles of {@link FewTokens}, whose cost grows with T
     * while this one's grows with whole tiles: from {@code minTokens} on, when padding T to whole tiles adds less
     * than {@code maxPadding} (F32: 16 tokens 12.6 ms here vs 14.6 there, eight 2048x2048 matrices on AVX2,
     * 2 threads). BF16 chooses by token count instead, with {@link Bf16TokenLanes} between the tiles and this
     * (see BF16Matrix.tokenMajor).
     */
    static boolean wins(int T, int minTokens, double maxPadding) {
        if (T > FewTokens.MAX) return true;
        int padded = (T + TILE - 1) / TILE * TILE;
        return T >= minTokens && padded < maxPadding * T;
    }

    /**
     * y[t * yStride + yOff + r] = W[r] . x_t for rows [r0, r1) and tokens [0, T), the tokens given in the
     * tiles of {@link Activations#tokenMajor} (or its Q8_0-rounded form).
     */
    static void matmul(Source w, int cols, float[] xt, int T, float[] y, int yStride, int yOff, int r0, int r1) {
        if (!warm) warmUp();
        if (NarrowGemm.takes(T)) {
            NarrowGemm.matmul(w, cols, xt, T, y, yStride, yOff, r0, r1);
            return;
        }
        matmulTiles(w, cols, xt, T, y, yStride, yOff, r0, r1);
    }

    /** {@link #matmul} in whole tiles of tokens (more than {@link NarrowGemm} takes). */
    private static void matmulTiles(Source w, int cols, float[] xt, int T, float[] y, int yStride, int yOff, int r0, int r1) {
        float[] panel = new float[ROWS * KP];
        float[] tmp = new float[ROWS * GROUP];
        // partial sums of the group's tokens between panels, [row - r0][token - g0], so that y (strided by
        // token) is written once per group instead of once per panel
        float[] part = cols > KP ? new float[(r1 - r0 + ROWS) * GROUP] : null;
        float[] out = new float[GROUP * OUT_ROWS];
        for (int g0 = 0; g0 < T; g0 += GROUP) {
            int g1 = Math.min(T, g0 + GROUP);
            if ((long) cols * (g1 - g0) * Float.BYTES <= ROW_ORDER_BYTES) {
                // the group's activations stay in L2 for a whole row, so each row is read front to back: a
                // few long streams the prefetcher follows, not 2 KB pieces of every row one after another
                for (int r = r0; r < r1; r += ROWS) {
                    for (int k0 = 0; k0 < cols; k0 += KP) panel(w, cols, xt, T, r0, g0, g1, k0, r, r1, panel, tmp, part, out);
                    flushIfDone(out, g0, g1, r0, r, r1, y, yStride, yOff);
                }
            } else {
                for (int k0 = 0; k0 < cols; k0 += KP) {
                    for (int r = r0; r < r1; r += ROWS) {
                        panel(w, cols, xt, T, r0, g0, g1, k0, r, r1, panel, tmp, part, out);
                        if (k0 + KP >= cols) flushIfDone(out, g0, g1, r0, r, r1, y, yStride, yOff);
                    }
                }
            }
        }
    }

    /**
     * Once the rows of an {@link #OUT_ROWS} block are finished for the group ({@code r} its last row step),
     * copies them from {@code out} ([token - g0][row in block]) to y, a contiguous run per token.
     */
    private static void flushIfDone(float[] out, int g0, int g1, int r0, int r, int r1, float[] y, int yStride, int yOff) {
        int next = Math.min(r1, r + ROWS);
        if ((next - r0) % OUT_ROWS != 0 && next != r1) return;
        int rb = r0 + (r - r0) / OUT_ROWS * OUT_ROWS;
        for (int t = g0; t < g1; t++) System.arraycopy(out, (t - g0) * OUT_ROWS, y, t * yStride + yOff + rb, next - rb);
    }

    private static void panel(Source w, int cols, float[] xt, int T, int r0, int g0, int g1, int k0, int r, int r1,
                              float[] panel, float[] tmp, float[] part, float[] out) {
        int k1 = Math.min(cols, k0 + KP), n = Math.min(ROWS, r1 - r);
        panel = w.panel(r, n, k0, k1, panel);
        int ob = (r - r0) % OUT_ROWS;
        for (int t0 = g0; t0 < g1; t0 += TILE) {
            if (PAIRS && t0 + TILE < g1) {
                int xa = (t0 / TILE) * cols * TILE;
                kernel2(panel, xt, xa, xa + cols * TILE, k0, k1, cols, part, (r - r0) * GROUP + t0 - g0,
                        tmp, out, (t0 - g0) * OUT_ROWS + ob, n, TILE, Math.min(TILE, T - t0 - TILE));
                t0 += TILE;
                continue;
            }
            kernel(panel, xt, (t0 / TILE) * cols * TILE, k0, k1, cols, part, (r - r0) * GROUP + t0 - g0,
                    tmp, out, (t0 - g0) * OUT_ROWS + ob, n, Math.min(TILE, T - t0));
        }
    }

    // Keep this loop as it is, in a method of its own, and measure any change to it alone, on every format
    // (BENCHMARKS section 2, "Tried, not kept" under run 20261130-081132, and "Tried and reverted: Q4_0 prefill
    // reading its decoded panels in place"): with four row offsets instead of constant strides C2 parked general
    // registers in vector ones and every format's GEMM lost a third; one panel offset more cost Q8_0 products
    // 9-28% in 4 of 5 pairs (hence Source.panel: a format lends a whole panel array, never an offset into one);
    // the same loop in a probe, inlined where its trip count was constant, was unrolled with accumulators on the
    // stack and ran at half speed. At this size (over 325 bytes of bytecode) C2 does not inline it.
    private static void kernel(float[] panel, float[] xt, int xBase, int k0, int k1, int cols, float[] part, int po,
                               float[] tmp, float[] out, int oo, int n, int tn) {
        FloatVector a00, a01, a10, a11, a20, a21, a30, a31;
        if (k0 == 0) {
            a00 = FloatVector.zero(FS);
            a01 = a00;
            a10 = a00;
            a11 = a00;
            a20 = a00;
            a21 = a00;
            a30 = a00;
            a31 = a00;
        } else {
            a00 = FloatVector.fromArray(FS, part, po);
            a01 = FloatVector.fromArray(FS, part, po + L);
            a10 = FloatVector.fromArray(FS, part, po + GROUP);
            a11 = FloatVector.fromArray(FS, part, po + GROUP + L);
            a20 = FloatVector.fromArray(FS, part, po + 2 * GROUP);
            a21 = FloatVector.fromArray(FS, part, po + 2 * GROUP + L);
            a30 = FloatVector.fromArray(FS, part, po + 3 * GROUP);
            a31 = FloatVector.fromArray(FS, part, po + 3 * GROUP + L);
        }
        int len = k1 - k0;
        int xo = xBase + k0 * TILE;
        for (int p = 0; p < len; p++, xo += TILE) {
            FloatVector xa = FloatVector.fromArray(FS, xt, xo);
            FloatVector xb = FloatVector.fromArray(FS, xt, xo + L);
            FloatVector w = FloatVector.broadcast(FS, panel[p]);
            a00 = w.fma(xa, a00);
            a01 = w.fma(xb, a01);
            w = FloatVector.broadcast(FS, panel[KP + p]);
            a10 = w.fma(xa, a10);
            a11 = w.fma(xb, a11);
            w = FloatVector.broadcast(FS, panel[2 * KP + p]);
            a20 = w.fma(xa, a20);
            a21 = w.fma(xb, a21);
            w = FloatVector.broadcast(FS, panel[3 * KP + p]);
            a30 = w.fma(xa, a30);
            a31 = w.fma(xb, a31);
        }
        if (k1 < cols) {
            a00.intoArray(part, po);
            a01.intoArray(part, po + L);
            a10.intoArray(part, po + GROUP);
            a11.intoArray(part, po + GROUP + L);
            a20.intoArray(part, po + 2 * GROUP);
            a21.intoArray(part, po + 2 * GROUP + L);
            a30.intoArray(part, po + 3 * GROUP);
            a31.intoArray(part, po + 3 * GROUP + L);
            return;
        }
        // vectors are never passed to a helper: a helper C2 declines to inline would box them
        a00.intoArray(tmp, 0);
        a01.intoArray(tmp, L);
        a10.intoArray(tmp, TILE);
        a11.intoArray(tmp, TILE + L);
        a20.intoArray(tmp, 2 * TILE);
        a21.intoArray(tmp, 2 * TILE + L);
        a30.intoArray(tmp, 3 * TILE);
        a31.intoArray(tmp, 3 * TILE + L);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < tn; j++) out[oo + j * OUT_ROWS + i] = tmp[i * TILE + j];
        }
    }

    /** Runs {@link #warmUp} on a daemon thread (once per process), so that it overlaps a model's loading. */
    static void warmUpInBackground() {
        if (warm || !WARMING.compareAndSet(false, true)) return;
        Thread t = new Thread(Gemm::warmUp, "moge-gemm-warm-up");
        t.setDaemon(true);
        t.start();
    }

    /**
     * Gets {@link #kernel} and {@link #kernel2} compiled by C2 through short calls (64 multiply-add steps each) before
     * any product runs them for 512 steps a call. Reached first through long calls, a kernel's loop was compiled on
     * stack replacement first, and in processes that ran both kernels (prompts of 160 and then 512 tokens) the one
     * that became hot second kept running a compiled version whose Vector API intrinsics had failed: 7-10 GFLOP/s
     * instead of 130-160, allocating a float[] per FMA (BENCHMARKS section 2, Zen 5 block). Stops once calls run at
     * compiled speed (500 calls in a row under 20 us; about 0.7 s on Zen 5, most of it before C2 has compiled them), or
     * after 2 s; the products it runs are on zeros, discarded.
     */
    private static synchronized void warmUp() {
        if (warm) return;
        int cols = 64, T = 3 * TILE; // one pair of tiles and one tile alone: both kernels
        float[] xt = new float[T * cols], y = new float[T * ROWS];
        Source zeros = (r, n, k0, k1, dst, stride) -> { };
        long until = System.nanoTime() + 2_000_000_000L;
        for (int quick = 0; quick < 500 && System.nanoTime() < until; ) {
            long t0 = System.nanoTime();
            matmulTiles(zeros, cols, xt, T, y, ROWS, 0, 0, ROWS);
            quick = System.nanoTime() - t0 < 20_000 ? quick + 1 : 0;
        }
        warm = true;
    }

    /** Zeros to start two tiles' sums from, read as {@link #kernel2} reads partial sums (rows GROUP apart). */
    private static final float[] ZEROS = new float[4 * GROUP];

    /**
     * Two tiles of tokens (at xBase and yBase; tn1 and tn2 of their tokens real) against the panel, each sum in
     * {@link #kernel}'s order: sixteen accumulators, so that each step's four broadcasts and four activation loads
     * feed sixteen FMAs, not eight. One load site and one store site per accumulator (sums start from ZEROS or
     * part and end in part or tmp, rows GROUP apart in both) keep the method small for C2.
     */
    private static void kernel2(float[] panel, float[] xt, int xBase, int yBase, int k0, int k1, int cols, float[] part, int po,
                                float[] tmp, float[] out, int oo, int n, int tn1, int tn2) {
        float[] src = k0 == 0 ? ZEROS : part;
        int so = k0 == 0 ? 0 : po;
        FloatVector a00 = FloatVector.fromArray(FS, src, so), a01 = FloatVector.fromArray(FS, src, so + L);
        FloatVector b00 = FloatVector.fromArray(FS, src, so + TILE), b01 = FloatVector.fromArray(FS, src, so + TILE + L);
        so += GROUP;
        FloatVector a10 = FloatVector.fromArray(FS, src, so), a11 = FloatVector.fromArray(FS, src, so + L);
        FloatVector b10 = FloatVector.fromArray(FS, src, so + TILE), b11 = FloatVector.fromArray(FS, src, so + TILE + L);
        so += GROUP;
        FloatVector a20 = FloatVector.fromArray(FS, src, so), a21 = FloatVector.fromArray(FS, src, so + L);
        FloatVector b20 = FloatVector.fromArray(FS, src, so + TILE), b21 = FloatVector.fromArray(FS, src, so + TILE + L);
        so += GROUP;
        FloatVector a30 = FloatVector.fromArray(FS, src, so), a31 = FloatVector.fromArray(FS, src, so + L);
        FloatVector b30 = FloatVector.fromArray(FS, src, so + TILE), b31 = FloatVector.fromArray(FS, src, so + TILE + L);
        int len = k1 - k0;
        int xo = xBase + k0 * TILE, yo = yBase + k0 * TILE;
        for (int p = 0; p < len; p++, xo += TILE, yo += TILE) {
            FloatVector xa = FloatVector.fromArray(FS, xt, xo);
            FloatVector xb = FloatVector.fromArray(FS, xt, xo + L);
            FloatVector ya = FloatVector.fromArray(FS, xt, yo);
            FloatVector yb = FloatVector.fromArray(FS, xt, yo + L);
            FloatVector w = FloatVector.broadcast(FS, panel[p]);
            a00 = w.fma(xa, a00);
            a01 = w.fma(xb, a01);
            b00 = w.fma(ya, b00);
            b01 = w.fma(yb, b01);
            w = FloatVector.broadcast(FS, panel[KP + p]);
            a10 = w.fma(xa, a10);
            a11 = w.fma(xb, a11);
            b10 = w.fma(ya, b10);
            b11 = w.fma(yb, b11);
            w = FloatVector.broadcast(FS, panel[2 * KP + p]);
            a20 = w.fma(xa, a20);
            a21 = w.fma(xb, a21);
            b20 = w.fma(ya, b20);
            b21 = w.fma(yb, b21);
            w = FloatVector.broadcast(FS, panel[3 * KP + p]);
            a30 = w.fma(xa, a30);
            a31 = w.fma(xb, a31);
            b30 = w.fma(ya, b30);
            b31 = w.fma(yb, b31);
        }
        boolean partial = k1 < cols;
        float[] dst = partial ? part : tmp;
        int d = partial ? po : 0;
        a00.intoArray(dst, d);
        a01.intoArray(dst, d + L);
        b00.intoArray(dst, d + TILE);
        b01.intoArray(dst, d + TILE + L);
        d += GROUP;
        a10.intoArray(dst, d);
        a11.intoArray(dst, d + L);
        b10.intoArray(dst, d + TILE);
        b11.intoArray(dst, d + TILE + L);
        d += GROUP;
        a20.intoArray(dst, d);
        a21.intoArray(dst, d + L);
        b20.intoArray(dst, d + TILE);
        b21.intoArray(dst, d + TILE + L);
        d += GROUP;
        a30.intoArray(dst, d);
        a31.intoArray(dst, d + L);
        b30.intoArray(dst, d + TILE);
        b31.intoArray(dst, d + TILE + L);
        if (partial) return;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < tn1; j++) out[oo + j * OUT_ROWS + i] = tmp[i * GROUP + j];
            for (int j = 0; j < tn2; j++) out[oo + (TILE + j) * OUT_ROWS + i] = tmp[i * GROUP + TILE + j];
        }
    }
}
