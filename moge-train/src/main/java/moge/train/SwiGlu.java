package moge.train;

/**
 * y = down(silu(gate·x) ⊙ up·x) over a block of rows, forward and backward: the dense MLP, the shared expert
 * and every routed expert. The caller owns the buffers (pre-activations g and u and the product a, saved
 * by the forward for the backward) and passes offsets into them, and chooses the {@link Gemm}: the team's
 * for one large block, a single-threaded one when each team member runs whole experts.
 */
final class SwiGlu {
    final Params.Tensor gate, up, down;
    final int ff;

    SwiGlu(Params.Tensor gate, Params.Tensor up, Params.Tensor down) {
        this.gate = gate;
        this.up = up;
        this.down = down;
        this.ff = (int) gate.shape[0];
    }

    /** x[rows, H] at xOff → y[rows, H] at yOff (overwritten); g, u, a[rows, ff] at hOff saved. */
    void forward(Gemm gemm, float[] x, int xOff, int rows, int H, float[] g, float[] u, float[] a, int hOff, float[] y, int yOff) {
        if (rows == 0) return;
        gemm.linear(x, xOff, rows, H, gate.w, 0, ff, g, hOff, false);
        gemm.linear(x, xOff, rows, H, up.w, 0, ff, u, hOff, false);
        gemm.team().forRange(rows * ff, 64, (i0, i1) -> Ops.siluMul(g, u, a, hOff + i0, hOff + i1));
        gemm.linear(a, hOff, rows, ff, down.w, 0, H, y, yOff, false);
    }

    /**
     * dy[rows, H] at dyOff → parameter gradients, and dx[rows, H] at dxOff (added when accumulate, else
     * overwritten). {@code da}, {@code dg} and {@code du} are scratch, rows·ff floats from sOff.
     */
    void backward(Gemm gemm, float[] x, int xOff, int rows, int H, float[] g, float[] u, float[] a, int hOff, float[] dy, int dyOff,
                  float[] da, float[] dg, float[] du, int sOff, float[] dx, int dxOff, boolean accumulate) {
        if (rows == 0) return;
        gemm.linearWeightGrad(dy, dyOff, rows, H, a, hOff, ff, down.g, 0);
        gemm.linearInputGrad(dy, dyOff, rows, H, down.w, 0, ff, da, sOff, false);
        gemm.team().forRange(rows * ff, 64, (i0, i1) -> Ops.siluMulGrad(g, u, hOff - sOff, da, dg, du, sOff + i0, sOff + i1));
        gemm.linearWeightGrad(dg, sOff, rows, ff, x, xOff, H, gate.g, 0);
        gemm.linearWeightGrad(du, sOff, rows, ff, x, xOff, H, up.g, 0);
        gemm.linearInputGrad(dg, sOff, rows, ff, gate.w, 0, H, dx, dxOff, accumulate);
        gemm.linearInputGrad(du, sOff, rows, ff, up.w, 0, H, dx, dxOff, true);
    }
}
