package moge.train;

import moge.model.ModelConfig;
import moge.model.Router;
import moge.tensor.Parallel;
import moge.tensor.VectorMath;

/**
 * The MoGE block of Pangu Pro MoE, forward and backward: router logits, a softmax over all experts, the
 * top-k' experts of each equal contiguous group (selected by {@link Router}, the inference code itself),
 * weight = p·router_scale without renormalisation, routed SwiGLU experts, plus the shared expert added
 * plainly. Gradients reach the router through the selected probabilities and through the batch-level
 * auxiliary load-balancing loss {@code coef·E·Σ_e f_e·P_e} (f_e = share of tokens routed to e, not
 * differentiable; P_e = mean softmax probability of e), averaged over the MoE layers. router_scale is
 * learned.
 */
final class MoeLayer implements FfnLayer {
    private final ModelConfig c;
    private final Gemm gemm;
    private final Parallel team;
    private final Router router;
    private final Params.Tensor gateW, scale;
    private final SwiGlu[] experts;
    private final SwiGlu shared;
    private final double auxCoef;
    private final int moeLayers;
    private final int E, K, H, ff, sff;

    // saved by the forward
    private float[] logits = new float[0], probs = new float[0], w = new float[0];
    private int[] idx = new int[0], rowOf = new int[0], tokenOfRow = new int[0];
    private final int[] start, count;
    private float[] xs = new float[0], eg = new float[0], eu = new float[0], ea = new float[0], ey = new float[0];
    private float[] sg = new float[0], su = new float[0], sa = new float[0];
    // backward scratch
    private float[] dys = new float[0], dxs = new float[0], dslot = new float[0], dp = new float[0];
    private float[] da = new float[0], dg = new float[0], du = new float[0];
    private final float[][] routeScratch;
    private final Gemm[] memberGemm;

    /** This batch's routing statistics: assignments per expert, and the auxiliary loss of this layer. */
    final long[] expertCount;
    double auxLoss;

    MoeLayer(ModelConfig c, Params p, int layer, Gemm gemm, double auxCoef, int moeLayers) {
        if (c.normTopkProb()) throw new IllegalArgumentException("training supports MoGE routing without renormalisation only");
        this.c = c;
        this.gemm = gemm;
        this.team = gemm.team();
        this.router = Router.of(c);
        this.auxCoef = auxCoef;
        this.moeLayers = moeLayers;
        E = c.numExperts();
        K = c.expertsPerTok();
        H = c.hidden();
        ff = c.moeIntermediate();
        sff = c.sharedIntermediate();
        String pre = "model.layers." + layer + ".mlp.";
        gateW = p.get(pre + "gate.weight");
        scale = p.get(pre + "router_scale");
        experts = new SwiGlu[E];
        for (int e = 0; e < E; e++) {
            String ep = pre + "experts." + e + ".";
            experts[e] = new SwiGlu(p.get(ep + "gate_proj.weight"), p.get(ep + "up_proj.weight"), p.get(ep + "down_proj.weight"));
        }
        shared = sff > 0 ? new SwiGlu(p.get(pre + "shared_expert.gate_proj.weight"),
                p.get(pre + "shared_expert.up_proj.weight"), p.get(pre + "shared_expert.down_proj.weight")) : null;
        start = new int[E + 1];
        count = new int[E];
        expertCount = new long[E];
        routeScratch = new float[team.threads()][E];
        // each member runs whole experts with its own single-threaded products: one hand-off per pass, not per product
        memberGemm = new Gemm[team.threads()];
        for (int i = 0; i < memberGemm.length; i++) memberGemm[i] = new Gemm(new Parallel(1));
    }

    private void ensure(int n) {
        int rows = n * K;
        if (probs.length < n * E) {
            logits = new float[n * E];
            probs = new float[n * E];
            dp = new float[n * E];
        }
        if (idx.length < rows) {
            idx = new int[rows];
            w = new float[rows];
            rowOf = new int[rows];
            tokenOfRow = new int[rows];
            dslot = new float[rows];
            xs = new float[rows * H];
            ey = new float[rows * H];
            dys = new float[rows * H];
            dxs = new float[rows * H];
            eg = new float[rows * ff];
            eu = new float[rows * ff];
            ea = new float[rows * ff];
        }
        int scratch = Math.max(rows * ff, n * sff);  // routed experts use their own rows of it
        if (da.length < scratch) {
            da = new float[scratch];
            dg = new float[scratch];
            du = new float[scratch];
        }
        if (sg.length < n * sff) {
            sg = new float[n * sff];
            su = new float[n * sff];
            sa = new float[n * sff];
        }
    }

    @Override
    public void forward(TokenBatch b, float[] xn, float[] out) {
        int n = b.size();
        ensure(n);
        gemm.linear(xn, 0, n, H, gateW.w, 0, E, logits, 0, false);
        int chunks = (n + 63) / 64;
        team.forEach(chunks, (chunk, member) -> {
            float[] pr = routeScratch[member];
            for (int t = chunk * 64; t < Math.min(n, chunk * 64 + 64); t++) {
                router.route(logits, t * E, scale.w, pr, idx, w, t * K);
                System.arraycopy(pr, 0, probs, t * E, E);
            }
        });
        // Rows sorted by expert, tokens in order within an expert: the same order whatever the team size.
        java.util.Arrays.fill(count, 0);
        for (int i = 0; i < n * K; i++) count[idx[i]]++;
        for (int e = 0; e < E; e++) {
            start[e + 1] = start[e] + count[e];
            expertCount[e] = count[e];
        }
        int[] fill = java.util.Arrays.copyOf(start, E);
        for (int i = 0; i < n * K; i++) {
            int r = fill[idx[i]]++;
            rowOf[i] = r;
            tokenOfRow[r] = i / K;
        }
        team.forRange(n * K, 16, (r0, r1) -> {
            for (int r = r0; r < r1; r++) System.arraycopy(xn, tokenOfRow[r] * H, xs, r * H, H);
        });
        team.forEach(E, (e, member) -> experts[e].forward(memberGemm[member], xs, start[e] * H, count[e], H, eg, eu, ea, start[e] * ff,
                ey, start[e] * H));
        if (shared != null) {
            shared.forward(gemm, xn, 0, n, H, sg, su, sa, 0, out, 0);
        } else {
            java.util.Arrays.fill(out, 0, n * H, 0f);
        }
        team.forRange(n, 16, (t0, t1) -> {
            for (int t = t0; t < t1; t++) {
                for (int s = 0; s < K; s++) VectorMath.axpy(w[t * K + s], ey, rowOf[t * K + s] * H, out, t * H, H);
            }
        });
        auxLoss = 0;
        if (auxCoef > 0) {
            double sum = 0;
            for (int e = 0; e < E; e++) {
                double pMean = 0;
                for (int t = 0; t < n; t++) pMean += probs[t * E + e];
                sum += (double) count[e] / n * (pMean / n);
            }
            auxLoss = auxCoef * E * sum / moeLayers;
        }
    }

    @Override
    public void backward(TokenBatch b, float[] xn, float[] dOut, float[] dxn) {
        int n = b.size();
        if (shared != null) shared.backward(gemm, xn, 0, n, H, sg, su, sa, 0, dOut, 0, da, dg, du, 0, dxn, 0, true);
        // d(weight of slot) = dOut · expert output; d(expert output) = weight · dOut
        team.forRange(n, 16, (t0, t1) -> {
            for (int t = t0; t < t1; t++) {
                for (int s = 0; s < K; s++) {
                    int i = t * K + s, r = rowOf[i];
                    // a plain loop: Vector API lane reductions round differently before and after JIT compilation
                    float dsum = 0;
                    for (int j = 0; j < H; j++) dsum = Math.fma(dOut[t * H + j], ey[r * H + j], dsum);
                    dslot[i] = dsum;
                    float wi = w[i];
                    for (int j = 0; j < H; j++) dys[r * H + j] = wi * dOut[t * H + j];
                }
            }
        });
        team.forEach(E, (e, member) -> experts[e].backward(memberGemm[member], xs, start[e] * H, count[e], H, eg, eu, ea, start[e] * ff,
                dys, start[e] * H, da, dg, du, start[e] * ff, dxs, start[e] * H, false));
        team.forRange(n, 16, (t0, t1) -> {
            for (int t = t0; t < t1; t++) {
                for (int s = 0; s < K; s++) VectorMath.add(dxs, rowOf[t * K + s] * H, dxn, t * H, H);
            }
        });
        // weight = p[e]·scale[e]: the slot gradient splits into the probability and the scale
        java.util.Arrays.fill(dp, 0, n * E, 0f);
        for (int i = 0; i < n * K; i++) {
            int t = i / K, e = idx[i];
            dp[t * E + e] += dslot[i] * scale.w[e];
            scale.g[e] += dslot[i] * probs[t * E + e];
        }
        if (auxCoef > 0) {
            for (int e = 0; e < E; e++) {
                float d = (float) (auxCoef * E * ((double) count[e] / n) / n / moeLayers);
                for (int t = 0; t < n; t++) dp[t * E + e] += d;
            }
        }
        // softmax backward in place: dlogit = p ⊙ (dp − Σ p⊙dp)
        team.forRange(n, 16, (t0, t1) -> {
            for (int t = t0; t < t1; t++) {
                int o = t * E;
                double dot = 0;
                for (int e = 0; e < E; e++) dot += (double) probs[o + e] * dp[o + e];
                for (int e = 0; e < E; e++) dp[o + e] = probs[o + e] * (float) (dp[o + e] - dot);
            }
        });
        gemm.linearWeightGrad(dp, 0, n, E, xn, 0, H, gateW.g, 0);
        gemm.linearInputGrad(dp, 0, n, E, gateW.w, 0, H, dxn, 0, true);
    }

    int experts() {
        return E;
    }

    int groups() {
        return router.kind() == moge.model.RouterKind.MOGE ? c.expertGroups() : 1;
    }
}
