package moge.model;

/**
 * Where routed experts run: on this machine's thread team, on a set of local "devices", or on remote
 * workers. The forward pass hands over the normalised hidden states and the routing of a whole batch.
 */
public interface ExpertExecutor extends AutoCloseable {
    /**
     * For every token t < T and slot s < k: out[t*H ..] += w[t*k+s] * Expert_{idx[t*k+s]}(xn[t*H ..]).
     * Contributions are summed per token in slot order, so the result does not depend on where experts ran.
     */
    void run(int layer, float[] xn, int tokens, int[] idx, float[] w, int k, float[] out);

    @Override
    default void close() {
    }
}
