package moge.model;

import moge.MogeException;
import moge.tensor.Activations;
import moge.tensor.Kernels;
import moge.tensor.Matrix;
import moge.tensor.Parallel;
import moge.tensor.VectorMath;

/**
 * The forward pass: tokens in, logits out, for any batch of tokens from any sequences (prompt chunks,
 * decode steps, speculative drafts). One decoder layer is
 * {@code h = x + Attn(RMSNorm(x)); y = h + FFN(RMSNorm(h))} where FFN is a dense SwiGLU or a mixture of
 * experts (router, routed experts through an {@link ExpertExecutor}, plus a shared expert added plainly).
 * Not thread-safe: one caller at a time (the generator or the scheduler).
 */
public final class Model implements AutoCloseable {
    public final ModelConfig config;
    public final Weights weights;
    private final Parallel team;
    private final boolean ownsTeam;
    private ExpertExecutor experts;
    private final Router router;
    private final Attention attention;
    private final int maxBatch;

    private final Activations act = new Activations(), hAct = new Activations(), headAct = new Activations();
    private final Matrix[][] qkv;
    private final float[][] qkvOut;
    private final float[] x, xn, q, k, v, att, proj, ffn, hBuf, upBuf;
    private final float[] routerLogits, routerProbs, routeW;
    private final int[] routeIdx;
    private float[] logits = new float[0];
    private float[] outRows = new float[0];
    private RoutingListener routingListener;
    private KvType kvType = KvType.F32;

    /** Observes routing decisions (load statistics, imbalance score); null when nobody listens. */
    public interface RoutingListener {
        void routed(int layer, int tokens, int[] idx, int k);
    }

    public Model(ModelConfig config, Weights weights, Parallel team, int maxBatch) {
        this(config, weights, team, false, maxBatch);
    }

    public Model(ModelConfig config, Weights weights, int threads, int maxBatch) {
        this(config, weights, new Parallel(threads), true, maxBatch);
    }

    private Model(ModelConfig config, Weights weights, Parallel team, boolean ownsTeam, int maxBatch) {
        this.config = config;
        this.weights = weights;
        this.team = team;
        this.ownsTeam = ownsTeam;
        this.maxBatch = maxBatch;
        this.attention = new Attention(config, team.threads());
        this.router = config.hasExperts() ? Router.of(config) : null;
        this.experts = config.hasExperts() ? new LocalExperts(weights, config, team) : null;
        this.qkv = new Matrix[config.layers()][];
        for (int l = 0; l < qkv.length; l++) {
            Weights.Layer w = weights.layers[l];
            qkv[l] = new Matrix[]{w.wq, w.wk, w.wv};
        }
        int H = config.hidden(), T = maxBatch;
        int ff = Math.max(config.intermediate(), config.sharedIntermediate());
        x = new float[T * H];
        xn = new float[T * H];
        q = new float[T * config.qDim()];
        k = new float[T * config.kvDim()];
        v = new float[T * config.kvDim()];
        att = new float[T * config.qDim()];
        proj = new float[T * H];
        ffn = new float[T * H];
        hBuf = new float[T * ff];
        upBuf = new float[T * ff];
        int E = Math.max(1, config.numExperts()), K = Math.max(1, config.expertsPerTok());
        routerLogits = new float[T * E];
        routerProbs = new float[E];
        routeIdx = new int[T * K];
        routeW = new float[T * K];
        qkvOut = new float[][]{q, k, v};
    }

    public Parallel team() {
        return team;
    }

    public int maxBatch() {
        return maxBatch;
    }

    public Router router() {
        return router;
    }

    /** Replaces where routed experts run (devices, remote workers); the previous executor is closed. */
    public void setExpertExecutor(ExpertExecutor e) {
        if (experts != null && experts != e) experts.close();
        experts = e;
    }

    public ExpertExecutor expertExecutor() {
        return experts;
    }

    /** How the caches made by {@link #newCache} store keys and values (float32 unless set). */
    public void setKvType(KvType t) {
        kvType = t;
    }

    public KvType kvType() {
        return kvType;
    }

    /** A KV cache of this model's {@link #kvType} for {@code sequences} sequences of up to {@code context} positions. */
    public KvCache newCache(int context, int sequences) {
        return KvCache.forContext(config, context, sequences, 16, kvType);
    }

    public void setRoutingListener(RoutingListener l) {
        routingListener = l;
    }

    /**
     * Runs the batch and returns the logits of its flagged tokens, row after row ({@code vocab} floats each).
     * The returned array is reused by the next call. Sequence lengths are advanced to cover the batch.
     */
    public float[] forward(Batch b) {
        if (b.size() == 0) return logits;
        layers(b);
        return head(b);
    }

    /**
     * Runs the batch and writes every token's last hidden state, after the final norm (what the head reads),
     * into {@code out}: token t at {@code t * hidden}. Embeddings pool these. Sequence lengths advance as in
     * {@link #forward}.
     */
    public void hidden(Batch b, float[] out) {
        int T = b.size(), H = config.hidden();
        if (T == 0) return;
        layers(b);
        perToken(T, H, (t0, t1) -> {
            for (int t = t0; t < t1; t++) VectorMath.rmsnorm(x, t * H, weights.finalNorm, out, t * H, H, config.rmsEps());
        });
    }

    private void layers(Batch b) {
        int T = b.size(), H = config.hidden();
        if (T > maxBatch) throw new IllegalArgumentException("batch of " + T + " exceeds " + maxBatch);
        KvCache cache = b.seqs[0].cache();
        for (int t = 0; t < T; t++) {
            int tok = b.tokens[t];
            if (tok < 0 || tok >= config.vocabSize()) {
                throw new MogeException("token id " + tok + " is outside the vocabulary (0.." + (config.vocabSize() - 1) + ")");
            }
            b.seqs[t].reserve(b.positions[t] + 1);
            weights.embed.row(tok, x, t * H);
        }
        attention.prepareRope(b);
        for (int l = 0; l < config.layers(); l++) layer(l, b, cache);
        for (int t = 0; t < T; t++) {
            KvSequence s = b.seqs[t];
            if (b.positions[t] + 1 > s.length()) s.setLength(b.positions[t] + 1);
        }
    }

    private void layer(int l, Batch b, KvCache cache) {
        Weights.Layer w = weights.layers[l];
        int T = b.size(), H = config.hidden(), qDim = config.qDim(), kvDim = config.kvDim();
        float eps = config.rmsEps();
        perToken(T, H, (t0, t1) -> {
            for (int t = t0; t < t1; t++) VectorMath.rmsnorm(x, t * H, w.attnNorm, xn, t * H, H, eps);
        });
        act.set(xn, T, H);
        Kernels.matmulMany(team, act, qkv[l], qkvOut);
        perToken(T, qDim, (t0, t1) -> {
            addBias(q, w.bq, t0, t1, qDim);
            addBias(k, w.bk, t0, t1, kvDim);
            addBias(v, w.bv, t0, t1, kvDim);
            if (w.qNorm != null) headNorm(q, w.qNorm, t0 * config.heads(), t1 * config.heads());
            if (w.kNorm != null) headNorm(k, w.kNorm, t0 * config.kvHeads(), t1 * config.kvHeads());
            attention.rope(q, t0, t1, config.heads());
            attention.rope(k, t0, t1, config.kvHeads());
        });
        attention.store(cache, l, b, k, v);
        attention.attend(team, cache, l, b, q, att);
        act.set(att, T, qDim);
        Kernels.matmul(team, w.wo, act, proj);
        perToken(T, H, (t0, t1) -> {
            addBias(proj, w.bo, t0, t1, H);
            VectorMath.add(proj, t0 * H, x, t0 * H, (t1 - t0) * H);
            for (int t = t0; t < t1; t++) VectorMath.rmsnorm(x, t * H, w.ffnNorm, xn, t * H, H, eps);
        });
        act.set(xn, T, H);
        if (config.isMoe(l)) moe(l, w, T); else dense(w.gate, w.up, w.down, T, ffn);
        perToken(T, H, (t0, t1) -> VectorMath.add(ffn, t0 * H, x, t0 * H, (t1 - t0) * H));
    }

    /**
     * Per-token work over T tokens of {@code width} values (norms, biases, residual adds, RoPE), on the team
     * when a long prompt makes it worth a hand-off: on the calling thread alone these took about 3% of a pp512
     * pass's wall time with the other core waiting. Each token's values come out the same either way.
     */
    private void perToken(int T, int width, Parallel.Range body) {
        team.forRange(T, 1, (long) T * width, body);
    }

    /** ffn = down(silu(gate x) * up x) for all T rows of xn (act must hold xn). */
    private void dense(Matrix gate, Matrix up, Matrix down, int T, float[] out) {
        Kernels.swiglu(team, gate, up, act, hBuf, upBuf);
        Kernels.matmul(team, down, hAct.set(hBuf, T, gate.rows), out);
    }

    private void moe(int l, Weights.Layer w, int T) {
        int H = config.hidden(), E = config.numExperts(), K = config.expertsPerTok();
        Kernels.matmul(team, w.router, act, routerLogits);
        for (int t = 0; t < T; t++) router.route(routerLogits, t * E, w.routerScale, routerProbs, routeIdx, routeW, t * K);
        if (routingListener != null) routingListener.routed(l, T, routeIdx, K);
        if (w.sharedGate != null) {
            dense(w.sharedGate, w.sharedUp, w.sharedDown, T, ffn);
            if (w.sharedGateInp != null) sharedGateScale(w.sharedGateInp, T);
        } else {
            java.util.Arrays.fill(ffn, 0, T * H, 0f);
        }
        experts.run(l, xn, T, routeIdx, routeW, K, ffn);
    }

    private void sharedGateScale(float[] gateInp, int T) {
        int H = config.hidden();
        for (int t = 0; t < T; t++) {
            float g = VectorMath.dot(gateInp, 0, xn, t * H, H);
            VectorMath.scale(ffn, t * H, (float) (1.0 / (1.0 + Math.exp(-g))), H);
        }
    }

    private float[] head(Batch b) {
        int T = b.size(), H = config.hidden(), V = config.vocabSize();
        int n = b.outputs();
        if (outRows.length < n * H) outRows = new float[n * H];
        if (logits.length < (long) n * V) logits = new float[n * V];
        int r = 0;
        for (int t = 0; t < T; t++) {
            if (!b.wantLogits[t]) continue;
            VectorMath.rmsnorm(x, t * H, weights.finalNorm, outRows, r * H, H, config.rmsEps());
            r++;
        }
        if (n > 0) Kernels.matmul(team, weights.lmHead, headAct.set(outRows, n, H), logits);
        return logits;
    }

    /** Adds the bias to rows [t0, t1) of y (n values each). */
    private static void addBias(float[] y, float[] bias, int t0, int t1, int n) {
        if (bias == null) return;
        for (int t = t0; t < t1; t++) VectorMath.add(bias, 0, y, t * n, n);
    }

    /** Head vectors [v0, v1) of y, each normalized on its own. */
    private void headNorm(float[] y, float[] w, int v0, int v1) {
        int d = config.headDim();
        for (int i = v0; i < v1; i++) VectorMath.rmsnorm(y, i * d, w, y, i * d, d, config.rmsEps());
    }

    @Override
    public void close() {
        if (experts != null) experts.close();
        if (ownsTeam) team.close();
    }
}
