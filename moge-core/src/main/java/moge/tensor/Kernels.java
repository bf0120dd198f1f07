package moge.tensor;

/**
 * Matrix products split over the thread team: one hand-off per product, or per group of products that read
 * the same input (q/k/v; gate/up with SwiGLU fused in), so that per-token overhead stays small.
 */
public final class Kernels {
    /** Row ranges start at multiples of this: whole pairs of Q4_0 tiles (2 x 16 rows) and of every other kernel's row blocks. */
    private static final int ROW_ALIGN = 32;

    private Kernels() {
    }

    /**
     * Starts compiling the many-token product's kernels on a background thread, once per process (called when a
     * model starts loading): they must be compiled through short calls before any long one, see Gemm.warmUp.
     */
    public static void warmUpInBackground() {
        Gemm.warmUpInBackground();
    }

    /** y[t * w.rows + r] = W[r] . x_t */
    public static void matmul(Parallel team, Matrix w, Activations x, float[] y) {
        x.team = team;
        w.prepare(x);
        team.forRange(w.rows, ROW_ALIGN, cost(w, x.tokens()), (r0, r1) -> w.matmul(x, y, w.rows, 0, r0, r1));
    }

    /**
     * What decides whether a product (or the sum over a group handed off together) goes to the team: its
     * multiply-adds, or its bytes where they are more.
     * A float32 MoE router (64 x 2048, 512 KiB) has few multiply-adds for its bytes: on one thread it took 4% of
     * a qwen3moe Q4_0 token, reading at one core's bandwidth, and a third less on two.
     */
    static long cost(Matrix w, int tokens) {
        return Math.max((long) w.rows * w.cols * tokens, w.bytes());
    }

    /** Several matrices over one input in a single hand-off; ys[i][t * ws[i].rows + r]. */
    public static void matmulMany(Parallel team, Activations x, Matrix[] ws, float[][] ys) {
        int total = 0;
        long cost = 0;
        x.team = team;
        for (Matrix w : ws) {
            w.prepare(x);
            total += w.rows;
            cost += cost(w, x.tokens());
        }
        team.forRange(total, ROW_ALIGN, cost, (a, b) -> {
            int base = 0;
            for (int i = 0; i < ws.length; i++) {
                Matrix w = ws[i];
                int lo = Math.max(a, base), hi = Math.min(b, base + w.rows);
                if (lo < hi) w.matmul(x, ys[i], w.rows, 0, lo - base, hi - base);
                base += w.rows;
            }
        });
    }

    /**
     * h[t * ff + r] = silu(gate_r . x_t) * (up_r . x_t). Each member computes its rows of both products and
     * combines them at once, so the SwiGLU costs no extra pass or hand-off. {@code upScratch} holds T * ff.
     */
    public static void swiglu(Parallel team, Matrix gate, Matrix up, Activations x, float[] h, float[] upScratch) {
        x.team = team;
        gate.prepare(x);
        up.prepare(x);
        int ff = gate.rows, T = x.tokens();
        team.forRange(ff, ROW_ALIGN, cost(gate, T) + cost(up, T), (r0, r1) -> {
            gate.matmul(x, h, ff, 0, r0, r1);
            up.matmul(x, upScratch, ff, 0, r0, r1);
            for (int t = 0; t < T; t++) VectorMath.siluMul(h, upScratch, t * ff + r0, r1 - r0);
        });
    }

    /** Single-threaded SwiGLU for callers that already run inside a team job (e.g. one expert per member). */
    public static void swigluLocal(Matrix gate, Matrix up, Activations x, float[] h, float[] upScratch) {
        gate.prepare(x);
        up.prepare(x);
        int ff = gate.rows, T = x.tokens();
        gate.matmul(x, h, ff, 0, 0, ff);
        up.matmul(x, upScratch, ff, 0, 0, ff);
        VectorMath.siluMul(h, upScratch, 0, T * ff);
    }
}
