package moge.generate;

import moge.sample.TopK;

/** Log-probabilities of raw logits, computed in double. */
public final class LogProbs {
    private LogProbs() {
    }

    public static double logSumExp(float[] l, int off, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, l[off + i]);
        double s = 0;
        for (int i = 0; i < n; i++) s += Math.exp(l[off + i] - max);
        return max + Math.log(s);
    }

    /** The step record for logits row l[off .. off+vocab) with {@code chosen} picked, top-k alternatives. */
    public static Step step(int pos, int chosen, float[] l, int off, int vocab, int topK) {
        double lse = logSumExp(l, off, vocab);
        int k = Math.max(2, topK);
        int[] top = TopK.indices(l, off, vocab, k);
        double[] lp = new double[top.length];
        for (int i = 0; i < top.length; i++) lp[i] = l[off + top[i]] - lse;
        double margin = top.length > 1 ? lp[0] - lp[1] : Double.POSITIVE_INFINITY;
        int keep = Math.min(topK, top.length);
        return new Step(pos, chosen, l[off + chosen] - lse, java.util.Arrays.copyOf(top, keep), java.util.Arrays.copyOf(lp, keep), margin);
    }
}
