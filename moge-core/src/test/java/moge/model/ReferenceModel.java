package moge.model;

import moge.format.TensorData;
import moge.format.TensorSource;

/**
 * The plain reference: the whole forward pass in float64 with simple loops, straight from spec/pangu.md,
 * reading weights element by element from the checkpoint. Slow on purpose; every fast path is compared with it.
 * Besides openPangu it covers what the GGUF architectures add: interleaved RoPE (llama), per-head q/k
 * RMSNorm (Qwen3, tensors self_attn.{q,k}_norm.weight), renormalised top-k weights and routers without a
 * router_scale (Qwen3-MoE).
 */
public final class ReferenceModel {
    private final ModelConfig c;
    private final TensorSource src;
    private final java.util.function.BiFunction<String, double[], double[]> inputs;

    public ReferenceModel(ModelConfig c, TensorSource src) {
        this(c, src, (name, x) -> x);
    }

    /**
     * @param inputs what each matrix (by name) multiplies instead of its input: an engine that rounds the
     *               activations of some products to a grid (Q8_0's integers) is then compared with the same
     *               rounding, and everything else still exactly
     */
    public ReferenceModel(ModelConfig c, TensorSource src, java.util.function.BiFunction<String, double[], double[]> inputs) {
        this.c = c;
        this.src = src;
        this.inputs = inputs;
    }

    /** Matrix {@code name} times x (as {@link #inputs} gives it). */
    private double[] lin(String name, double[] x) {
        return mv(mat(name), inputs.apply(name, x));
    }

    private double[] vec(String name) {
        TensorData t = src.require(name);
        double[] out = new double[(int) t.elements()];
        for (int i = 0; i < out.length; i++) out[i] = t.getFloat(i);
        return out;
    }

    private double[][] mat(String name) {
        TensorData t = src.require(name);
        int rows = (int) t.rows(), cols = (int) t.cols();
        double[][] m = new double[rows][cols];
        for (int r = 0; r < rows; r++) for (int col = 0; col < cols; col++) m[r][col] = t.getFloat((long) r * cols + col);
        return m;
    }

    private static double[] mv(double[][] w, double[] x) {
        double[] y = new double[w.length];
        for (int r = 0; r < w.length; r++) {
            double s = 0;
            for (int i = 0; i < x.length; i++) s += w[r][i] * x[i];
            y[r] = s;
        }
        return y;
    }

    private double[] rms(double[] x, double[] w) {
        double ss = 0;
        for (double v : x) ss += v * v;
        double inv = 1.0 / Math.sqrt(ss / x.length + c.rmsEps());
        double[] o = new double[x.length];
        for (int i = 0; i < x.length; i++) o[i] = x[i] * inv * w[i];
        return o;
    }

    private double[] swiglu(String p, double[] x) {
        double[] g = lin(p + "gate_proj.weight", x), u = lin(p + "up_proj.weight", x);
        double[] h = new double[g.length];
        for (int i = 0; i < h.length; i++) h[i] = g[i] / (1 + Math.exp(-g[i])) * u[i];
        return lin(p + "down_proj.weight", h);
    }

    /** Rotates pair i = (i, i + d/2) for NeoX, (2i, 2i + 1) for the interleaved style, by pos * theta^(-2i/d). */
    private void rope(double[] v, int off, int pos) {
        int d = c.headDim(), half = d / 2;
        boolean neox = c.ropeStyle() == RopeStyle.NEOX;
        for (int i = 0; i < half; i++) {
            double a = pos * Math.pow(c.ropeTheta(), -2.0 * i / d);
            int i1 = neox ? off + i : off + 2 * i, i2 = neox ? off + i + half : off + 2 * i + 1;
            double x1 = v[i1], x2 = v[i2];
            v[i1] = x1 * Math.cos(a) - x2 * Math.sin(a);
            v[i2] = x2 * Math.cos(a) + x1 * Math.sin(a);
        }
    }

    /** Qwen3's per-head RMSNorm of q or k (one weight vector of head_dim shared by all heads). */
    private void headNorm(double[] v, int heads, double[] w) {
        int d = c.headDim();
        for (int h = 0; h < heads; h++) {
            double[] part = java.util.Arrays.copyOfRange(v, h * d, (h + 1) * d);
            System.arraycopy(rms(part, w), 0, v, h * d, d);
        }
    }

    /** Logits at every position of {@code tokens} (positions 0..n-1). */
    public double[][] logits(int[] tokens, RouterKind router) {
        int n = tokens.length, H = c.hidden(), d = c.headDim();
        double[][] embed = mat("model.embed_tokens.weight");
        double[][] x = new double[n][];
        for (int t = 0; t < n; t++) x[t] = embed[tokens[t]].clone();
        for (int l = 0; l < c.layers(); l++) {
            String p = "model.layers." + l + ".";
            double[] inNorm = vec(p + "input_layernorm.weight");
            double[][] K = new double[n][], V = new double[n][], Q = new double[n][];
            for (int t = 0; t < n; t++) {
                double[] xn = rms(x[t], inNorm);
                Q[t] = lin(p + "self_attn.q_proj.weight", xn);
                K[t] = lin(p + "self_attn.k_proj.weight", xn);
                V[t] = lin(p + "self_attn.v_proj.weight", xn);
                if (c.qkvBias()) {
                    addTo(Q[t], vec(p + "self_attn.q_proj.bias"));
                    addTo(K[t], vec(p + "self_attn.k_proj.bias"));
                    addTo(V[t], vec(p + "self_attn.v_proj.bias"));
                }
                if (c.qkNorm()) {
                    headNorm(Q[t], c.heads(), vec(p + "self_attn.q_norm.weight"));
                    headNorm(K[t], c.kvHeads(), vec(p + "self_attn.k_norm.weight"));
                }
                for (int h = 0; h < c.heads(); h++) rope(Q[t], h * d, t);
                for (int h = 0; h < c.kvHeads(); h++) rope(K[t], h * d, t);
            }
            double[][] wo = mat(p + "self_attn.o_proj.weight");
            String woName = p + "self_attn.o_proj.weight";
            double[] bo = c.oBias() ? vec(p + "self_attn.o_proj.bias") : null;
            double[] postNorm = vec(p + "post_attention_layernorm.weight");
            int group = c.heads() / c.kvHeads();
            for (int t = 0; t < n; t++) {
                double[] att = new double[c.qDim()];
                for (int h = 0; h < c.heads(); h++) {
                    int kh = h / group;
                    double[] s = new double[t + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= t; j++) {
                        double dot = 0;
                        for (int i = 0; i < d; i++) dot += Q[t][h * d + i] * K[j][kh * d + i];
                        s[j] = dot / Math.sqrt(d);
                        max = Math.max(max, s[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j <= t; j++) sum += (s[j] = Math.exp(s[j] - max));
                    for (int j = 0; j <= t; j++) for (int i = 0; i < d; i++) att[h * d + i] += s[j] / sum * V[j][kh * d + i];
                }
                double[] o = mv(wo, inputs.apply(woName, att));
                if (bo != null) addTo(o, bo);
                addTo(x[t], o);
                double[] xn = rms(x[t], postNorm);
                addTo(x[t], c.isMoe(l) ? moe(p, xn, router) : swiglu(p + "mlp.", xn));
            }
        }
        double[] fn = vec("model.norm.weight");
        String headName = c.tiedEmbeddings() ? "model.embed_tokens.weight" : "lm_head.weight";
        double[][] head = mat(headName);
        double[][] out = new double[n][];
        for (int t = 0; t < n; t++) out[t] = mv(head, inputs.apply(headName, rms(x[t], fn)));
        return out;
    }

    private double[] moe(String p, double[] xn, RouterKind router) {
        int E = c.numExperts(), k = c.expertsPerTok();
        double[] logits = lin(p + "mlp.gate.weight", xn);
        double[] scale = src.find(p + "mlp.router_scale") != null ? vec(p + "mlp.router_scale") : null;
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (double v : logits) max = Math.max(max, v);
        double[] prob = new double[E];
        for (int e = 0; e < E; e++) sum += (prob[e] = Math.exp(logits[e] - max));
        for (int e = 0; e < E; e++) prob[e] /= sum;
        boolean[] chosen = new boolean[E];
        int groups = router == RouterKind.MOGE ? c.expertGroups() : 1;
        int per = E / groups, kPer = k / groups;
        for (int g = 0; g < groups; g++) {
            for (int r = 0; r < kPer; r++) {
                int best = -1;
                for (int e = g * per; e < (g + 1) * per; e++) if (!chosen[e] && (best < 0 || prob[e] > prob[best])) best = e;
                chosen[best] = true;
            }
        }
        double[] out = c.sharedIntermediate() > 0 ? swiglu(p + "mlp.shared_expert.", xn) : new double[xn.length];
        double chosenSum = 0;
        for (int e = 0; e < E; e++) if (chosen[e]) chosenSum += prob[e];
        for (int e = 0; e < E; e++) {
            if (!chosen[e]) continue;
            double[] y = swiglu(p + "mlp.experts." + e + ".", xn);
            double w = (c.normTopkProb() ? prob[e] / chosenSum : prob[e]) * (scale == null ? 1 : scale[e]);
            for (int i = 0; i < out.length; i++) out[i] += w * y[i];
        }
        return out;
    }

    private static void addTo(double[] a, double[] b) {
        for (int i = 0; i < a.length; i++) a[i] += b[i];
    }
}
