package moge.server.sched;

/**
 * Per-request rules that steer generation beyond sampling (thinking budgets, forced closing tags). All
 * methods run on the scheduler thread at token boundaries and must be quick.
 */
public interface GenerationPolicy {
    GenerationPolicy NONE = new GenerationPolicy() {
        @Override
        public boolean mayForce() {
            return false;
        }
    };

    /**
     * False when {@link #forceNext} never forces a token: only then may the sequence decode speculatively
     * (a forced token would invalidate the tokens verified past it).
     */
    default boolean mayForce() {
        return true;
    }

    /** The prompt ids are final and the sequence is about to be prefilled. */
    default void onPromptBuilt(SequenceState s) {
    }

    /** A token to emit instead of sampling (e.g. the end of a thinking block when its budget is spent), or -1. */
    default int forceNext(SequenceState s) {
        return -1;
    }

    /** Every emitted token, sampled or forced, after it was appended to the sequence. */
    default void onToken(SequenceState s, int id) {
    }
}
