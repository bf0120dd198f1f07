package moge.server;

import moge.model.Model;
import moge.moe.DeviceBatch;
import moge.moe.DeviceUnavailableException;
import moge.moe.Dispatcher;
import moge.moe.ExpertDevice;
import moge.moe.LocalDevice;
import moge.moe.LocalDevices;
import moge.moe.Placement;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/** The prober with stand-in workers: when it probes again, what it reports, and that nobody waits on a silent worker. */
class WorkerHealthTest {
    /** A remote device whose probe fails with {@link #down} as the reason, or hangs past any deadline. */
    static final class FakeWorker implements ExpertDevice {
        final String address;
        final int[] groups;
        final AtomicInteger probes = new AtomicInteger();
        volatile String down;
        volatile long hangMillis;
        /** When set, a probe takes its answer on entry and waits for this before it gives it. */
        volatile CountDownLatch gate;

        FakeWorker(String address, int... groups) {
            this.address = address;
            this.groups = groups;
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
        public void start(DeviceBatch b) {
        }

        @Override
        public void finish(DeviceBatch b) {
            throw new UnsupportedOperationException("not a real worker");
        }

        @Override
        public String address() {
            return address;
        }

        @Override
        public void probe(Duration deadline) {
            String why = down;
            CountDownLatch g = gate;
            probes.incrementAndGet();
            if (g != null) {
                try {
                    g.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            if (hangMillis > 0) {
                try {
                    Thread.sleep(hangMillis);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            if (why != null) {
                throw new DeviceUnavailableException(name(), groups, "expert worker " + address + " (groups "
                        + Placement.formatGroups(groups) + ") is unavailable (" + why + ")", null);
            }
        }
    }

    final AtomicLong now = new AtomicLong(1_000_000_000_000L);

    @Test
    void aRecentRoundIsReusedAnOlderOneIsDoneAgain() {
        FakeWorker a = new FakeWorker("127.0.0.1:9001", 0, 1), b = new FakeWorker("127.0.0.1:9002", 2, 3);
        try (WorkerHealth h = new WorkerHealth(List.of(a, b), Duration.ofSeconds(2), Duration.ofSeconds(1), now::get)) {
            // nothing is known before the first round: not "up"
            assertThat(h.lastKnown()).noneMatch(WorkerHealth.Worker::up);
            assertThat(h.current()).allMatch(WorkerHealth.Worker::up);
            assertThat(WorkerHealth.problems(h.current())).isNull();
            assertThat(a.probes.get()).isEqualTo(1);

            a.down = "connection refused";
            now.addAndGet(TimeUnit.MILLISECONDS.toNanos(1900));
            assertThat(h.current()).allMatch(WorkerHealth.Worker::up); // within the interval: the last round stands
            assertThat(a.probes.get()).isEqualTo(1);

            now.addAndGet(TimeUnit.MILLISECONDS.toNanos(200));
            List<WorkerHealth.Worker> w = h.current();
            assertThat(a.probes.get()).isEqualTo(2);
            assertThat(w.get(0)).isEqualTo(new WorkerHealth.Worker("127.0.0.1:9001", "0-1",
                    "expert worker 127.0.0.1:9001 (groups 0-1) is unavailable (connection refused)"));
            assertThat(w.get(1).up()).isTrue();
            assertThat(WorkerHealth.problems(w)).isEqualTo("expert worker 127.0.0.1:9001 (groups 0-1) is unavailable (connection refused)");

            b.down = "connection reset";
            now.addAndGet(TimeUnit.SECONDS.toNanos(3));
            assertThat(WorkerHealth.problems(h.current())).isEqualTo("expert worker 127.0.0.1:9001 (groups 0-1) is unavailable "
                    + "(connection refused); expert worker 127.0.0.1:9002 (groups 2-3) is unavailable (connection reset)");

            a.down = null;
            b.down = null;
            now.addAndGet(TimeUnit.SECONDS.toNanos(3));
            assertThat(h.current()).allMatch(WorkerHealth.Worker::up);
            assertThat(h.lastKnown()).allMatch(WorkerHealth.Worker::up);
        }
    }

    static DeviceUnavailableException refused(FakeWorker w) {
        return new DeviceUnavailableException(w.name(), w.groups, "expert worker " + w.address + " (groups "
                + Placement.formatGroups(w.groups) + ") is unavailable (connection refused)", null);
    }

    /**
     * A request's failure marks its worker down at once, even right after a round found it up, and starts a round;
     * a round that began before the failure (and found the worker up) does not undo the mark, and the confirming
     * round begins after it.
     */
    @Test
    void aRequestsFailureMarksTheWorkerDownAtOnceAndProbesAgain() throws Exception {
        FakeWorker a = new FakeWorker("127.0.0.1:9001", 0, 1), b = new FakeWorker("127.0.0.1:9002", 2, 3);
        try (WorkerHealth h = new WorkerHealth(List.of(a, b), Duration.ofSeconds(2), Duration.ofSeconds(1), now::get)) {
            assertThat(h.current()).allMatch(WorkerHealth.Worker::up);
            a.down = "connection refused";
            h.requestFailed(refused(a));
            // within the interval, where the last round would stand: the request's word wins
            List<WorkerHealth.Worker> w = h.current();
            assertThat(w.get(0).problem()).isEqualTo("expert worker 127.0.0.1:9001 (groups 0-1) is unavailable (connection refused)");
            assertThat(w.get(1).up()).isTrue();
            awaitTrue(() -> a.probes.get() == 2); // the confirming round
            now.addAndGet(TimeUnit.SECONDS.toNanos(3));
            assertThat(h.current().get(0).up()).isFalse(); // that round, or a later one: both find it down

            // a round under way when the failure comes: found a up (it is back), must not undo the later mark
            a.down = null;
            int before = a.probes.get();
            now.addAndGet(TimeUnit.SECONDS.toNanos(3));
            CountDownLatch first = new CountDownLatch(1), second = new CountDownLatch(1);
            a.gate = first;
            CompletableFuture<List<WorkerHealth.Worker>> under = CompletableFuture.supplyAsync(h::current);
            awaitTrue(() -> a.probes.get() == before + 1);
            now.addAndGet(1);
            a.down = "connection refused";
            a.gate = second;
            h.requestFailed(refused(a));
            first.countDown();
            assertThat(under.get(5, TimeUnit.SECONDS).get(0).up()).as("the older round's 'up'").isFalse();
            awaitTrue(() -> a.probes.get() == before + 2); // a new round, not the one under way
            second.countDown();
            now.addAndGet(TimeUnit.SECONDS.toNanos(3));
            assertThat(h.current().get(0).problem()).endsWith("(connection refused)");

            // a failure of groups no worker here serves changes nothing
            a.down = null;
            now.addAndGet(TimeUnit.SECONDS.toNanos(3));
            assertThat(h.current()).allMatch(WorkerHealth.Worker::up);
            h.requestFailed(new DeviceUnavailableException("worker elsewhere", new int[]{9}, "expert worker elsewhere is gone", null));
            assertThat(h.current()).allMatch(WorkerHealth.Worker::up);
        }
    }

    @Test
    void callersShareOneRoundAndASilentWorkerDelaysNobodyPastTheDeadline() throws Exception {
        FakeWorker silent = new FakeWorker("10.0.0.9:7070", 0), fine = new FakeWorker("10.0.0.8:7070", 1);
        silent.hangMillis = 10_000; // ignores its deadline altogether
        try (WorkerHealth h = new WorkerHealth(List.of(silent, fine), Duration.ofSeconds(2), Duration.ofMillis(200), now::get)) {
            long t0 = System.nanoTime();
            CompletableFuture<List<WorkerHealth.Worker>> first = CompletableFuture.supplyAsync(h::current);
            CompletableFuture<List<WorkerHealth.Worker>> second = CompletableFuture.supplyAsync(h::current);
            List<WorkerHealth.Worker> w = first.get(5, TimeUnit.SECONDS);
            assertThat(second.get(5, TimeUnit.SECONDS)).isEqualTo(w);
            assertThat((System.nanoTime() - t0) / 1e9).isLessThan(2.0); // 0.2 s deadline + 0.5 s slack, on a busy machine
            assertThat(silent.probes.get()).isEqualTo(1);
            assertThat(fine.probes.get()).isEqualTo(1);
            assertThat(w.get(0).problem()).isEqualTo("expert worker 10.0.0.9:7070 (groups 0) did not answer within 0.7 s (health check)");
            assertThat(w.get(1).up()).isTrue();
        }
    }

    @Test
    void theBackgroundProbeSeesAWorkerGoAndComeBackWithoutAnyCaller() throws Exception {
        FakeWorker a = new FakeWorker("127.0.0.1:9001", 0, 1, 2, 3);
        try (WorkerHealth h = new WorkerHealth(List.of(a), Duration.ofMillis(50), Duration.ofMillis(200), System::nanoTime)) {
            h.startProbing();
            awaitTrue(() -> h.lastKnown().get(0).up());
            a.down = "connection refused";
            awaitTrue(() -> !h.lastKnown().get(0).up());
            int before = a.probes.get();
            a.down = null;
            awaitTrue(() -> h.lastKnown().get(0).up());
            assertThat(a.probes.get()).isGreaterThan(before);
        }
    }

    @Test
    void onlyRemoteDevicesAreWatched() throws Exception {
        MogeServer.Engine e = TestEngines.engine(8);
        try {
            Model m = e.model();
            assertThat(WorkerHealth.of(m)).isNull(); // experts on the model's own team
            LocalDevices.install(m, 2, null);
            assertThat(WorkerHealth.of(m)).isNull(); // --devices 2: both in this process
            Placement p = Placement.split(m.config, 2);
            FakeWorker remote = new FakeWorker("127.0.0.1:9001", p.groups(0));
            m.setExpertExecutor(new Dispatcher(m.config, p, List.of(remote,
                    new LocalDevice("this machine", p.groups(1), m.weights, m.config, m.team(), false)), m.team(), null));
            try (WorkerHealth h = WorkerHealth.of(m)) {
                assertThat(h).isNotNull();
                awaitTrue(() -> h.lastKnown().get(0).up()); // it probes on its own from the start
                assertThat(h.lastKnown()).extracting(WorkerHealth.Worker::address).containsExactly("127.0.0.1:9001");
            }
        } finally {
            e.model().close();
            e.loaded().close();
        }
    }

    private static void awaitTrue(BooleanSupplier condition) throws InterruptedException {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("condition not met within 10 s").isLessThan(until);
            Thread.sleep(10);
        }
    }
}
