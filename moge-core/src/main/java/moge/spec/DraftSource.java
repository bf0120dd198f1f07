package moge.spec;

/**
 * Proposes tokens for the target model to verify: a smaller draft model, a quantized copy of the target,
 * or a lookup of the text so far. A source only guesses; whatever it proposes, the output is the target's.
 */
public interface DraftSource extends AutoCloseable {
    /**
     * Proposes up to {@code max} tokens that may follow {@code history[0 .. len)} into {@code out} (cleared
     * first) and returns how many. A source that keeps state (a draft model's cache) syncs it to the
     * history given here, so rolled-back tokens need no separate notice.
     */
    int propose(int[] history, int len, int max, Proposal out);

    /** A new generation starts from this prompt (a draft model may read it now, with the target's prefill). */
    default void begin(int[] prompt) {
    }

    /** Tokens the last {@link #propose} had to read before proposing (a draft model catching up); 0 if none. */
    default int lastCatchUp() {
        return 0;
    }

    /** A short description for metrics ("ngram", "self:q4_0", a draft model's directory). */
    String name();

    /** True when proposals are a fixed function of the history (q is a point mass on each token). */
    boolean deterministic();

    @Override
    default void close() {
    }
}
