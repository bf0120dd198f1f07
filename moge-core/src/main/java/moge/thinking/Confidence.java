package moge.thinking;

import java.util.Locale;

/**
 * How sure a model was of an answer, from the log-probabilities of the answer's own tokens: the mean (overall
 * fluency) and the minimum (the single most doubtful choice, where a wrong digit shows up).
 *
 * @param tokens      answer tokens scored
 * @param meanLogprob mean log-probability (0 when no tokens)
 * @param minLogprob  smallest log-probability (0 when no tokens)
 */
public record Confidence(int tokens, double meanLogprob, double minLogprob) {
    /**
     * Cut-offs for {@link #confident}: the mean must be at least {@code mean} and every token at least {@code min}.
     */
    public record Thresholds(double mean, double min) {
        /** Defaults chosen on the demo model's held-out set (see BENCHMARKS.md). */
        public static final Thresholds DEFAULT = new Thresholds(-0.25, -1.5);

        public Thresholds {
            if (Double.isNaN(mean) || Double.isNaN(min) || mean > 0 || min > 0) {
                throw new moge.MogeException("cascade thresholds are log-probabilities (<= 0), got mean " + mean + ", min " + min);
            }
        }
    }

    public static Confidence of(double[] logprobs, int n) {
        if (n == 0) return new Confidence(0, 0, 0);
        double sum = 0, min = Double.POSITIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            sum += logprobs[i];
            min = Math.min(min, logprobs[i]);
        }
        return new Confidence(n, sum / n, min);
    }

    /** Confident when there is an answer at all and both the mean and the minimum clear their thresholds. */
    public boolean confident(Thresholds t) {
        return tokens > 0 && meanLogprob >= t.mean() && minLogprob >= t.min();
    }

    /** One line saying why the decision went the way it did. */
    public String explain(Thresholds t) {
        if (tokens == 0) return "the fast answer was empty";
        String mean = String.format(Locale.ROOT, "mean logprob %.3f %s %.3f", meanLogprob, meanLogprob >= t.mean() ? ">=" : "<", t.mean());
        String min = String.format(Locale.ROOT, "min logprob %.3f %s %.3f", minLogprob, minLogprob >= t.min() ? ">=" : "<", t.min());
        return mean + ", " + min;
    }
}
