package moge.train;

import moge.tensor.Parallel;

/**
 * y = down(silu(gate·x) ⊙ up·x) over a block of rows, forward and backward: the dense MLP, the shared expert
 * and every routed expert. The caller owns the buffers (pre-activations g and u and the product a, saved
 * by the forward for the backward) and passes offsets into them.
 */
final class SwiGlu {
    private final Gemm gemm;
    private final Parallel team;
    final Params.Tensor gate, up, down;
    final int ff;

    SwiGlu(Gemm gemm, Params.Tensor gate, Params.Tensor up, Params.Tensor down) {
        this.gemm = gemm;
        this.team = gemm.team();
        this.gate = gate;
        this.up = up;
        this.down = down;
        this.ff = (int) gate.shape[0];
    }

    /** x[rows, H] at xOff → y[rows, H] at yOff (overwritten); g, u, a[rows, ff] at hOff saved. */
    void forward(float[] x, int xOff, int rows, int H, float[] g, float[] u, float[] a, int hOff, float[] y, int yOff) {
        if (rows == 0) return;
        gemm.linear(x, xOff, rows, H, gate.w, 0, ff, g, hOff, false);
        gemm.linear(x, xOff, rows, H, up.w, 0, ff, u, hOff, false);
        team.forRange(rows * ff, 64, (i0, i1) -> Ops.siluMul(g, u, a, hOff + i0, hOff + i1));
        gemm.linear(a, hOff, rows, ff, down.w, 0, H, y, yOff, false);
    }

    /**
     * dy[rows, H] at dyOff → parameter gradients, and dx[rows, H] at dxOff (added when accumulate, else
     * overwritten). {@code da}, {@code dg} and {@code du} are scratch of rows·ff floats.
     */
    void backward(float[] x, int xOff, int rows, int H, float[] g, float[] u, float[] a, int hOff, float[] dy, int dyOff,
                  float[] da, float[] dg, float[] du, float[] dx, int dxOff, boolean accumulate) {
        if (rows == 0) return;
        gemm.linearWeightGrad(dy, dyOff, rows, H, a, hOff, ff, down.g, 0);
        gemm.linearInputGrad(dy, dyOff, rows, H, down.w, 0, ff, da, 0, false);
        team.forRange(rows * ff, 64, (i0, i1) -> Ops.siluMulGrad(g, u, hOff, da, dg, du, i0, i1));
        gemm.linearWeightGrad(dg, 0, rows, ff, x, xOff, H, gate.g, 0);
        gemm.linearWeightGrad(du, 0, rows, ff, x, xOff, H, up.g, 0);
        gemm.linearInputGrad(dg, 0, rows, ff, gate.w, 0, H, dx, dxOff, accumulate);
        gemm.linearInputGrad(du, 0, rows, ff, up.w, 0, H, dx, dxOff, true);
    }
}
