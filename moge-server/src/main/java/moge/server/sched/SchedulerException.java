package moge.server.sched;

import moge.MogeException;
import moge.ServiceUnavailable;

/** Why the scheduler did not (or no longer does) serve a request; the HTTP layer maps each to a status. */
public class SchedulerException extends MogeException {
    public SchedulerException(String message) {
        super(message);
    }

    /** The wait queue is full (429). */
    public static final class QueueFull extends SchedulerException {
        public QueueFull(int size) {
            super("the server is busy: " + (size == 1 ? "1 request is" : size + " requests are") + " already waiting; retry later");
        }
    }

    /** The server is shutting down or not started (503). */
    public static final class Unavailable extends SchedulerException implements ServiceUnavailable {
        public Unavailable(String message) {
            super(message);
        }
    }

    /** The client went away or asked to stop. */
    public static final class Cancelled extends SchedulerException {
        public Cancelled() {
            super("request cancelled");
        }
    }
}
