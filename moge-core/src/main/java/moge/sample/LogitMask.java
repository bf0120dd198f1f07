package moge.sample;

/**
 * A rule on which ids may come next, given what came before (constrained decoding: a grammar the output must
 * follow). The {@link Sampler} asks it after the logit bias and the penalties and before any filter, so that a
 * forbidden id can neither be chosen greedily nor drawn, and speculative verification, which samples through
 * the same sampler with the drafted tokens appended to the history, rejects what the rule forbids.
 */
@FunctionalInterface
public interface LogitMask {
    /**
     * Sets {@code logits[0 .. vocab)} of every id that must not follow {@code history[0 .. len)} to
     * -infinity. The history is the prompt and the tokens generated so far, in order; a caller may ask for a
     * history that extends what it asked before by tokens that are later dropped (speculative rows).
     */
    void apply(float[] logits, int vocab, int[] history, int len);
}
