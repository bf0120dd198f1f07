package moge.train;

import moge.model.ModelConfig;
import moge.model.RouterKind;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The training loss in float64 with plain loops, written straight from spec/pangu.md and independent of the
 * training code: packed sequences, RoPE, GQA attention with biases, dense SwiGLU, MoGE routing with shared
 * expert, the auxiliary load-balancing loss and mean cross-entropy. Finite differences of this function
 * check the float32 gradients.
 */
final class ReferenceLoss {
    private final ModelConfig c;
    private final Map<String, double[]> p = new HashMap<>();
    private final double auxCoef;
    /** Every routing decision of the last evaluation, so callers can skip perturbations that flip one. */
    final List<Integer> selections = new ArrayList<>();

    ReferenceLoss(ModelConfig c, Params params, double auxCoef) {
        this.c = c;
        this.auxCoef = auxCoef;
        for (Params.Tensor t : params.all()) {
            double[] d = new double[t.size()];
            for (int i = 0; i < d.length; i++) d[i] = t.w[i];
            p.put(t.name, d);
        }
    }

    double[] tensor(String name) {
        return p.get(name);
    }

    private double[] mv(String name, double[] x) {
        double[] w = p.get(name);
        int in = x.length, out = w.length / in;
        double[] y = new double[out];
        for (int o = 0; o < out; o++) {
            double s = 0;
            for (int i = 0; i < in; i++) s += w[o * in + i] * x[i];
            y[o] = s;
        }
        return y;
    }

    private double[] rms(double[] x, String w) {
        double[] g = p.get(w);
        double ss = 0;
        for (double v : x) ss += v * v;
        double inv = 1.0 / Math.sqrt(ss / x.length + c.rmsEps());
        double[] o = new double[x.length];
        for (int i = 0; i < x.length; i++) o[i] = x[i] * inv * g[i];
        return o;
    }

    private double[] swiglu(String pre, double[] x) {
        double[] g = mv(pre + "gate_proj.weight", x), u = mv(pre + "up_proj.weight", x);
        double[] h = new double[g.length];
        for (int i = 0; i < h.length; i++) h[i] = g[i] / (1 + Math.exp(-g[i])) * u[i];
        return mv(pre + "down_proj.weight", h);
    }

    private void rope(double[] v, int off, int pos) {
        int d = c.headDim(), half = d / 2;
        for (int i = 0; i < half; i++) {
            double a = pos * Math.pow(c.ropeTheta(), -2.0 * i / d);
            double x1 = v[off + i], x2 = v[off + i + half];
            v[off + i] = x1 * Math.cos(a) - x2 * Math.sin(a);
            v[off + i + half] = x2 * Math.cos(a) + x1 * Math.sin(a);
        }
    }

    private static void addTo(double[] a, double[] b) {
        for (int i = 0; i < a.length; i++) a[i] += b[i];
    }

    double loss(TokenBatch b) {
        selections.clear();
        int n = b.size(), d = c.headDim(), L = c.layers();
        double[] emb = p.get("model.embed_tokens.weight");
        int H = c.hidden();
        double[][] x = new double[n][];
        for (int t = 0; t < n; t++) {
            x[t] = new double[H];
            System.arraycopy(emb, b.tokens[t] * H, x[t], 0, H);
        }
        int moeLayers = 0;
        for (int l = 0; l < L; l++) if (c.isMoe(l)) moeLayers++;
        double aux = 0;
        for (int l = 0; l < L; l++) {
            String pre = "model.layers." + l + ".";
            double[][] q = new double[n][], k = new double[n][], v = new double[n][];
            for (int t = 0; t < n; t++) {
                double[] xn = rms(x[t], pre + "input_layernorm.weight");
                q[t] = mv(pre + "self_attn.q_proj.weight", xn);
                k[t] = mv(pre + "self_attn.k_proj.weight", xn);
                v[t] = mv(pre + "self_attn.v_proj.weight", xn);
                if (c.qkvBias()) {
                    addTo(q[t], p.get(pre + "self_attn.q_proj.bias"));
                    addTo(k[t], p.get(pre + "self_attn.k_proj.bias"));
                    addTo(v[t], p.get(pre + "self_attn.v_proj.bias"));
                }
                for (int h = 0; h < c.heads(); h++) rope(q[t], h * d, b.positions[t]);
                for (int h = 0; h < c.kvHeads(); h++) rope(k[t], h * d, b.positions[t]);
            }
            int group = c.heads() / c.kvHeads();
            double[][] hmid = new double[n][];
            for (int t = 0; t < n; t++) {
                int s0 = t - b.positions[t];
                double[] att = new double[c.qDim()];
                for (int h = 0; h < c.heads(); h++) {
                    int kh = h / group;
                    double[] s = new double[t - s0 + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = s0; j <= t; j++) {
                        double dot = 0;
                        for (int i = 0; i < d; i++) dot += q[t][h * d + i] * k[j][kh * d + i];
                        s[j - s0] = dot / Math.sqrt(d);
                        max = Math.max(max, s[j - s0]);
                    }
                    double sum = 0;
                    for (int j = 0; j < s.length; j++) sum += (s[j] = Math.exp(s[j] - max));
                    for (int j = s0; j <= t; j++) for (int i = 0; i < d; i++) att[h * d + i] += s[j - s0] / sum * v[j][kh * d + i];
                }
                double[] o = mv(pre + "self_attn.o_proj.weight", att);
                if (c.oBias()) addTo(o, p.get(pre + "self_attn.o_proj.bias"));
                hmid[t] = x[t].clone();
                addTo(hmid[t], o);
            }
            if (c.isMoe(l)) {
                aux += moe(pre, hmid, n) / moeLayers;
            } else {
                for (int t = 0; t < n; t++) addTo(hmid[t], swiglu(pre + "mlp.", rms(hmid[t], pre + "post_attention_layernorm.weight")));
            }
            x = hmid;
        }
        double[] head = p.get(c.tiedEmbeddings() ? "model.embed_tokens.weight" : "lm_head.weight");
        double ce = 0;
        int targets = 0;
        for (int t = 0; t < n; t++) {
            if (b.targets[t] < 0) continue;
            double[] xf = rms(x[t], "model.norm.weight");
            int V = c.vocabSize();
            double[] logit = new double[V];
            double max = Double.NEGATIVE_INFINITY;
            for (int vv = 0; vv < V; vv++) {
                double s = 0;
                for (int i = 0; i < H; i++) s += head[vv * H + i] * xf[i];
                logit[vv] = s;
                max = Math.max(max, s);
            }
            double sum = 0;
            for (double lv : logit) sum += Math.exp(lv - max);
            ce += Math.log(sum) + max - logit[b.targets[t]];
            targets++;
        }
        return (targets == 0 ? 0 : ce / targets) + aux;
    }

    /** Adds the MoE output to h in place and returns this layer's auxiliary loss (before averaging). */
    private double moe(String pre, double[][] h, int n) {
        int E = c.numExperts(), k = c.expertsPerTok();
        int groups = c.router() == RouterKind.MOGE ? c.expertGroups() : 1;
        int per = E / groups, kPer = k / groups;
        double[] scale = p.get(pre + "mlp.router_scale");
        double[] count = new double[E], pSum = new double[E];
        double[][] out = new double[n][];
        for (int t = 0; t < n; t++) {
            double[] xn = rms(h[t], pre + "post_attention_layernorm.weight");
            double[] logits = mv(pre + "mlp.gate.weight", xn);
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (double v : logits) max = Math.max(max, v);
            double[] prob = new double[E];
            for (int e = 0; e < E; e++) sum += (prob[e] = Math.exp(logits[e] - max));
            for (int e = 0; e < E; e++) {
                prob[e] /= sum;
                pSum[e] += prob[e];
            }
            boolean[] chosen = new boolean[E];
            for (int g = 0; g < groups; g++) {
                for (int r = 0; r < kPer; r++) {
                    int best = -1;
                    for (int e = g * per; e < (g + 1) * per; e++) if (!chosen[e] && (best < 0 || prob[e] > prob[best])) best = e;
                    chosen[best] = true;
                    selections.add(best);
                }
            }
            double[] o = c.sharedIntermediate() > 0 ? swiglu(pre + "mlp.shared_expert.", xn) : new double[xn.length];
            for (int e = 0; e < E; e++) {
                if (!chosen[e]) continue;
                count[e]++;
                double[] y = swiglu(pre + "mlp.experts." + e + ".", xn);
                for (int i = 0; i < o.length; i++) o[i] += prob[e] * scale[e] * y[i];
            }
            out[t] = o;
        }
        for (int t = 0; t < n; t++) addTo(h[t], out[t]);
        double aux = 0;
        for (int e = 0; e < E; e++) aux += (count[e] / n) * (pSum[e] / n);
        return auxCoef * E * aux;
    }
}
