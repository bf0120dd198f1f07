package moge.server.sched;

/** What the scheduler reports as it runs (metrics); called on the scheduler thread, must be quick. */
public interface SchedulerObserver {
    SchedulerObserver NONE = new SchedulerObserver() {
    };

    /** Prompt tokens run through the model in one step. */
    default void promptTokens(int n) {
    }

    default void generatedTokens(int n) {
    }

    /** A prompt was matched against the prefix cache: {@code hit} of its {@code lookedUp} tokens were reused. */
    default void prefixLookup(int lookedUp, int hit) {
    }

    /** From submission to the first generated token. */
    default void timeToFirstToken(long nanos) {
    }

    /** Between two generated tokens of one sequence. */
    default void interTokenLatency(long nanos) {
    }

    /** One forward pass of {@code tokens} tokens for {@code sequences} sequences. */
    default void step(int tokens, int sequences, long nanos) {
    }
}
