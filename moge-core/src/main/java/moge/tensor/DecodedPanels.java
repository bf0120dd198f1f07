package moge.tensor;

/**
 * Many tokens over quantized weights: a chunk of rows decoded to float once, as {@link Gemm}'s panels, and
 * multiplied in place with every group of tokens. Gemm alone decodes each panel again for every group of
 * {@link Gemm#GROUP} tokens: at pp512 eight times, which was 12% of a Q8_0 prefill's GEMM time
 * (async-profiler) and, for Q4_0 (decoded by rows, then copied into panels), 4% of its samples in copies.
 * Up to one group there is nothing to share, so the panels are decoded as Gemm needs them.
 * <p>
 * A chunk's rows are as many as fit {@link #BUDGET} bytes of panels, between {@link #MIN_ROWS} and
 * {@link #MAX_ROWS}: every chunk streams all T tokens' activations past its rows, so short chunks of long rows
 * re-read them from L3 often. At 512 tokens, a 1536 x 6144 product (an FFN down projection, 12 MiB of
 * activations) ran at 56-61 GFLOP/s with 32-row chunks and 64-72 with 128 (one thread, CPU time); 256 rows
 * (6 MiB of panels) fell to ~40 in a probe, so the panels must stay well inside L3.
 */
final class DecodedPanels implements Gemm.Source {
    /** Bounds of a chunk's rows: multiples of {@link Gemm#ROWS} and of {@link Gemm#OUT_ROWS}. */
    static final int MIN_ROWS = 32, MAX_ROWS = 128;
    /** Bytes of float panels per chunk that the row count aims at (3 MiB: 128 rows of 6144 columns). */
    static final long BUDGET = 3L << 20;
    private static final ThreadLocal<DecodedPanels> CHUNKS = ThreadLocal.withInitial(() -> new DecodedPanels(0));

    /** Sized for the largest chunk its thread has met. */
    private final float[][] panels;
    private int first, kPanels;

    private DecodedPanels(int count) {
        panels = new float[count][Gemm.ROWS * Gemm.KP];
    }

    private static int panelsPerRow(int cols) {
        return (cols + Gemm.KP - 1) / Gemm.KP;
    }

    /** Rows per chunk for rows of {@code cols} columns. */
    static int rows(int cols) {
        long fit = BUDGET / ((long) panelsPerRow(cols) * Gemm.KP * Float.BYTES) / MIN_ROWS * MIN_ROWS;
        return (int) Math.max(MIN_ROWS, Math.min(MAX_ROWS, fit));
    }

    /** As {@link Gemm#matmul}, each weight decoded once rather than once per group of tokens. */
    static void matmul(Gemm.Source w, int cols, float[] xt, int T, float[] y, int yStride, int yOff, int r0, int r1) {
        if (T <= Gemm.GROUP) {
            Gemm.matmul(w, cols, xt, T, y, yStride, yOff, r0, r1);
            return;
        }
        int rows = rows(cols), count = rows / Gemm.ROWS * panelsPerRow(cols);
        DecodedPanels chunk = CHUNKS.get();
        if (chunk.panels.length < count) CHUNKS.set(chunk = new DecodedPanels(count));
        for (int c0 = r0; c0 < r1; c0 += rows) {
            int c1 = Math.min(r1, c0 + rows);
            chunk.fill(w, cols, c0, c1);
            Gemm.matmul(chunk, cols, xt, T, y, yStride, yOff, c0, c1);
        }
    }
    private void fill(Gemm.Source w, int cols, int r0, int r1) {
        first = r0;
        kPanels = panelsPerRow(cols);
        for (int r = r0; r < r1; r += Gemm.ROWS) {
            for (int p = 0; p < kPanels; p++) {
                int k0 = p * Gemm.KP;
                w.decode(r, Math.min(Gemm.ROWS, r1 - r), k0, Math.min(cols, k0 + Gemm.KP), panels[index(r, k0)], Gemm.KP);
            }
        }
    }

    private int index(int r, int k0) {
        return (r - first) / Gemm.ROWS * kPanels + k0 / Gemm.KP;
    }

    @Override
    public float[] panel(int r, int n, int k0, int k1, float[] scratch) {
        return panels[index(r, k0)];
    }

    @Override
    public void decode(int r, int n, int k0, int k1, float[] dst, int stride) {
        for (int i = 0; i < n; i++) {
            int at = (r + i - first) % Gemm.ROWS * Gemm.KP;
            System.arraycopy(panels[index(r + i, k0)], at, dst, i * stride, k1 - k0);
        }
    }
}
