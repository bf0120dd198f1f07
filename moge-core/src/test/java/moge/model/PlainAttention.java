package moge.model;

/** The float64 reference the attention kernels are tested against: a plain softmax over every cached key. */
final class PlainAttention {
    private PlainAttention() {
    }

    /**
     * softmax(q . K_j / sqrt(d), j < n) . V_j for query head h (KV head kh) of token {@code t} in layer 0,
     * in float64, as d values.
     */
    static double[] head(ModelConfig c, KvCache cache, KvSequence seq, int n, float[] q, int t, int h, int kh) {
        int d = c.headDim(), qo = t * c.qDim() + h * d;
        double[] w = new double[n];
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (int j = 0; j < n; j++) {
            double dot = 0;
            for (int i = 0; i < d; i++) dot += (double) q[qo + i] * cache.key(0, cache.offset(seq.slot(j), kh) + i);
            w[j] = dot / Math.sqrt(d);
            max = Math.max(max, w[j]);
        }
        for (int j = 0; j < n; j++) sum += w[j] = Math.exp(w[j] - max);
        double[] out = new double[d];
        for (int i = 0; i < d; i++) {
            for (int j = 0; j < n; j++) out[i] += w[j] / sum * cache.value(0, cache.offset(seq.slot(j), kh) + i);
        }
        return out;
    }
}
