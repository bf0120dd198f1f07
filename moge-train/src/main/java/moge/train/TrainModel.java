package moge.train;

import moge.model.ModelConfig;
import moge.tensor.Parallel;

import java.util.ArrayList;
import java.util.List;

/**
 * The training forward and backward pass of the openPangu architectures (PanguProMoE with MoGE routing,
 * PanguEmbedded): embedding, pre-norm decoder layers {@code h = x + Attn(RMSNorm(x)); y = h + FFN(RMSNorm(h))},
 * final norm, lm_head (tied or not) and the cross-entropy over the rows that have a target, plus the MoE
 * auxiliary loss. Activations of a batch are kept between {@link #forward} and {@link #backward}.
 * Not thread-safe; the work inside runs on the given team.
 */
public final class TrainModel {
    public final ModelConfig config;
    public final Params params;
    private final Parallel team;
    private final Gemm gemm;
    private final Ops.Rope rope;
    private final AttentionLayer[] attn;
    private final FfnLayer[] ffn;
    private final Params.Tensor embed, finalNorm, head;
    private final Params.Tensor[] attnNorm, ffnNorm;
    private final int L, H, V;

    // saved activations: x[l] is the input of layer l, x[L] the input of the final norm
    private float[][] x, xn1, hMid, xn2, r1, r2;
    private float[] xf = new float[0], rf = new float[0], tmp = new float[0], dx = new float[0], dxn = new float[0];
    private float[] hx = new float[0], logits = new float[0], dhx = new float[0];
    private int[] headRows = new int[0];
    private int headCount, capacity;
    private TokenBatch batch;

    /** What one forward pass measured. */
    public record Stats(double ce, double aux, int targets, long[][] expertCounts) {
        public double loss() {
            return ce + aux;
        }
    }

    public TrainModel(Params params, Parallel team, double auxCoef, int maxPositions) {
        this.config = params.config;
        this.params = params;
        this.team = team;
        this.gemm = new Gemm(team);
        ModelConfig c = config;
        if (c.qkNorm()) throw new IllegalArgumentException("training does not support q/k norms (not an openPangu feature)");
        L = c.layers();
        H = c.hidden();
        V = c.vocabSize();
        rope = new Ops.Rope(c.headDim(), c.ropeTheta(), maxPositions);
        attn = new AttentionLayer[L];
        ffn = new FfnLayer[L];
        attnNorm = new Params.Tensor[L];
        ffnNorm = new Params.Tensor[L];
        int moeLayers = 0;
        for (int l = 0; l < L; l++) if (c.isMoe(l)) moeLayers++;
        for (int l = 0; l < L; l++) {
            attn[l] = new AttentionLayer(c, params, l, gemm, rope);
            ffn[l] = c.isMoe(l) ? new MoeLayer(c, params, l, gemm, auxCoef, moeLayers) : new FfnLayer.Dense(params, l, gemm, H);
            attnNorm[l] = params.get("model.layers." + l + ".input_layernorm.weight");
            ffnNorm[l] = params.get("model.layers." + l + ".post_attention_layernorm.weight");
        }
        embed = params.get("model.embed_tokens.weight");
        finalNorm = params.get("model.norm.weight");
        head = c.tiedEmbeddings() ? embed : params.get("lm_head.weight");
        x = new float[L + 1][0];
        xn1 = new float[L][0];
        hMid = new float[L][0];
        xn2 = new float[L][0];
        r1 = new float[L][0];
        r2 = new float[L][0];
    }

    private void ensure(int n) {
        if (n <= capacity) return;
        capacity = n;
        for (int l = 0; l <= L; l++) x[l] = new float[n * H];
        for (int l = 0; l < L; l++) {
            xn1[l] = new float[n * H];
            hMid[l] = new float[n * H];
            xn2[l] = new float[n * H];
            r1[l] = new float[n];
            r2[l] = new float[n];
        }
        xf = new float[n * H];
        rf = new float[n];
        tmp = new float[n * H];
        dx = new float[n * H];
        dxn = new float[n * H];
        hx = new float[n * H];
        dhx = new float[n * H];
        headRows = new int[n];
    }

    /** Runs the forward pass and returns the loss; {@link #backward} may follow. */
    public Stats forward(TokenBatch b) {
        body(b);
        headCount = 0;
        for (int t = 0; t < b.size(); t++) if (b.targets[t] >= 0) headRows[headCount++] = t;
        headLogits();
        double ce = crossEntropy(b);
        double aux = 0;
        List<long[]> counts = new ArrayList<>();
        for (FfnLayer f : ffn) {
            if (f instanceof MoeLayer m) {
                aux += m.auxLoss;
                counts.add(m.expertCount.clone());
            }
        }
        return new Stats(ce, aux, headCount, counts.toArray(new long[0][]));
    }

    /** Logits of every row, [N, vocab] (a view reused by the next call). */
    public float[] logits(TokenBatch b) {
        body(b);
        headCount = b.size();
        for (int t = 0; t < headCount; t++) headRows[t] = t;
        headLogits();
        return logits;
    }

    private void body(TokenBatch b) {
        int n = b.size();
        ensure(n);
        batch = b;
        float[] x0 = x[0], e = embed.w;
        for (int t = 0; t < n; t++) {
            int tok = b.tokens[t];
            if (tok < 0 || tok >= V) throw new IllegalArgumentException("token " + tok + " outside the vocabulary of " + V);
            System.arraycopy(e, tok * H, x0, t * H, H);
        }
        float eps = config.rmsEps();
        for (int l = 0; l < L; l++) {
            Ops.rmsnorm(team, x[l], attnNorm[l].w, xn1[l], r1[l], n, H, eps);
            attn[l].forward(b, xn1[l], tmp);
            add(x[l], tmp, hMid[l], n * H);
            Ops.rmsnorm(team, hMid[l], ffnNorm[l].w, xn2[l], r2[l], n, H, eps);
            ffn[l].forward(b, xn2[l], tmp);
            add(hMid[l], tmp, x[l + 1], n * H);
        }
        Ops.rmsnorm(team, x[L], finalNorm.w, xf, rf, n, H, eps);
    }

    private void headLogits() {
        int m = headCount;
        for (int i = 0; i < m; i++) System.arraycopy(xf, headRows[i] * H, hx, i * H, H);
        if (logits.length < m * V) logits = new float[m * V];
        gemm.linear(hx, 0, m, H, head.w, 0, V, logits, 0, false);
    }

    /** Mean cross-entropy over the head rows; leaves d(loss)/d(logits) in place of the logits. */
    private double crossEntropy(TokenBatch b) {
        int m = headCount;
        if (m == 0) return 0;
        double[] rowLoss = new double[m];
        float inv = 1f / m;
        team.forRange(m, 16, (i0, i1) -> {
            for (int i = i0; i < i1; i++) {
                int o = i * V, target = b.targets[headRows[i]];
                float max = Float.NEGATIVE_INFINITY;
                for (int j = 0; j < V; j++) max = Math.max(max, logits[o + j]);
                double sum = 0;
                for (int j = 0; j < V; j++) sum += Math.exp(logits[o + j] - max);
                rowLoss[i] = Math.log(sum) + max - logits[o + target];
                float invSum = (float) (1.0 / sum);
                for (int j = 0; j < V; j++) logits[o + j] = (float) Math.exp(logits[o + j] - max) * invSum * inv;
                logits[o + target] -= inv;
            }
        });
        double s = 0;
        for (double v : rowLoss) s += v;
        return s / m;
    }

    /** Accumulates the gradients of the loss of the last {@link #forward} into the parameters. */
    public void backward() {
        TokenBatch b = batch;
        int n = b.size(), m = headCount;
        gemm.linearWeightGrad(logits, 0, m, V, hx, 0, H, head.g, 0);
        gemm.linearInputGrad(logits, 0, m, V, head.w, 0, H, dhx, 0, false);
        java.util.Arrays.fill(dxn, 0, n * H, 0f);
        for (int i = 0; i < m; i++) System.arraycopy(dhx, i * H, dxn, headRows[i] * H, H);
        java.util.Arrays.fill(dx, 0, n * H, 0f);
        Ops.rmsnormBackward(team, x[L], finalNorm.w, rf, dxn, dx, finalNorm.g, n, H);
        for (int l = L - 1; l >= 0; l--) {
            // dx holds d/d(x[l+1]); x[l+1] = hMid + FFN(norm(hMid)), hMid = x[l] + Attn(norm(x[l]))
            java.util.Arrays.fill(dxn, 0, n * H, 0f);
            ffn[l].backward(b, xn2[l], dx, dxn);
            Ops.rmsnormBackward(team, hMid[l], ffnNorm[l].w, r2[l], dxn, dx, ffnNorm[l].g, n, H);
            java.util.Arrays.fill(dxn, 0, n * H, 0f);
            attn[l].backward(b, xn1[l], dx, dxn);
            Ops.rmsnormBackward(team, x[l], attnNorm[l].w, r1[l], dxn, dx, attnNorm[l].g, n, H);
        }
        float[] eg = embed.g;
        team.forRange(H, 8, (j0, j1) -> {
            for (int t = 0; t < n; t++) {
                int eo = b.tokens[t] * H, xo = t * H;
                for (int j = j0; j < j1; j++) eg[eo + j] += dx[xo + j];
            }
        });
    }

    private void add(float[] a, float[] bb, float[] out, int n) {
        team.forRange(n, 64, (i0, i1) -> {
            for (int i = i0; i < i1; i++) out[i] = a[i] + bb[i];
        });
    }

    /** The MoE layers' group count (1 for dense models). */
    public int expertGroups() {
        for (FfnLayer f : ffn) if (f instanceof MoeLayer m) return m.groups();
        return 1;
    }
}
