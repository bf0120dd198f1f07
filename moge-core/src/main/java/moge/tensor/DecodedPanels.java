package moge.tensor;

/**
 * Many tokens over quantized weights: a chunk of {@link #ROWS} rows decoded to float once, as {@link Gemm}'s
 * panels, and multiplied in place with every group of tokens. Gemm alone decodes each panel again for every
 * group of {@link Gemm#GROUP} tokens: at pp512 eight times, which was 12% of a Q8_0 prefill's GEMM time
 * (async-profiler) and, for Q4_0 (decoded by rows, then copied into panels), 4% of its samples in copies.
 * A chunk's panels (256 KiB at 2048 columns) stay in the second-level cache while the token groups pass.
 * Up to one group there is nothing to share, so the panels are decoded as Gemm needs them.
 */
final class DecodedPanels implements Gemm.Source {
    /** Rows per chunk: a multiple of {@link Gemm#ROWS}. */
    static final int ROWS = 32;
    private static final ThreadLocal<DecodedPanels> CHUNKS = ThreadLocal.withInitial(() -> new DecodedPanels(0));

    /** Sized for the widest matrix its thread has met (an MoE layer alternates 2048 and 192 columns). */
    private final float[][] panels;
    private final int maxPanels;
    private int first, kPanels;

    private DecodedPanels(int cols) {
        maxPanels = panelsPerRow(cols);
        panels = new float[ROWS / Gemm.ROWS * maxPanels][Gemm.ROWS * Gemm.KP];
    }

    private static int panelsPerRow(int cols) {
        return (cols + Gemm.KP - 1) / Gemm.KP;
    }

    /** As {@link Gemm#matmul}, each weight decoded once rather than once per group of tokens. */
    static void matmul(Gemm.Source w, int cols, float[] xt, int T, float[] y, int yStride, int yOff, int r0, int r1) {
        if (T <= Gemm.GROUP) {
            Gemm.matmul(w, cols, xt, T, y, yStride, yOff, r0, r1);
            return;
        }
        DecodedPanels chunk = CHUNKS.get();
        if (chunk.maxPanels < panelsPerRow(cols)) CHUNKS.set(chunk = new DecodedPanels(cols));
        for (int c0 = r0; c0 < r1; c0 += ROWS) {
            int c1 = Math.min(r1, c0 + ROWS);
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
