package moge.server.sched;

import moge.generate.Step;

/**
 * Receives a sequence's progress. Called on the scheduler thread: implementations hand the events to
 * another thread (the HTTP request's) and return at once.
 */
public interface SequenceListener {
    /**
     * One emitted token: {@code text} is the output text that became final with it (possibly empty, as text
     * that could start a stop string or half a UTF-8 character is held back); {@code step} carries its
     * log-probabilities when the request asked for them, else null.
     */
    void onToken(SequenceState s, int id, String text, Step step);

    /** The sequence ended normally (stop, length). {@code text} is the held-back rest of the output. */
    void onFinish(SequenceState s, String text, SequenceResult result);

    /** The sequence ended without a result (cancelled, shutdown, engine failure). */
    void onError(SequenceState s, RuntimeException error);
}
