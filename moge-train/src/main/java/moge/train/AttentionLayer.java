package moge.train;

import moge.model.ModelConfig;
import moge.tensor.Parallel;
import moge.tensor.VectorMath;

/**
 * Causal grouped-query self-attention with q/k/v/o biases and NeoX RoPE, forward and backward, for one
 * decoder layer. The forward keeps what the backward needs (rotated q and k, v, the attention
 * probabilities and the attended values); work items are (sequence, KV head) pairs, so the gradients of
 * one KV head's keys and values are summed over its query heads by a single thread.
 */
final class AttentionLayer {
    private final ModelConfig c;
    private final Gemm gemm;
    private final Parallel team;
    private final Ops.Rope rope;
    private final int layer;
    private final Params.Tensor wq, wk, wv, wo, bq, bk, bv, bo;

    // saved activations
    float[] q = new float[0], k = new float[0], v = new float[0], att = new float[0], probs = new float[0];
    private int[] probOff = new int[0];
    // backward scratch
    private float[] dq = new float[0], dk = new float[0], dv = new float[0], datt = new float[0];
    private final Scratch[] scratch;

    /** Per-member buffers for one (sequence, KV head) item: transposes and n×n score blocks. */
    private static final class Scratch {
        float[] kT = new float[0], vT = new float[0], dp = new float[0], t = new float[0], dk = new float[0], dv = new float[0];

        void ensure(int n, int d) {
            if (kT.length < n * d) {
                kT = new float[n * d];
                vT = new float[n * d];
                dk = new float[n * d];
                dv = new float[n * d];
            }
            if (dp.length < n * n) {
                dp = new float[n * n];
                t = new float[n * n];
            }
        }
    }

    AttentionLayer(ModelConfig c, Params p, int layer, Gemm gemm, Ops.Rope rope) {
        this.c = c;
        this.gemm = gemm;
        this.team = gemm.team();
        this.rope = rope;
        this.layer = layer;
        String pre = "model.layers." + layer + ".self_attn.";
        wq = p.get(pre + "q_proj.weight");
        wk = p.get(pre + "k_proj.weight");
        wv = p.get(pre + "v_proj.weight");
        wo = p.get(pre + "o_proj.weight");
        bq = c.qkvBias() ? p.get(pre + "q_proj.bias") : null;
        bk = c.qkvBias() ? p.get(pre + "k_proj.bias") : null;
        bv = c.qkvBias() ? p.get(pre + "v_proj.bias") : null;
        bo = c.oBias() ? p.get(pre + "o_proj.bias") : null;
        scratch = new Scratch[team.threads()];
        for (int i = 0; i < scratch.length; i++) scratch[i] = new Scratch();
    }

    private void ensure(TokenBatch b) {
        int n = b.size(), qd = c.qDim(), kvd = c.kvDim();
        if (q.length < n * qd) {
            q = new float[n * qd];
            att = new float[n * qd];
            dq = new float[n * qd];
            datt = new float[n * qd];
        }
        if (k.length < n * kvd) {
            k = new float[n * kvd];
            v = new float[n * kvd];
            dk = new float[n * kvd];
            dv = new float[n * kvd];
        }
        int seqs = b.sequences();
        if (probOff.length < seqs + 1) probOff = new int[seqs + 1];
        long total = 0;
        int maxLen = 0;
        for (int s = 0; s < seqs; s++) {
            probOff[s] = (int) total;
            int len = b.length(s);
            maxLen = Math.max(maxLen, len);
            total += (long) c.heads() * len * len;
        }
        if (total > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("batch too long for saved attention probabilities");
        probOff[seqs] = (int) total;
        if (probs.length < total) probs = new float[(int) total];
        for (Scratch sc : scratch) sc.ensure(maxLen, c.headDim());
        if (maxLen > rope.maxPositions()) {
            throw new IllegalArgumentException("sequence of " + maxLen + " tokens exceeds the rotary table of " + rope.maxPositions());
        }
    }

    /** out[N, H] = o_proj(attention(xn)) including the o bias. */
    void forward(TokenBatch b, float[] xn, float[] out) {
        ensure(b);
        int n = b.size(), H = c.hidden(), qd = c.qDim(), kvd = c.kvDim();
        gemm.linear(xn, 0, n, H, wq.w, 0, qd, q, 0, false);
        gemm.linear(xn, 0, n, H, wk.w, 0, kvd, k, 0, false);
        gemm.linear(xn, 0, n, H, wv.w, 0, kvd, v, 0, false);
        if (bq != null) {
            Ops.addBias(q, bq.w, n, qd);
            Ops.addBias(k, bk.w, n, kvd);
            Ops.addBias(v, bv.w, n, kvd);
        }
        rope.apply(team, q, b.positions, n, c.heads(), false);
        rope.apply(team, k, b.positions, n, c.kvHeads(), false);
        int kvH = c.kvHeads();
        team.forEach(b.sequences() * kvH, (item, member) -> attendForward(b, item / kvH, item % kvH, scratch[member]));
        gemm.linear(att, 0, n, qd, wo.w, 0, H, out, 0, false);
        if (bo != null) Ops.addBias(out, bo.w, n, H);
    }

    /**
     * One (sequence, KV head): for each of its query heads S = Q·Kᵀ·scale (causal), P = softmax(S) saved, and
     * O = P·V, as small matrix products read straight out of the packed q/k/v rows.
     */
    private void attendForward(TokenBatch b, int s, int kh, Scratch sc) {
        int d = c.headDim(), group = c.heads() / c.kvHeads(), qd = c.qDim(), kvd = c.kvDim();
        int start = b.seqStart[s], n = b.length(s);
        float scale = (float) (1.0 / Math.sqrt(d));
        gatherTransposed(k, start * kvd + kh * d, kvd, n, d, sc.kT);
        for (int g = 0; g < group; g++) {
            int h = kh * group + g;
            int pBase = probOff[s] + h * n * n;
            Gemm.nnLocal(n, n, d, q, start * qd + h * d, qd, sc.kT, 0, n, probs, pBase, n, false);
            for (int i = 0; i < n; i++) {
                int pr = pBase + i * n;
                for (int j = 0; j <= i; j++) probs[pr + j] *= scale;
                VectorMath.softmax(probs, pr, i + 1);
                java.util.Arrays.fill(probs, pr + i + 1, pr + n, 0f);
            }
            Gemm.nnLocal(n, d, n, probs, pBase, n, v, start * kvd + kh * d, kvd, att, start * qd + h * d, qd, false);
        }
    }

    /** dst[c, r] = src[off + r·ld + c] for an n×d block. */
    private static void gatherTransposed(float[] src, int off, int ld, int n, int d, float[] dst) {
        for (int r = 0; r < n; r++) {
            int o = off + r * ld;
            for (int cc = 0; cc < d; cc++) dst[cc * n + r] = src[o + cc];
        }
    }

    /** Given dOut[N, H], accumulates parameter gradients and adds the input gradient to dxn[N, H]. */
    void backward(TokenBatch b, float[] xn, float[] dOut, float[] dxn) {
        int n = b.size(), H = c.hidden(), qd = c.qDim(), kvd = c.kvDim();
        if (bo != null) Ops.columnSums(team, dOut, n, H, bo.g);
        gemm.linearWeightGrad(dOut, 0, n, H, att, 0, qd, wo.g, 0);
        gemm.linearInputGrad(dOut, 0, n, H, wo.w, 0, qd, datt, 0, false);
        int kvH = c.kvHeads();
        team.forEach(b.sequences() * kvH, (item, member) -> attendBackward(b, item / kvH, item % kvH, scratch[member]));
        rope.apply(team, dq, b.positions, n, c.heads(), true);
        rope.apply(team, dk, b.positions, n, c.kvHeads(), true);
        if (bq != null) {
            Ops.columnSums(team, dq, n, qd, bq.g);
            Ops.columnSums(team, dk, n, kvd, bk.g);
            Ops.columnSums(team, dv, n, kvd, bv.g);
        }
        gemm.linearWeightGrad(dq, 0, n, qd, xn, 0, H, wq.g, 0);
        gemm.linearWeightGrad(dk, 0, n, kvd, xn, 0, H, wk.g, 0);
        gemm.linearWeightGrad(dv, 0, n, kvd, xn, 0, H, wv.g, 0);
        gemm.linearInputGrad(dq, 0, n, qd, wq.w, 0, H, dxn, 0, true);
        gemm.linearInputGrad(dk, 0, n, kvd, wk.w, 0, H, dxn, 0, true);
        gemm.linearInputGrad(dv, 0, n, kvd, wv.w, 0, H, dxn, 0, true);
    }

    /**
     * Softmax attention backward for one (sequence, KV head): dP = dO·Vᵀ, dS = P⊙(dP − rowsum(P⊙dP))·scale,
     * dQ = dS·K, dK = Σ_heads dSᵀ·Q, dV = Σ_heads Pᵀ·dO. Gradients are w.r.t. the rotated q and k.
     */
    private void attendBackward(TokenBatch b, int s, int kh, Scratch sc) {
        int d = c.headDim(), group = c.heads() / c.kvHeads(), qd = c.qDim(), kvd = c.kvDim();
        int start = b.seqStart[s], n = b.length(s);
        float scale = (float) (1.0 / Math.sqrt(d));
        gatherTransposed(v, start * kvd + kh * d, kvd, n, d, sc.vT);
        java.util.Arrays.fill(sc.dk, 0, n * d, 0f);
        java.util.Arrays.fill(sc.dv, 0, n * d, 0f);
        for (int g = 0; g < group; g++) {
            int h = kh * group + g;
            int pBase = probOff[s] + h * n * n;
            int qo = start * qd + h * d;
            Gemm.nnLocal(n, n, d, datt, qo, qd, sc.vT, 0, n, sc.dp, 0, n, false);
            for (int i = 0; i < n; i++) {
                int pr = pBase + i * n, r = i * n;
                double dot = 0;
                for (int j = 0; j <= i; j++) dot += (double) probs[pr + j] * sc.dp[r + j];
                float D = (float) dot;
                for (int j = 0; j <= i; j++) sc.dp[r + j] = probs[pr + j] * (sc.dp[r + j] - D) * scale;
                java.util.Arrays.fill(sc.dp, r + i + 1, r + n, 0f);
            }
            Gemm.nnLocal(n, d, n, sc.dp, 0, n, k, start * kvd + kh * d, kvd, dq, qo, qd, false);
            transpose(sc.dp, 0, n, sc.t);
            Gemm.nnLocal(n, d, n, sc.t, 0, n, q, qo, qd, sc.dk, 0, d, true);
            transpose(probs, pBase, n, sc.t);
            Gemm.nnLocal(n, d, n, sc.t, 0, n, datt, qo, qd, sc.dv, 0, d, true);
        }
        for (int j = 0; j < n; j++) {
            System.arraycopy(sc.dk, j * d, dk, (start + j) * kvd + kh * d, d);
            System.arraycopy(sc.dv, j * d, dv, (start + j) * kvd + kh * d, d);
        }
    }

    private static void transpose(float[] src, int off, int n, float[] dst) {
        for (int i = 0; i < n; i++) {
            int o = off + i * n;
            for (int j = 0; j < n; j++) dst[j * n + i] = src[o + j];
        }
    }

    int layer() {
        return layer;
    }
}
