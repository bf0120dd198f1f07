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

    /**
     * The prompt's own log-probabilities, as vLLM's prompt_logprobs and OpenAI's legacy {@code echo} give them: for
     * positions 1 .. n-1, the step of token ids[p] under the logits of position p - 1 (position 0 has no prediction).
     * Runs the prompt through {@code model} from an empty sequence of {@code cache}, {@code maxBatch} tokens a pass.
     */
    public static java.util.List<Step> prompt(moge.model.Model model, moge.model.KvCache cache, int[] ids, int topK) {
        int vocab = model.config.vocabSize(), step = model.maxBatch();
        java.util.List<Step> out = new java.util.ArrayList<>(Math.max(0, ids.length - 1));
        moge.model.KvSequence seq = cache.newSequence();
        moge.model.Batch batch = new moge.model.Batch(step);
        try {
            for (int p0 = 0; p0 < ids.length - 1; p0 += step) {
                int end = Math.min(ids.length - 1, p0 + step);
                batch.clear();
                for (int p = p0; p < end; p++) batch.add(ids[p], p, seq, true);
                float[] logits = model.forward(batch);
                for (int p = p0; p < end; p++) out.add(step(p + 1, ids[p + 1], logits, (p - p0) * vocab, vocab, topK));
            }
        } finally {
            seq.release();
        }
        return out;
    }
}
