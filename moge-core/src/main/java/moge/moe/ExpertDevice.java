package moge.moe;

import java.time.Duration;

/**
 * Where some expert groups run: a local thread team or a remote worker. The dispatcher first starts every
 * device that computes elsewhere, then finishes the local ones on its own threads, then collects the rest,
 * so remote and local devices overlap.
 */
public interface ExpertDevice extends AutoCloseable {
    /** For messages: "device 1", "worker 10.0.0.2:7070". */
    String name();

    /** The expert groups this device owns. */
    int[] groups();

    /** True when {@link #finish} does the computing on the calling thread (and should be spread over cores). */
    boolean local();

    /** Starts computing the batch elsewhere; a no-op for local devices. */
    void start(DeviceBatch b);

    /**
     * Leaves the unweighted output of every row in {@code b.y}. Remote devices wait at most their deadline
     * and throw {@link DeviceUnavailableException} naming their groups.
     */
    void finish(DeviceBatch b);

    /** "host:port" of a device in another process (the server lists and probes these for /health); null here. */
    default String address() {
        return null;
    }

    /**
     * A short round trip that shows the device can take work, within {@code deadline}; throws
     * {@link DeviceUnavailableException} naming it and its groups when it cannot. It may run on any thread while
     * the dispatcher uses the device. A device of this process has nothing to lose touch with.
     */
    default void probe(Duration deadline) {
    }

    @Override
    default void close() {
    }
}
