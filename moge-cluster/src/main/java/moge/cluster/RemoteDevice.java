package moge.cluster;

import com.google.common.util.concurrent.ListenableFuture;
import io.grpc.CallOptions;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import moge.moe.DeviceBatch;
import moge.moe.DeviceUnavailableException;
import moge.moe.ExpertDevice;
import moge.moe.Placement;

import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Expert groups on a remote worker: {@link #start} sends the hidden states of the tokens routed there
 * and the rows to compute, {@link #finish} waits for the outputs. Every call carries a deadline; failures
 * become {@link DeviceUnavailableException} naming the worker and its groups. A channel whose last
 * connection failed is told to reconnect at once, so a restarted worker is picked up by the next request.
 */
public final class RemoteDevice implements ExpertDevice {
    private final String address;
    private final ManagedChannel channel;
    private final int[] groups;
    private final long weightsHash;
    private final Duration timeout;
    private final Transport transport;
    private ListenableFuture<byte[]> pending;
    private RuntimeException startFailure;
    private long sentAt;

    private final AtomicLong calls = new AtomicLong(), bytesOut = new AtomicLong(), bytesIn = new AtomicLong();
    private final AtomicLong roundTripNanos = new AtomicLong(), workerNanos = new AtomicLong();

    RemoteDevice(String address, ManagedChannel channel, int[] groups, long weightsHash, Duration timeout, Transport transport) {
        this.address = address;
        this.channel = channel;
        this.groups = groups.clone();
        this.weightsHash = weightsHash;
        this.timeout = timeout;
        this.transport = transport;
    }

    @Override
    public String name() {
        return "worker " + address;
    }

    @Override
    public int[] groups() {
        return groups.clone();
    }

    @Override
    public boolean local() {
        return false;
    }

    @Override
    public String address() {
        return address;
    }

    /** Calls, bytes each way, time from send to reply and time the worker spent computing. */
    public record Traffic(long calls, long bytesOut, long bytesIn, long roundTripNanos, long workerNanos) {
    }

    public Traffic traffic() {
        return new Traffic(calls.get(), bytesOut.get(), bytesIn.get(), roundTripNanos.get(), workerNanos.get());
    }

    @Override
    public void start(DeviceBatch b) {
        startFailure = null;
        pending = null;
        try {
            reconnectIfFailed(Math.min(timeout.toMillis(), 2000));
            byte[] req = Wire.encodeRun(weightsHash, b, transport);
            bytesOut.addAndGet(req.length);
            sentAt = System.nanoTime();
            pending = ClientCalls.futureUnaryCall(channel.newCall(Wire.RUN,
                    CallOptions.DEFAULT.withDeadlineAfter(timeout.toNanos(), TimeUnit.NANOSECONDS)), req);
        } catch (RuntimeException e) {
            startFailure = e;
        }
    }

    @Override
    public void finish(DeviceBatch b) {
        if (startFailure != null) throw unavailable(startFailure);
        byte[] reply;
        try {
            // the call has its own deadline; the extra second only guards against a lost cancellation
            reply = pending.get(timeout.toMillis() + 1000, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw unavailable(e.getCause());
        } catch (TimeoutException e) {
            pending.cancel(true);
            throw unavailable(Status.DEADLINE_EXCEEDED.asRuntimeException());
        } catch (InterruptedException e) {
            pending.cancel(true);
            Thread.currentThread().interrupt();
            throw unavailable(Status.CANCELLED.withDescription("interrupted").asRuntimeException());
        } finally {
            pending = null;
        }
        roundTripNanos.addAndGet(System.nanoTime() - sentAt);
        bytesIn.addAndGet(reply.length);
        calls.incrementAndGet();
        try {
            workerNanos.addAndGet(Wire.decodeReply(reply, b));
        } catch (RuntimeException e) {
            throw unavailable(Status.INTERNAL.withDescription("malformed reply: " + e.getMessage()).asRuntimeException());
        }
    }

    /**
     * The handshake again, as a health check: it answers on the worker's transport threads, so a long
     * computation there does not delay it, and it shows that the worker still serves these groups of this
     * model (one restarted on other weights refuses every request). Thread-safe; it shares only the channel
     * with {@link #start}/{@link #finish}.
     */
    @Override
    public void probe(Duration deadline) {
        long until = System.nanoTime() + deadline.toNanos();
        Wire.Hello h;
        try {
            reconnectIfFailed(deadline.toMillis());
            long left = Math.max(until - System.nanoTime(), TimeUnit.MILLISECONDS.toNanos(1));
            h = Wire.Hello.decode(ClientCalls.blockingUnaryCall(channel, Wire.HELLO,
                    CallOptions.DEFAULT.withDeadlineAfter(left, TimeUnit.NANOSECONDS), Wire.helloRequest()));
        } catch (StatusRuntimeException e) {
            throw new DeviceUnavailableException(name(), groups, who() + " " + Cluster.explain(e, deadline, "health check"), e);
        } catch (RuntimeException e) {
            throw new DeviceUnavailableException(name(), groups, who() + " answered in an unknown protocol (" + e.getMessage() + ")", e);
        }
        int[] served = h.served().clone(), ours = groups.clone();
        Arrays.sort(served);
        Arrays.sort(ours);
        if (h.weightsHash() != weightsHash || !Arrays.equals(served, ours)) {
            throw new DeviceUnavailableException(name(), groups, who() + " now serves another model or other groups (" + h.description() + ")", null);
        }
    }

    /**
     * After a failed connection gRPC waits out an exponential backoff before trying again; a request should
     * not fail only because that timer is still running while the worker is back, so reset it and give
     * the new attempt a moment to connect or fail.
     */
    private void reconnectIfFailed(long waitMillis) {
        ConnectivityState s = channel.getState(true);
        if (s != ConnectivityState.TRANSIENT_FAILURE) return;
        CountDownLatch changed = new CountDownLatch(1);
        channel.notifyWhenStateChanged(s, changed::countDown);
        channel.resetConnectBackoff();
        try {
            changed.await(waitMillis, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private String who() {
        return "expert worker " + address + " (groups " + Placement.formatGroups(groups) + ")";
    }

    private DeviceUnavailableException unavailable(Throwable t) {
        return new DeviceUnavailableException(name(), groups, who() + " " + Cluster.explain(t, timeout), t);
    }

    @Override
    public void close() {
        channel.shutdownNow();
    }
}
