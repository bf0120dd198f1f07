package moge.cluster;

import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.InsecureServerCredentials;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallExecutorSupplier;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import moge.MogeException;
import moge.model.LoadedModel;
import moge.model.ModelConfig;
import moge.model.ModelDescription;
import moge.model.ModelLoader;
import moge.moe.DeviceBatch;
import moge.moe.LocalDevice;
import moge.moe.Placement;
import moge.tensor.Parallel;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * {@code moge worker}: serves some expert groups of a model to coordinators. Only the served groups'
 * expert weights are mapped; requests are computed one at a time on the worker's own thread team.
 */
public final class ExpertWorker implements AutoCloseable {
    private final LoadedModel model;
    private final int[] groups;
    private final boolean[] served;
    private final LocalDevice device;
    private final Server server;
    private final long configHash, weightsHash;
    private final long delayMillis;
    private final Wire.RunRequest scratch = new Wire.RunRequest();
    private final String description;
    private final ExecutorService executor;
    private volatile boolean closed;

    /**
     * @param groups      groups to serve as people write them ("0-3", "4,6"); null = all
     * @param bind        address to listen on ("0.0.0.0" for every interface)
     * @param port        TCP port (0 = any free port; see {@link #port()})
     * @param delayMillis added to every Run request (tests of slow workers); 0 normally
     */
    public static ExpertWorker start(Path modelPath, String groups, String bind, int port, int threads, long delayMillis) {
        ModelConfig c0 = peekConfig(modelPath);
        int[] g = groups != null ? Placement.parseGroups(groups, c0.expertGroups()) : allGroups(c0);
        LoadedModel lm = ModelLoader.load(modelPath, null, Placement.expertMask(c0, g));
        try {
            return new ExpertWorker(lm, g, bind, port, threads, delayMillis);
        } catch (RuntimeException e) {
            lm.close();
            throw e;
        }
    }

    /** The config alone, so that the expert mask is known before any weights are mapped. */
    private static ModelConfig peekConfig(Path modelPath) {
        ModelConfig c;
        try (ModelDescription d = ModelLoader.describe(modelPath, null)) {
            c = d.config();
        }
        if (!c.hasExperts()) throw new MogeException(modelPath + ": the model has no routed experts to serve");
        return c;
    }

    private static int[] allGroups(ModelConfig c) {
        int[] g = new int[c.expertGroups()];
        for (int i = 0; i < g.length; i++) g[i] = i;
        return g;
    }

    private ExpertWorker(LoadedModel lm, int[] groups, String bind, int port, int threads, long delayMillis) {
        this.model = lm;
        this.groups = groups.clone();
        ModelConfig c = lm.config;
        this.served = Placement.expertMask(c, groups);
        this.delayMillis = delayMillis;
        this.configHash = Fingerprint.config(c);
        this.weightsHash = Fingerprint.weights(c, lm.weights, groups);
        this.device = new LocalDevice("worker", groups, lm.weights, c, new Parallel(Math.max(1, threads), "moge-worker"), true);
        this.description = lm.path + " groups " + Placement.formatGroups(groups);
        this.executor = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "moge-worker-rpc");
            t.setDaemon(true);
            return t;
        });
        ServerServiceDefinition service = ServerServiceDefinition.builder(Wire.SERVICE)
                .addMethod(Wire.HELLO, ServerCalls.asyncUnaryCall(this::hello))
                .addMethod(Wire.RUN, ServerCalls.asyncUnaryCall(this::run))
                .build();
        try {
            this.server = NettyServerBuilder.forAddress(new InetSocketAddress(bind, port), InsecureServerCredentials.create())
                    .addService(service)
                    // Run goes to one executor thread: a long computation must not block the transport threads
                    // (deadlines, other connections), and requests run one at a time on the team. Hello stays on
                    // the transport thread: it is a coordinator's health check too, and must not queue behind a
                    // computation (with a default executor even the method lookup would wait for that thread).
                    .directExecutor()
                    .callExecutor(new ServerCallExecutorSupplier() {
                        @Override
                        public <Q, A> Executor getExecutor(ServerCall<Q, A> call, Metadata headers) {
                            return call.getMethodDescriptor().getFullMethodName().equals(Wire.RUN.getFullMethodName()) ? executor : null;
                        }
                    })
                    .maxInboundMessageSize(Integer.MAX_VALUE)
                    .build()
                    .start();
        } catch (IOException e) {
            device.close();
            executor.shutdownNow();
            throw new MogeException("cannot listen on " + bind + ":" + port + " (" + e.getMessage() + ")");
        }
    }

    public int port() {
        return server.getPort();
    }

    public int[] groups() {
        return groups.clone();
    }

    public ModelConfig config() {
        return model.config;
    }

    /** Bytes of the expert matrices this worker maps. */
    public long expertBytes() {
        long b = 0;
        for (var l : model.weights.layers) {
            if (l.expertGate == null) continue;
            for (int e = 0; e < l.expertGate.length; e++) {
                if (l.expertGate[e] != null) b += l.expertGate[e].bytes() + l.expertUp[e].bytes() + l.expertDown[e].bytes();
            }
        }
        return b;
    }

    private void hello(byte[] req, StreamObserver<byte[]> out) {
        try {
            Wire.checkHeader(Wire.le(req));
        } catch (RuntimeException e) {
            out.onError(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException());
            return;
        }
        ModelConfig c = model.config;
        out.onNext(new Wire.Hello(c.layers(), c.hidden(), c.numExperts(), c.expertGroups(), c.moeIntermediate(), configHash,
                weightsHash, groups, description).encode());
        out.onCompleted();
    }

    private synchronized void run(byte[] req, StreamObserver<byte[]> out) {
        long t0 = System.nanoTime();
        if (closed) {
            out.onError(Status.UNAVAILABLE.withDescription("worker is shutting down").asRuntimeException());
            return;
        }
        Wire.RunRequest r;
        try {
            r = Wire.decodeRun(req, model.config.numExperts(), scratch);
        } catch (RuntimeException e) {
            out.onError(Status.INVALID_ARGUMENT.withDescription("bad request: " + e.getMessage()).asRuntimeException());
            return;
        }
        DeviceBatch b = r.batch;
        String problem = check(r);
        if (problem != null) {
            out.onError(Status.FAILED_PRECONDITION.withDescription(problem).asRuntimeException());
            return;
        }
        if (delayMillis > 0) {
            try {
                Thread.sleep(delayMillis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        byte[] reply;
        try {
            device.finish(b);
            reply = Wire.encodeReply(b, r.transport, System.nanoTime() - t0);
        } catch (RuntimeException e) {
            out.onError(Status.INTERNAL.withDescription("worker failed: " + e).asRuntimeException());
            return;
        }
        out.onNext(reply);
        out.onCompleted();
    }

    private String check(Wire.RunRequest r) {
        ModelConfig c = model.config;
        DeviceBatch b = r.batch;
        if (r.weightsHash != weightsHash) return "this worker serves another model (" + description + ")";
        if (b.hidden != c.hidden()) return "hidden size " + b.hidden + " does not match the model's " + c.hidden();
        if (b.layer < 0 || b.layer >= c.layers() || !c.isMoe(b.layer)) return "layer " + b.layer + " has no experts";
        for (int s = 0; s < b.segments; s++) {
            int e = b.segExpert[s];
            if (e < 0 || e >= served.length || !served[e]) {
                return "expert " + e + " is not served here (groups " + Placement.formatGroups(groups) + ")";
            }
        }
        return null;
    }

    /** Blocks until the server stops. */
    public void awaitTermination() throws InterruptedException {
        server.awaitTermination();
    }

    @Override
    public void close() {
        synchronized (server) {
            if (closed) return;
            closed = true;
        }
        server.shutdownNow();
        try {
            server.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        executor.shutdown();
        synchronized (this) { // a computation in flight ends before the weights are unmapped
            device.close();
            model.close();
        }
    }
}
