package moge.sample;

import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.UnaryOperator;

/**
 * Chooses a token from logits: the logit bias, penalties on recent tokens, then temperature, top-k, top-p
 * and min-p, then a draw from the remaining distribution with a seeded generator (same seed, same tokens).
 * Candidates are kept sorted by logit, ties by lower id, so every filter is deterministic.
 */
public final class Sampler {
    private final SamplerParams p;
    private final SplittableRandom rng;
    private final int vocab;
    // the logit bias, sorted by id; a ban is -infinity, so that no temperature or filter can revive it
    private final int[] biasIds;
    private final float[] biasValues;
    // constrained decoding (a JSON grammar): applied last, so that nothing can revive a forbidden id
    private final LogitMask mask;
    private float[] work = new float[0];
    private long[] keys = new long[0];
    private int[] counts = new int[0];

    public Sampler(SamplerParams p, int vocab) {
        this(p, vocab, null);
    }

    /** A sampler that only chooses among the ids {@code mask} allows (null: all). */
    public Sampler(SamplerParams p, int vocab, LogitMask mask) {
        this.mask = mask;
        p.validate(UnaryOperator.identity(), vocab);
        this.p = p;
        this.vocab = vocab;
        this.rng = new SplittableRandom(p.seed() >= 0 ? p.seed() : System.nanoTime());
        biasIds = new int[p.logitBias().size()];
        biasValues = new float[biasIds.length];
        int i = 0;
        for (Map.Entry<Integer, Float> e : p.logitBias().entrySet()) {
            biasIds[i] = e.getKey();
            biasValues[i++] = e.getValue() <= SamplerParams.BAN ? Float.NEGATIVE_INFINITY : e.getValue();
        }
    }

    public SamplerParams params() {
        return p;
    }

    /** Picks a token from logits[off .. off+vocab) given the tokens generated or seen so far. */
    public int sample(float[] logits, int off, int[] history, int historyLen) {
        float[] w = adjusted(logits, off, history, historyLen);
        float[] l = w != null ? w : logits;
        int o = w != null ? 0 : off;
        if (p.isGreedy()) return argmax(l, o, vocab);
        return draw(probabilities(l, o));
    }

    /** The filtered, normalised distribution the next draw uses (for speculative sampling and tests). */
    public float[] distribution(float[] logits, int off, int[] history, int historyLen) {
        float[] w = adjusted(logits, off, history, historyLen);
        float[] l = w != null ? w : logits;
        int o = w != null ? 0 : off;
        if (p.isGreedy()) {
            float[] d = new float[vocab];
            d[argmax(l, o, vocab)] = 1f;
            return d;
        }
        return probabilities(l, o).clone();
    }

    /**
     * The logits with the bias, the penalties and the mask applied, in a copy (the caller's row is the model's output,
     * which log-probabilities still read); null when there is nothing to apply, so that plain sampling reads
     * the row itself. The bias comes first, as in llama.cpp and vLLM, so a penalty scales a biased logit.
     */
    private float[] adjusted(float[] logits, int off, int[] history, int historyLen) {
        boolean penalise = p.hasPenalties() && historyLen > 0;
        if (!penalise && biasIds.length == 0 && mask == null) return null;
        if (work.length < vocab) work = new float[vocab];
        System.arraycopy(logits, off, work, 0, vocab);
        for (int i = 0; i < biasIds.length; i++) work[biasIds[i]] += biasValues[i];
        if (penalise) applyPenalties(work, history, historyLen);
        if (mask != null) mask.apply(work, vocab, history, historyLen);
        return work;
    }

    /** Draws an index from a normalised distribution with this sampler's generator. */
    public int draw(float[] probs) {
        double u = rng.nextDouble(), acc = 0;
        int last = -1;
        for (int i = 0; i < vocab; i++) {
            if (probs[i] <= 0) continue;
            acc += probs[i];
            last = i;
            if (u < acc) return i;
        }
        return last;
    }

    public double nextUniform() {
        return rng.nextDouble();
    }

    public static int argmax(float[] l, int off, int n) {
        int best = 0;
        float bv = l[off];
        for (int i = 1; i < n; i++) {
            if (l[off + i] > bv) {
                bv = l[off + i];
                best = i;
            }
        }
        return best;
    }

    private void applyPenalties(float[] l, int[] history, int historyLen) {
        if (counts.length < vocab) counts = new int[vocab];
        int from = p.repeatLastN() > 0 ? Math.max(0, historyLen - p.repeatLastN()) : 0;
        for (int i = from; i < historyLen; i++) if (history[i] >= 0 && history[i] < vocab) counts[history[i]]++;
        for (int i = from; i < historyLen; i++) {
            int t = history[i];
            if (t < 0 || t >= vocab || counts[t] == 0) continue;
            float x = l[t];
            if (p.repeatPenalty() != 1f) x = x > 0 ? x / p.repeatPenalty() : x * p.repeatPenalty();
            x -= p.presencePenalty() + p.frequencyPenalty() * counts[t];
            l[t] = x;
            counts[t] = 0;
        }
    }

    private float[] probs = new float[0];

    private float[] probabilities(float[] l, int o) {
        if (probs.length < vocab) probs = new float[vocab];
        float inv = 1f / p.temperature();
        int k = p.topK() > 0 ? Math.min(p.topK(), vocab) : vocab;
        int[] cand = topCandidates(l, o, k);
        double max = l[o + cand[0]] * (double) inv;
        double[] e = new double[cand.length];
        double sum = 0;
        for (int i = 0; i < cand.length; i++) {
            e[i] = Math.exp(l[o + cand[i]] * (double) inv - max);
            sum += e[i];
        }
        int keep = cand.length;
        if (p.topP() < 1f) {
            double acc = 0;
            for (int i = 0; i < cand.length; i++) {
                acc += e[i] / sum;
                if (acc >= p.topP()) {
                    keep = i + 1;
                    break;
                }
            }
        }
        if (p.minP() > 0f) {
            double threshold = p.minP() * e[0];
            for (int i = 1; i < keep; i++) {
                if (e[i] < threshold) {
                    keep = i;
                    break;
                }
            }
        }
        Arrays.fill(probs, 0, vocab, 0f);
        double s = 0;
        for (int i = 0; i < keep; i++) s += e[i];
        for (int i = 0; i < keep; i++) probs[cand[i]] = (float) (e[i] / s);
        return probs;
    }

    /** Ids of the k largest logits, largest first, ties to the lower id. */
    private int[] topCandidates(float[] l, int o, int k) {
        if (k == vocab) {
            // Sort packed (value, index) keys: primitive sort, ties broken by the lower index.
            if (keys.length < vocab) keys = new long[vocab];
            for (int i = 0; i < vocab; i++) {
                int bits = Float.floatToRawIntBits(l[o + i]);
                int sortable = bits ^ ((bits >> 31) & 0x7FFFFFFF);
                keys[i] = ((long) sortable << 32) | (~i & 0xFFFFFFFFL);
            }
            Arrays.sort(keys, 0, vocab);
            int[] out = new int[vocab];
            for (int i = 0; i < vocab; i++) out[i] = ~(int) keys[vocab - 1 - i];
            return out;
        }
        return TopK.indices(l, o, vocab, k);
    }
}
