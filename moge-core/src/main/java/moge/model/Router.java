package moge.model;

/**
 * Expert selection from router logits. MoGE (Pangu Pro MoE): a softmax over all experts, then the top-k'
 * experts by probability inside each of the equal contiguous groups (k' = k / groups), weight = probability
 * times router_scale, no renormalisation. Global top-k: the k most probable experts overall, weights
 * optionally renormalised (Qwen3-MoE) and scaled by router_scale where the model has one. Selection always
 * uses the unscaled probabilities; ties go to the lower expert id.
 */
public final class Router {
    private final RouterKind kind;
    private final int experts;
    private final int k;
    private final int groups;
    private final boolean renormalize;

    public Router(RouterKind kind, int experts, int k, int groups, boolean renormalize) {
        this.kind = kind;
        this.experts = experts;
        this.k = k;
        this.groups = kind == RouterKind.MOGE ? groups : 1;
        this.renormalize = renormalize;
    }

    public static Router of(ModelConfig c) {
        return new Router(c.router(), c.numExperts(), c.expertsPerTok(), c.expertGroups(), c.normTopkProb());
    }

    public RouterKind kind() {
        return kind;
    }

    public int k() {
        return k;
    }

    /**
     * Routes one token. {@code probs} is scratch of at least {@code experts} floats; outputs go to
     * idx[outOff .. outOff+k) and w[outOff .. outOff+k), ordered by group then by rank within the group.
     */
    public void route(float[] logits, int logitOff, float[] scale, float[] probs, int[] idx, float[] w, int outOff) {
        double max = Double.NEGATIVE_INFINITY;
        for (int e = 0; e < experts; e++) max = Math.max(max, logits[logitOff + e]);
        double sum = 0;
        for (int e = 0; e < experts; e++) sum += Math.exp(logits[logitOff + e] - max);
        for (int e = 0; e < experts; e++) probs[e] = (float) (Math.exp(logits[logitOff + e] - max) / sum);
        int perGroup = experts / groups, kPer = k / groups;
        int o = outOff;
        for (int g = 0; g < groups; g++) {
            int lo = g * perGroup, hi = lo + perGroup;
            for (int r = 0; r < kPer; r++) {
                int best = -1;
                for (int e = lo; e < hi; e++) {
                    if (taken(idx, outOff + g * kPer, o, e)) continue;
                    if (best < 0 || probs[e] > probs[best]) best = e;
                }
                idx[o] = best;
                w[o] = probs[best];
                o++;
            }
        }
        if (renormalize) {
            double s = 0;
            for (int i = outOff; i < outOff + k; i++) s += w[i];
            for (int i = outOff; i < outOff + k; i++) w[i] = (float) (w[i] / s);
        }
        if (scale != null) {
            for (int i = outOff; i < outOff + k; i++) w[i] *= scale[idx[i]];
        }
    }

    private static boolean taken(int[] idx, int from, int to, int e) {
        for (int i = from; i < to; i++) if (idx[i] == e) return true;
        return false;
    }
}
