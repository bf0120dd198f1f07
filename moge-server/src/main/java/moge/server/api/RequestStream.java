package moge.server.api;

import moge.generate.Step;
import moge.server.sched.SequenceListener;
import moge.server.sched.SequenceResult;
import moge.server.sched.SequenceState;

import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Hands the events of a request's sequences (one per choice) from the scheduler thread to the HTTP request's
 * thread, so that the model never waits for a slow client. One queue for all choices keeps their events in the
 * order the model produced them; each event names its choice.
 */
final class RequestStream {
    sealed interface Event permits Token, Finish, Failed {
        int choice();
    }

    record Token(int choice, int id, String text, Step step) implements Event {
    }

    record Finish(int choice, String text, SequenceResult result) implements Event {
    }

    record Failed(int choice, RuntimeException error) implements Event {
    }

    private final LinkedBlockingQueue<Event> events = new LinkedBlockingQueue<>();

    /** The listener of choice {@code choice}'s sequence. */
    SequenceListener listener(int choice) {
        return new SequenceListener() {
            @Override
            public void onToken(SequenceState s, int id, String text, Step step) {
                events.add(new Token(choice, id, text, step));
            }

            @Override
            public void onFinish(SequenceState s, String text, SequenceResult result) {
                events.add(new Finish(choice, text, result));
            }

            @Override
            public void onError(SequenceState s, RuntimeException error) {
                events.add(new Failed(choice, error));
            }
        };
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
