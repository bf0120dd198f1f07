package moge.server.sched;

import moge.model.Batch;

/**
 * How a decoding sequence advances in one scheduler step: which tokens it feeds the forward pass and what
 * it makes of their logits. The plain strategy feeds the last sampled token and samples one more; a
 * speculative one feeds drafted tokens too, verifies them against the logits, accepts a prefix
 * ({@link SequenceState#accept} each) and rolls the KV cache back past the rejected ones
 * ({@code s.kv().truncate}).
 */
public interface DecodeStrategy {
    /**
     * Adds this step's tokens of {@code s} to the batch, starting with its pending token at position
     * {@code s.length() - 1}; returns how many logits rows it flagged. {@code budget} is how many batch slots
     * it may use (at least 1).
     */
    int plan(SequenceState s, Batch batch, int budget);

    /** Consumes the rows planned for {@code s} ({@code rows} of them from logits row {@code firstRow}). */
    void apply(SequenceState s, float[] logits, int firstRow, int rows);

    /**
     * {@code s} left the scheduler (finished, cancelled, failed): drop whatever was kept for it. Called on
     * the scheduler thread for every sequence this strategy planned at least once.
     */
    default void release(SequenceState s) {
    }

    /** One token per step: feed the pending token, choose the next from its logits. */
    DecodeStrategy SINGLE = new DecodeStrategy() {
        @Override
        public int plan(SequenceState s, Batch batch, int budget) {
            int pos = s.length() - 1;
            batch.add(s.token(pos), pos, s.kv(), true);
            return 1;
        }

        @Override
        public void apply(SequenceState s, float[] logits, int firstRow, int rows) {
            int off = firstRow * s.vocab();
            s.accept(s.chooseNext(logits, off), logits, off);
        }
    };
}
