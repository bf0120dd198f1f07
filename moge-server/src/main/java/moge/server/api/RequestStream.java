package moge.server.api;

import moge.generate.Step;
import moge.server.sched.SequenceListener;
import moge.server.sched.SequenceResult;
import moge.server.sched.SequenceState;

import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Hands a sequence's events from the scheduler thread to the HTTP request's thread, so that the model
 * never waits for a slow client.
 */
final class RequestStream implements SequenceListener {
    sealed interface Event permits Token, Finish, Failed {
    }

    record Token(int id, String text, Step step) implements Event {
    }

    record Finish(String text, SequenceResult result) implements Event {
    }

    record Failed(RuntimeException error) implements Event {
    }

    private final LinkedBlockingQueue<Event> events = new LinkedBlockingQueue<>();

    @Override
    public void onToken(SequenceState s, int id, String text, Step step) {
        events.add(new Token(id, text, step));
    }

    @Override
    public void onFinish(SequenceState s, String text, SequenceResult result) {
        events.add(new Finish(text, result));
    }

    @Override
    public void onError(SequenceState s, RuntimeException error) {
        events.add(new Failed(error));
    }

    /** A stream that replays events already collected (an attempt that was held back and then accepted). */
    static RequestStream replay(List<Event> recorded) {
        RequestStream s = new RequestStream();
        s.events.addAll(recorded);
        return s;
    }

    /** The next event, or null after {@code millis}. */
    Event poll(long millis) throws InterruptedException {
        return events.poll(millis, TimeUnit.MILLISECONDS);
    }

    /** Whatever else is already waiting. */
    void drainTo(List<Event> out) {
        events.drainTo(out);
    }
}
