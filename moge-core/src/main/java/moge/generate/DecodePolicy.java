package moge.generate;

/**
 * A per-generation hook into the decode loop, consulted before every sampled position. It may force the next
 * token instead of sampling one (a thinking budget closes the reasoning block this way); forced tokens are fed to
 * the model, streamed and reported as steps exactly like sampled ones. One instance serves one generation: it may
 * keep state.
 */
public interface DecodePolicy {
    /** Returned by {@link #forcedToken} to let the sampler choose. */
    int SAMPLE = -1;

    /** The id to emit at the next position instead of sampling, or {@link #SAMPLE}. */
    int forcedToken();

    /** Called once per emitted token, sampled or forced, before it is streamed. */
    void accepted(int id, boolean forced);

    /**
     * False when this policy will never force a token (it only watches): speculative decoding stays on, since
     * no forced token can invalidate tokens speculated ahead.
     */
    default boolean mayForce() {
        return true;
    }

    DecodePolicy NONE = new DecodePolicy() {
        @Override
        public int forcedToken() {
            return SAMPLE;
        }

        @Override
        public void accepted(int id, boolean forced) {
        }

        @Override
        public boolean mayForce() {
            return false;
        }
    };
}
