package moge.cluster;

import io.grpc.CallOptions;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import moge.MogeException;
import moge.model.Model;
import moge.model.ModelConfig;
import moge.model.Weights;
import moge.moe.Dispatcher;
import moge.moe.ExpertDevice;
import moge.moe.LoadStats;
import moge.moe.LocalDevice;
import moge.moe.Placement;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * The coordinator's view of its expert workers ({@code --workers host:port,...}): connects to each,
 * checks that it serves the same model (config and a checksum of its groups' expert weights) and which
 * groups it holds, and builds the dispatcher that sends those groups' rows to it. Groups no worker
 * serves run on this machine.
 */
public final class Cluster {
    private static final Duration HANDSHAKE_MIN = Duration.ofSeconds(10);
    private final ModelConfig config;
    private final List<RemoteDevice> workers;
    private final int[] localGroups;

    private Cluster(ModelConfig config, List<RemoteDevice> workers, int[] localGroups) {
        this.config = config;
        this.workers = workers;
        this.localGroups = localGroups;
    }

    /**
     * @param addresses "host:port" of each worker
     * @param weights   the coordinator's weights: the reference for the checksum of every worker's groups
     */
    public static Cluster connect(List<String> addresses, ModelConfig c, Weights weights, String modelName, Duration timeout, Transport transport) {
        if (!c.hasExperts()) throw new MogeException("--workers: " + modelName + " has no routed experts to place on workers");
        if (timeout.isZero() || timeout.isNegative()) throw new MogeException("--worker-timeout must be positive");
        List<RemoteDevice> workers = new ArrayList<>();
        int[] owner = new int[c.expertGroups()];
        java.util.Arrays.fill(owner, -1);
        try {
            for (String a : addresses) {
                String address = normalize(a);
                ManagedChannel ch = Grpc.newChannelBuilder(address, InsecureChannelCredentials.create())
                        .maxInboundMessageSize(Integer.MAX_VALUE)
                        // replies complete the caller's future on the transport thread: no extra hand-off
                        .directExecutor()
                        .build();
                Wire.Hello h;
                try {
                    h = hello(ch, address, timeout);
                    int[] served = check(h, address, c, weights, modelName);
                    for (int g : served) {
                        if (owner[g] >= 0) {
                            throw new MogeException("expert group " + g + " is served by two workers: " + workers.get(owner[g]).name().substring(7)
                                    + " and " + address);
                        }
                        owner[g] = workers.size();
                    }
                    workers.add(new RemoteDevice(address, ch, served, h.weightsHash(), timeout, transport));
                } catch (RuntimeException e) {
                    ch.shutdownNow();
                    throw e;
                }
            }
        } catch (RuntimeException e) {
            for (RemoteDevice w : workers) w.close();
            throw e;
        }
        List<Integer> local = new ArrayList<>();
        for (int g = 0; g < owner.length; g++) if (owner[g] < 0) local.add(g);
        return new Cluster(c, workers, local.stream().mapToInt(Integer::intValue).toArray());
    }

    /**
     * The handshake gets at least 10 s whatever --worker-timeout says: the first call of a process also loads
     * and initialises the transport, which alone can take a second on a cold JVM.
     */
    private static Wire.Hello hello(ManagedChannel ch, String address, Duration requestTimeout) {
        Duration timeout = requestTimeout.compareTo(HANDSHAKE_MIN) < 0 ? HANDSHAKE_MIN : requestTimeout;
        try {
            byte[] reply = ClientCalls.blockingUnaryCall(ch, Wire.HELLO,
                    CallOptions.DEFAULT.withDeadlineAfter(timeout.toNanos(), TimeUnit.NANOSECONDS), Wire.helloRequest());
            return Wire.Hello.decode(reply);
        } catch (StatusRuntimeException e) {
            // past a shorter --worker-timeout the wait was the handshake's own minimum: say which, not the flag
            String deadline = timeout.equals(requestTimeout) ? "--worker-timeout" : "the connect handshake waits at least that";
            throw new MogeException("cannot connect to expert worker " + address + ": it " + explain(e, timeout, deadline)
                    + " (is `moge worker` running there?)", e);
        } catch (RuntimeException e) {
            throw new MogeException("expert worker " + address + " answered in an unknown protocol (" + e.getMessage() + ")", e);
        }
    }

    /** Refuses a worker of another model; returns the groups it serves. */
    private static int[] check(Wire.Hello h, String address, ModelConfig c, Weights weights, String modelName) {
        String who = "expert worker " + address + " (" + h.description() + ")";
        if (h.layers() != c.layers() || h.hidden() != c.hidden() || h.experts() != c.numExperts() || h.groups() != c.expertGroups()
                || h.moeIntermediate() != c.moeIntermediate() || h.configHash() != Fingerprint.config(c)) {
            throw new MogeException(who + " serves a different model than " + modelName + ": it has " + h.layers() + " layers, hidden "
                    + h.hidden() + ", " + h.experts() + " experts in " + h.groups() + " groups, expert ffn " + h.moeIntermediate()
                    + "; here " + c.layers() + ", " + c.hidden() + ", " + c.numExperts() + " in " + c.expertGroups() + ", " + c.moeIntermediate());
        }
        int[] served = h.served().clone();
        if (served.length == 0) throw new MogeException(who + " serves no expert groups");
        for (int g : served) {
            if (g < 0 || g >= c.expertGroups()) throw new MogeException(who + " claims group " + g + " of " + c.expertGroups());
        }
        long expect = Fingerprint.weights(c, weights, served);
        if (expect != h.weightsHash()) {
            throw new MogeException(who + " serves a different model than " + modelName + ": the checksum of the expert weights of groups "
                    + Placement.formatGroups(served) + " differs");
        }
        return served;
    }

    /** "host:port" with a port number; IPv6 hosts in brackets. */
    static String normalize(String a) {
        String s = a.strip();
        int colon = s.lastIndexOf(':');
        if (colon <= 0 || colon == s.length() - 1) throw new MogeException("--workers: '" + a + "' is not host:port");
        try {
            int port = Integer.parseInt(s.substring(colon + 1));
            if (port <= 0 || port > 65535) throw new NumberFormatException();
        } catch (NumberFormatException e) {
            throw new MogeException("--workers: '" + a + "' has no valid port number");
        }
        return s;
    }

    /** Why a call failed, as the end of a sentence: "did not answer within 10 s (--worker-timeout)". */
    static String explain(Throwable t, Duration timeout) {
        return explain(t, timeout, "--worker-timeout");
    }

    /** As {@link #explain(Throwable, Duration)}, naming {@code deadline} as what set the time allowed. */
    static String explain(Throwable t, Duration timeout, String deadline) {
        Status s = Status.fromThrowable(t);
        String detail = s.getDescription();
        Throwable cause = s.getCause();
        while (cause != null && cause.getCause() != null && cause.getCause() != cause) cause = cause.getCause();
        String because = cause != null && cause.getMessage() != null ? cause.getMessage() : detail;
        // netty says "finishConnect(..) failed: Connection refused": keep the part a person needs
        if (because != null && because.contains("failed: ")) because = because.substring(because.lastIndexOf("failed: ") + 8);
        return switch (s.getCode()) {
            case DEADLINE_EXCEEDED -> "did not answer within " + seconds(timeout) + " (" + deadline + ")";
            case UNAVAILABLE -> "is unavailable (" + (because == null ? "connection lost" : because.toLowerCase(Locale.ROOT)) + ")";
            // a worker shutting down resets its streams: from here that is a worker gone mid-request
            case CANCELLED -> "is unavailable (it dropped the request" + (detail == null ? "" : ": " + detail) + ")";
            case FAILED_PRECONDITION -> "refused the request: " + detail;
            default -> "failed: " + s.getCode() + (detail == null ? "" : " " + detail);
        };
    }

    private static String seconds(Duration d) {
        double s = d.toMillis() / 1000.0;
        return (s == Math.rint(s) ? Long.toString((long) s) : Double.toString(s)) + " s";
    }

    public List<RemoteDevice> workers() {
        return List.copyOf(workers);
    }

    /** Groups that no worker serves: they run on this machine. */
    public int[] localGroups() {
        return localGroups.clone();
    }

    /** Routed experts this process must hold: those of the local groups. */
    public boolean[] localExperts() {
        return Placement.expertMask(config, localGroups);
    }

    /** Device i is worker i in the order given; the last device is this machine when some groups are left. */
    public Placement placement() {
        List<int[]> groups = new ArrayList<>();
        for (RemoteDevice w : workers) groups.add(w.groups());
        if (localGroups.length > 0) groups.add(localGroups);
        return Placement.of(config, groups);
    }

    /**
     * Builds the placement (workers in the order given, then this machine for the remaining groups) and
     * installs the dispatcher in the model. The model then owns the workers' channels.
     */
    public Dispatcher install(Model m, LoadStats stats) {
        List<ExpertDevice> devices = new ArrayList<>(workers);
        if (localGroups.length > 0) devices.add(new LocalDevice("this machine", localGroups, m.weights, m.config, m.team(), false));
        Dispatcher d = new Dispatcher(m.config, placement(), devices, m.team(), stats);
        m.setExpertExecutor(d);
        return d;
    }

    /** Closes the channels (when the cluster was not installed in a model). */
    public void close() {
        for (RemoteDevice w : workers) w.close();
    }
}
