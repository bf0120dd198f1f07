package moge.train;

/** The feed-forward half of a decoder layer: a dense SwiGLU MLP or the MoGE mixture of experts. */
interface FfnLayer {
    /** out[N, H] = FFN(xn) (overwritten). */
    void forward(TokenBatch b, float[] xn, float[] out);

    /** Accumulates parameter gradients and adds d(loss)/d(xn) to dxn. */
    void backward(TokenBatch b, float[] xn, float[] dOut, float[] dxn);

    /** Dense SwiGLU at model.layers.{i}.mlp.{gate,up,down}_proj. */
    final class Dense implements FfnLayer {
        private final SwiGlu mlp;
        private final Gemm gemm;
        private final int hidden;
        private float[] g = new float[0], u = new float[0], a = new float[0], da = new float[0], dg = new float[0], du = new float[0];

        Dense(Params p, int layer, Gemm gemm, int hidden) {
            String pre = "model.layers." + layer + ".mlp.";
            mlp = new SwiGlu(p.get(pre + "gate_proj.weight"), p.get(pre + "up_proj.weight"), p.get(pre + "down_proj.weight"));
            this.gemm = gemm;
            this.hidden = hidden;
        }

        @Override
        public void forward(TokenBatch b, float[] xn, float[] out) {
            int n = b.size() * mlp.ff;
            if (g.length < n) {
                g = new float[n];
                u = new float[n];
                a = new float[n];
                da = new float[n];
                dg = new float[n];
                du = new float[n];
            }
            mlp.forward(gemm, xn, 0, b.size(), hidden, g, u, a, 0, out, 0);
        }

        @Override
        public void backward(TokenBatch b, float[] xn, float[] dOut, float[] dxn) {
            mlp.backward(gemm, xn, 0, b.size(), hidden, g, u, a, 0, dOut, 0, da, dg, du, 0, dxn, 0, true);
        }
    }
}
