package moge.cluster;

import moge.Fixtures;
import moge.MogeException;
import moge.format.DType;
import moge.model.LoadedModel;
import moge.model.Model;
import moge.model.ModelConfig;
import moge.model.ModelLoader;
import moge.model.TestModels;
import moge.moe.DeviceRuns;
import moge.moe.DeviceUnavailableException;
import moge.moe.Dispatcher;
import moge.moe.LoadStats;
import moge.moe.Placement;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Coordinator and expert workers in one JVM on loopback: equality with one process, refusals and faults. */
class RemoteExpertsTest {
    @TempDir
    static Path tmp;
    static Path f32Model, otherModel;
    static final ModelConfig CONFIG = TestModels.moge(300, 80, 3, 4, 2, 20, 16, 8, 8, 24, 40,
            new boolean[]{true, false, false}, 48, false, 10000.0);

    final List<ExpertWorker> started = new ArrayList<>();

    @BeforeAll
    static void models() {
        f32Model = TestModels.write(tmp.resolve("f32"), CONFIG, DType.F32, 21);
        otherModel = TestModels.write(tmp.resolve("other"), CONFIG, DType.F32, 22);
    }

    @AfterEach
    void stopWorkers() {
        for (ExpertWorker w : started) w.close();
    }

    ExpertWorker worker(Path model, String groups, int port, long delay) {
        ExpertWorker w = ExpertWorker.start(model, groups, "127.0.0.1", port, 1, delay);
        started.add(w);
        return w;
    }

    static String addr(ExpertWorker w) {
        return "127.0.0.1:" + w.port();
    }

    /** Log-softmax of every row of logits. */
    static double[] logProbs(float[] logits, int V) {
        double[] out = new double[logits.length];
        for (int r = 0; r < logits.length / V; r++) {
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int v = 0; v < V; v++) max = Math.max(max, logits[r * V + v]);
            for (int v = 0; v < V; v++) sum += Math.exp(logits[r * V + v] - max);
            double lse = max + Math.log(sum);
            for (int v = 0; v < V; v++) out[r * V + v] = logits[r * V + v] - lse;
        }
        return out;
    }

    static double maxDiff(double[] a, double[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }

    /** The single-process output, taken from a second run: the first runs partly interpreted (other rounding). */
    private static DeviceRuns.Run single(Path model, int[] prompt, int chunk, int steps) {
        try (LoadedModel lm = ModelLoader.load(model); Model m = new Model(lm.config, lm.weights, 2, chunk)) {
            DeviceRuns.run(m, prompt, chunk, steps);
            return DeviceRuns.run(m, prompt, chunk, steps);
        }
    }

    private static DeviceRuns.Run remote(Path model, List<String> workers, Transport t, int[] prompt, int chunk, int steps, Duration timeout) {
        try (LoadedModel lm = ModelLoader.load(model); Model m = new Model(lm.config, lm.weights, 2, chunk)) {
            Cluster cl = Cluster.connect(workers, lm.config, lm.weights, lm.name(), timeout, t);
            LoadStats stats = new LoadStats(Placement.split(lm.config, 2), lm.config.layers(), 0);
            Dispatcher d = cl.install(m, stats);
            DeviceRuns.Run r = DeviceRuns.run(m, prompt, chunk, steps);
            RemoteDevice.Traffic tr = cl.workers().get(0).traffic();
            assertThat(tr.calls()).isPositive();
            assertThat(tr.bytesOut()).isPositive();
            assertThat(stats.snapshot().imbalanceMax()).isZero();
            assertThat(d.devices()).hasSize(workers.size() + (cl.localGroups().length > 0 ? 1 : 0));
            return r;
        }
    }

    @Test
    void twoWorkersGiveTheSingleProcessOutput() {
        ExpertWorker a = worker(f32Model, "0-3", 0, 0), b = worker(f32Model, "4-7", 0, 0);
        assertThat(a.expertBytes()).isEqualTo(2 /* moe layers */ * 8L * 3 * 24 * 80 * 4);
        int[] prompt = DeviceRuns.tokens(37, 300, 9);
        DeviceRuns.Run ref = single(f32Model, prompt, 16, 10);
        DeviceRuns.Run got = remote(f32Model, List.of(addr(a), addr(b)), Transport.F32, prompt, 16, 10, Duration.ofSeconds(10));
        assertThat(got.greedy()).containsExactly(ref.greedy());
        assertThat(maxDiff(logProbs(got.logits(), 300), logProbs(ref.logits(), 300))).isLessThanOrEqualTo(1e-5);

        DeviceRuns.Run bf = remote(f32Model, List.of(addr(b), addr(a)), Transport.BF16, prompt, 16, 10, Duration.ofSeconds(10));
        double d = maxDiff(logProbs(bf.logits(), 300), logProbs(ref.logits(), 300));
        System.out.println("bf16 transport: max |log-prob difference| " + d);
        assertThat(d).isPositive().isLessThan(0.05);
    }

    @Test
    void groupsNoWorkerServesRunHere() {
        Path fixture = Fixtures.model("pangu-moe-tiny");
        ExpertWorker w = worker(fixture, "1,3", 0, 0);
        int[] prompt = DeviceRuns.tokens(20, 1280, 4);
        DeviceRuns.Run ref = single(fixture, prompt, 8, 6);
        try (LoadedModel probe = ModelLoader.load(fixture)) {
            Cluster cl = Cluster.connect(List.of(addr(w)), probe.config, probe.weights, "fixture", Duration.ofSeconds(10), Transport.F32);
            assertThat(cl.localGroups()).containsExactly(0, 2);
            // this process maps only the local groups' experts: running a remote one here would fail
            try (LoadedModel lm = ModelLoader.load(fixture, null, cl.localExperts()); Model m = new Model(lm.config, lm.weights, 2, 8)) {
                assertThat(lm.weights.layers[0].expertGate[4]).isNull();
                cl.install(m, null);
                DeviceRuns.Run got = DeviceRuns.run(m, prompt, 8, 6);
                assertThat(got.greedy()).containsExactly(ref.greedy());
                // bf16 weights: the 1e-5 promise is for f32 checkpoints; this one only guards against gross errors
                assertThat(maxDiff(logProbs(got.logits(), 1280), logProbs(ref.logits(), 1280))).isLessThanOrEqualTo(1e-4);
            }
        }
    }

    @Test
    void workerOfAnotherModelIsRefusedAtConnect() {
        ExpertWorker w = worker(otherModel, "0-3", 0, 0);
        try (LoadedModel lm = ModelLoader.load(f32Model)) {
            assertThatThrownBy(() -> Cluster.connect(List.of(addr(w)), lm.config, lm.weights, "f32", Duration.ofSeconds(10), Transport.F32))
                    .isInstanceOf(MogeException.class)
                    .hasMessageContaining("expert worker " + addr(w))
                    .hasMessageContaining("serves a different model than f32")
                    .hasMessageContaining("checksum of the expert weights of groups 0-3 differs");
        }
        ExpertWorker fixture = worker(Fixtures.model("pangu-moe-tiny"), null, 0, 0);
        try (LoadedModel lm = ModelLoader.load(f32Model)) {
            assertThatThrownBy(() -> Cluster.connect(List.of(addr(fixture)), lm.config, lm.weights, "f32", Duration.ofSeconds(10), Transport.F32))
                    .hasMessageContaining("serves a different model").hasMessageContaining("hidden 128");
        }
    }

    @Test
    void overlappingWorkersAndBadAddressesAreRefused() {
        ExpertWorker a = worker(f32Model, "0-3", 0, 0), b = worker(f32Model, "3-5", 0, 0);
        try (LoadedModel lm = ModelLoader.load(f32Model)) {
            assertThatThrownBy(() -> Cluster.connect(List.of(addr(a), addr(b)), lm.config, lm.weights, "f32", Duration.ofSeconds(10), Transport.F32))
                    .hasMessageContaining("expert group 3 is served by two workers");
            assertThatThrownBy(() -> Cluster.connect(List.of("localhost"), lm.config, lm.weights, "f32", Duration.ofSeconds(10), Transport.F32))
                    .hasMessageContaining("'localhost' is not host:port");
            assertThatThrownBy(() -> Cluster.connect(List.of("localhost:99999"), lm.config, lm.weights, "f32", Duration.ofSeconds(10), Transport.F32))
                    .hasMessageContaining("no valid port");
        }
    }

    @Test
    void downWorkerFailsFastAtConnect() throws Exception {
        int port;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        try (LoadedModel lm = ModelLoader.load(f32Model)) {
            long t0 = System.nanoTime();
            assertThatThrownBy(() -> Cluster.connect(List.of("127.0.0.1:" + port), lm.config, lm.weights, "f32", Duration.ofSeconds(10), Transport.F32))
                    .isInstanceOf(MogeException.class)
                    .hasMessageContaining("cannot connect to expert worker 127.0.0.1:" + port)
                    .hasMessageContaining("unavailable");
            assertThat((System.nanoTime() - t0) / 1e9).isLessThan(10.5);
        }
    }

    @Test
    void aSilentPeerFailsTheHandshakeNamingItsOwnMinimumWait() throws Exception {
        // something listens but never answers; --worker-timeout 1 s, yet the handshake waits its 10 s minimum:
        // the message used to blame "(--worker-timeout)" for a wait the user had not asked for
        try (java.net.ServerSocket silent = new java.net.ServerSocket(0, 4, java.net.InetAddress.getLoopbackAddress());
             LoadedModel lm = ModelLoader.load(f32Model)) {
            String addr = "127.0.0.1:" + silent.getLocalPort();
            assertThatThrownBy(() -> Cluster.connect(List.of(addr), lm.config, lm.weights, "f32", Duration.ofSeconds(1), Transport.F32))
                    .isInstanceOf(MogeException.class)
                    .hasMessage("cannot connect to expert worker " + addr + ": it did not answer within 10 s (the connect handshake "
                            + "waits at least that) (is `moge worker` running there?)");
        }
    }

    @Test
    void slowWorkerFailsWithinTheDeadline() {
        ExpertWorker slow = worker(f32Model, "0-3", 0, 4000), ok = worker(f32Model, "4-7", 0, 0);
        try (LoadedModel lm = ModelLoader.load(f32Model); Model m = new Model(lm.config, lm.weights, 2, 8)) {
            Cluster.connect(List.of(addr(slow), addr(ok)), lm.config, lm.weights, "f32", Duration.ofMillis(1500), Transport.F32).install(m, null);
            long t0 = System.nanoTime();
            assertThatThrownBy(() -> DeviceRuns.run(m, new int[]{1, 2, 3}, 8, 1))
                    .isInstanceOfSatisfying(DeviceUnavailableException.class, e -> {
                        assertThat(e.groups()).containsExactly(0, 1, 2, 3);
                        assertThat(e.getMessage()).isEqualTo("expert worker " + addr(slow) + " (groups 0-3) did not answer within 1.5 s (--worker-timeout)");
                    });
            double s = (System.nanoTime() - t0) / 1e9;
            assertThat(s).isBetween(1.4, 5.0); // the deadline plus slack for a machine shared with other builds
        }
    }

    @Test
    void workerThatStopsMidRunFailsTheRequestAndIsReconnectedWhenBack() throws Exception {
        ExpertWorker a = worker(f32Model, "0-3", 0, 0);
        ExpertWorker b = worker(f32Model, "4-7", 0, 300);
        int portB = b.port();
        int[] prompt = DeviceRuns.tokens(12, 300, 3);
        DeviceRuns.Run ref = single(f32Model, prompt, 12, 3);
        try (LoadedModel lm = ModelLoader.load(f32Model); Model m = new Model(lm.config, lm.weights, 2, 12)) {
            Cluster.connect(List.of(addr(a), addr(b)), lm.config, lm.weights, "f32", Duration.ofSeconds(10), Transport.F32).install(m, null);
            // b sleeps 300 ms in every call: stop it while the first call is in flight
            Thread killer = new Thread(() -> {
                try {
                    Thread.sleep(150);
                } catch (InterruptedException ignored) {
                }
                b.close();
            });
            killer.start();
            long t0 = System.nanoTime();
            assertThatThrownBy(() -> DeviceRuns.run(m, prompt, 12, 3))
                    .isInstanceOfSatisfying(DeviceUnavailableException.class, e -> {
                        assertThat(e.groups()).containsExactly(4, 5, 6, 7);
                        assertThat(e.getMessage()).startsWith("expert worker 127.0.0.1:" + portB + " (groups 4-7) is unavailable");
                    });
            assertThat((System.nanoTime() - t0) / 1e9).isLessThan(5);
            killer.join();
            // while it is down every request fails fast with the same clear error
            assertThatThrownBy(() -> DeviceRuns.run(m, prompt, 12, 3)).isInstanceOf(DeviceUnavailableException.class);
            // back on the same port: the next request goes through and matches the single-process output
            worker(f32Model, "4-7", portB, 0);
            DeviceRuns.Run got = DeviceRuns.run(m, prompt, 12, 3);
            assertThat(got.greedy()).containsExactly(ref.greedy());
            assertThat(maxDiff(logProbs(got.logits(), 300), logProbs(ref.logits(), 300))).isLessThanOrEqualTo(1e-5);
        }
    }

    /** The server's health check: answered while the worker computes, failing while it is down or serves other weights, fine when back. */
    @Test
    void probeAnswersWhileTheWorkerComputesAndFollowsItDownAndBack() throws Exception {
        ExpertWorker w = worker(f32Model, "0-7", 0, 1000);
        int port = w.port();
        try (LoadedModel lm = ModelLoader.load(f32Model); Model m = new Model(lm.config, lm.weights, 1, 8)) {
            Cluster cl = Cluster.connect(List.of(addr(w)), lm.config, lm.weights, "f32", Duration.ofSeconds(10), Transport.F32);
            cl.install(m, null);
            RemoteDevice d = cl.workers().get(0);
            assertThat(d.address()).isEqualTo(addr(w));
            // a request holds the worker's compute thread for a second per MoE layer; the check must not queue behind it
            java.util.concurrent.CompletableFuture<DeviceRuns.Run> busy =
                    java.util.concurrent.CompletableFuture.supplyAsync(() -> DeviceRuns.run(m, new int[]{1, 2}, 8, 1));
            int probes = 0;
            while (!busy.isDone()) {
                d.probe(Duration.ofMillis(300)); // throws when it waits for the computation
                probes++;
                Thread.sleep(50);
            }
            assertThat(busy.join().greedy()).isNotEmpty();
            assertThat(probes).isGreaterThan(10);

            w.close();
            long t0 = System.nanoTime();
            String down = "expert worker 127.0.0.1:" + port + " (groups 0-7) is unavailable (";
            String said;
            do { // the first check may still meet the closing connection (its GOAWAY); from then on the port refuses
                Throwable e = org.assertj.core.api.Assertions.catchThrowable(() -> d.probe(Duration.ofSeconds(1)));
                assertThat(e).isInstanceOfSatisfying(DeviceUnavailableException.class, x -> assertThat(x.groups()).hasSize(8))
                        .hasMessageStartingWith(down);
                said = e.getMessage();
            } while (!said.endsWith("(connection refused)") && System.nanoTime() - t0 < 2_500_000_000L);
            assertThat(said).isEqualTo(down + "connection refused)");
            assertThat((System.nanoTime() - t0) / 1e9).isLessThan(2.5);

            ExpertWorker foreign = worker(otherModel, "0-7", port, 0);
            assertThatThrownBy(() -> d.probe(Duration.ofSeconds(2)))
                    .hasMessageStartingWith("expert worker 127.0.0.1:" + port + " (groups 0-7) now serves another model or other groups (");
            foreign.close();
            worker(f32Model, "0-7", port, 0);
            d.probe(Duration.ofSeconds(2)); // back: the backoff of the failed connection does not hide it
        }
    }

    @Test
    void restartedWorkerOfAnotherModelIsRefusedPerRequest() {
        ExpertWorker a = worker(f32Model, "0-7", 0, 0);
        int port = a.port();
        try (LoadedModel lm = ModelLoader.load(f32Model); Model m = new Model(lm.config, lm.weights, 1, 8)) {
            Cluster.connect(List.of(addr(a)), lm.config, lm.weights, "f32", Duration.ofSeconds(10), Transport.F32).install(m, null);
            DeviceRuns.run(m, new int[]{5, 6}, 8, 1);
            a.close();
            worker(otherModel, "0-7", port, 0);
            assertThatThrownBy(() -> DeviceRuns.run(m, new int[]{5, 6}, 8, 1))
                    .isInstanceOf(DeviceUnavailableException.class)
                    .hasMessageContaining("refused the request: this worker serves another model");
        }
    }

    @Test
    void workerChecksEveryRequest() {
        ExpertWorker w = worker(f32Model, "0-1", 0, 0);
        io.grpc.ManagedChannel ch = io.grpc.Grpc.newChannelBuilder(addr(w), io.grpc.InsecureChannelCredentials.create()).build();
        try {
            Wire.Hello h = Wire.Hello.decode(io.grpc.stub.ClientCalls.blockingUnaryCall(ch, Wire.HELLO, io.grpc.CallOptions.DEFAULT, Wire.helloRequest()));
            assertThat(h.served()).containsExactly(0, 1);
            moge.moe.DeviceBatch b = new moge.moe.DeviceBatch();
            b.reset(1, 80, new float[80], 1, 1, 1);
            b.tokens = 1;
            b.rows = 1;
            b.segments = 1;
            b.segExpert[0] = 5; // group 2: not served
            b.segCount[0] = 1;
            byte[] req = Wire.encodeRun(h.weightsHash(), b, Transport.F32);
            assertThatThrownBy(() -> io.grpc.stub.ClientCalls.blockingUnaryCall(ch, Wire.RUN, io.grpc.CallOptions.DEFAULT, req))
                    .hasMessageContaining("FAILED_PRECONDITION").hasMessageContaining("expert 5 is not served here (groups 0-1)");
            b.segExpert[0] = 3;
            b.layer = 0; // the dense layer
            byte[] dense = Wire.encodeRun(h.weightsHash(), b, Transport.F32);
            assertThatThrownBy(() -> io.grpc.stub.ClientCalls.blockingUnaryCall(ch, Wire.RUN, io.grpc.CallOptions.DEFAULT, dense))
                    .hasMessageContaining("layer 0 has no experts");
            byte[] cut = java.util.Arrays.copyOf(req, req.length - 4);
            assertThatThrownBy(() -> io.grpc.stub.ClientCalls.blockingUnaryCall(ch, Wire.RUN, io.grpc.CallOptions.DEFAULT, cut))
                    .hasMessageContaining("INVALID_ARGUMENT");
            b.layer = 1;
            byte[] ok = Wire.encodeRun(h.weightsHash(), b, Transport.BF16);
            byte[] reply = io.grpc.stub.ClientCalls.blockingUnaryCall(ch, Wire.RUN, io.grpc.CallOptions.DEFAULT, ok);
            Wire.decodeReply(reply, b);
            assertThat(b.y.length).isGreaterThanOrEqualTo(80);
        } finally {
            ch.shutdownNow();
        }
    }
}
