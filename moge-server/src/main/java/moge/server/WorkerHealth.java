package moge.server;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import moge.model.Model;
import moge.moe.DeviceUnavailableException;
import moge.moe.Dispatcher;
import moge.moe.ExpertDevice;
import moge.moe.Placement;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Whether the model's expert workers answer, for /health and /metrics. A daemon thread probes every worker
 * ({@link ExpertDevice#probe}, a short round trip) every interval ({@link #INTERVAL} unless {@code serve
 * --health-interval} says), and /health probes again when the last round is older than that: a load balancer that
 * took this server out sends it no requests, so a worker that is back must be seen without them. A request that
 * fails because a worker is unreachable ({@link #requestFailed}) marks it down at once and starts a round, so that
 * /health does not say 200 to the client that has just had a 503. Probes use only the workers' channels (each on
 * its own virtual thread, so one silent worker does not delay the others), never the scheduler or the model's locks.
 */
public final class WorkerHealth implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(WorkerHealth.class);
    static final Duration INTERVAL = Duration.ofSeconds(2);
    static final Duration DEADLINE = Duration.ofSeconds(1);
    /** How long past its deadline a probe may take before it counts as no answer (the device should stop first). */
    private static final long SLACK_MILLIS = 500;
    private static final String NOT_CHECKED = "not checked yet";

    /** A worker as the last round found it: "host:port", its groups ("4-7"), and why it is down (null when up). */
    public record Worker(String address, String groups, String problem) {
        public boolean up() {
            return problem == null;
        }
    }

    private record Round(List<Worker> workers, long startedNanos) {
    }

    private final List<ExpertDevice> devices;
    private final Duration interval, deadline;
    private final LongSupplier clock;
    private final ExecutorService probes = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("moge-worker-probe-", 0).factory());
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "moge-worker-health");
        t.setDaemon(true);
        return t;
    });
    private volatile Round last;
    private CompletableFuture<Round> running; // guarded by this
    private volatile boolean closed;

    WorkerHealth(List<ExpertDevice> devices, Duration interval, Duration deadline, LongSupplier clock) {
        this.devices = List.copyOf(devices);
        this.interval = interval;
        this.deadline = deadline;
        this.clock = clock;
        List<Worker> unknown = new ArrayList<>();
        for (ExpertDevice d : this.devices) unknown.add(worker(d, NOT_CHECKED));
        // already stale: the first /health probes rather than trust the handshake of some time ago
        last = new Round(List.copyOf(unknown), clock.getAsLong() - interval.toNanos());
    }

    /**
     * Watches the remote devices of {@code m}'s expert dispatcher, probing every {@code interval} from now on; null
     * when it has none.
     */
    public static WorkerHealth of(Model m, Duration interval) {
        if (!(m.expertExecutor() instanceof Dispatcher d)) return null;
        List<ExpertDevice> remote = d.devices().stream().filter(x -> x.address() != null).toList();
        if (remote.isEmpty()) return null;
        WorkerHealth h = new WorkerHealth(remote, interval, DEADLINE, System::nanoTime);
        h.startProbing();
        return h;
    }

    public static WorkerHealth of(Model m) {
        return of(m, INTERVAL);
    }

    /**
     * A request (a forward pass) failed because the workers of {@code e}'s groups did not compute them: they are
     * down as of now, with the request's own words for why, and a new round starts to confirm it (or to find them
     * back: a failure can be a moment's). Returns at once; any thread.
     */
    public void requestFailed(DeviceUnavailableException e) {
        int[] failed = e.groups();
        synchronized (this) {
            if (closed) return;
            List<Worker> now = new ArrayList<>(last.workers);
            boolean any = false;
            for (int i = 0; i < devices.size(); i++) {
                ExpertDevice d = devices.get(i);
                if (!intersects(d.groups(), failed)) continue;
                now.set(i, worker(d, problemOf(d, e.getMessage())));
                any = true;
            }
            if (!any) return;
            publish(new Round(List.copyOf(now), clock.getAsLong()));
            // a round under way began before the failure; the one that confirms it must begin after
            CompletableFuture<Round> r = running;
            if (r != null && !r.isDone()) r.whenComplete((x, err) -> probeNow());
            else probeNow();
        }
    }

    /** This worker's sentence of a request's 503 (a failure of several workers joins theirs with "; "). */
    private static String problemOf(ExpertDevice d, String message) {
        for (String part : message.split("; ")) if (part.contains(d.address())) return part;
        return message;
    }

    private static boolean intersects(int[] a, int[] b) {
        for (int x : a) for (int y : b) if (x == y) return true;
        return false;
    }

    void startProbing() {
        timer.scheduleWithFixedDelay(() -> {
            try {
                probeNow().join();
            } catch (RuntimeException e) { // an exception would end the schedule
                LOG.warn("checking the expert workers failed: {}", e.toString());
            }
        }, 0, interval.toMillis(), TimeUnit.MILLISECONDS);
    }

    /**
     * For /health: the last round when it started less than an interval ago, else a new one (or the one under
     * way), which ends within about the probe deadline.
     */
    public List<Worker> current() {
        Round r = last;
        if (clock.getAsLong() - r.startedNanos < interval.toNanos()) return r.workers;
        return probeNow().join().workers;
    }

    /** The last round's findings without probing (for /metrics, whose scrapes must stay cheap). */
    public List<Worker> lastKnown() {
        return last.workers;
    }

    /**
     * moge_worker_up{worker="host:port",groups="4-7"}: 1 when the worker answered its last health check, 0 when
     * not (nor checked yet). Read from the last round: a scrape never waits for a worker.
     */
    public void register(MeterRegistry registry) {
        List<Worker> workers = last.workers;
        for (int i = 0; i < workers.size(); i++) {
            final int w = i;
            Gauge.builder("moge.worker.up", this, h -> h.lastKnown().get(w).up() ? 1 : 0)
                    .description("1 when the expert worker answered its last health check, else 0")
                    .tag("worker", workers.get(i).address()).tag("groups", workers.get(i).groups()).register(registry);
        }
    }

    /** The problems of the workers that are down, one sentence each, or null when all answered. */
    public static String problems(List<Worker> workers) {
        StringBuilder sb = new StringBuilder();
        for (Worker w : workers) {
            if (w.up()) continue;
            if (!sb.isEmpty()) sb.append("; ");
            sb.append(w.problem());
        }
        return sb.isEmpty() ? null : sb.toString();
    }

    /** Starts a round unless one is under way; concurrent callers share it. */
    private CompletableFuture<Round> probeNow() {
        synchronized (this) {
            if (closed) return CompletableFuture.completedFuture(last);
            if (running != null && !running.isDone()) return running;
            long started = clock.getAsLong();
            List<CompletableFuture<Worker>> each = new ArrayList<>();
            for (ExpertDevice d : devices) {
                Worker silent = worker(d, who(d) + " did not answer within " + (deadline.toMillis() + SLACK_MILLIS) / 1000.0 + " s (health check)");
                each.add(CompletableFuture.supplyAsync(() -> check(d), probes)
                        .completeOnTimeout(silent, deadline.toMillis() + SLACK_MILLIS, TimeUnit.MILLISECONDS));
            }
            running = CompletableFuture.allOf(each.toArray(CompletableFuture[]::new))
                    .thenApply(v -> publish(new Round(each.stream().map(CompletableFuture::join).toList(), started)));
            return running;
        }
    }

    private Worker check(ExpertDevice d) {
        try {
            d.probe(deadline);
            return worker(d, null);
        } catch (DeviceUnavailableException e) {
            return worker(d, e.getMessage());
        } catch (RuntimeException e) {
            return worker(d, who(d) + " failed its health check (" + e + ")");
        }
    }

    /** Logs the workers that went down or came back: the operator's record of when, besides /health's now. */
    private synchronized Round publish(Round r) {
        // probes cut short by close() say nothing about the workers; nor does a round that began before a
        // request's failure marked a worker down (it may have found the worker up just before)
        if (closed || r.startedNanos - last.startedNanos < 0) return last;
        List<Worker> before = last.workers;
        for (int i = 0; i < r.workers.size(); i++) {
            Worker was = before.get(i), now = r.workers.get(i);
            if (!now.up() && (was.up() || NOT_CHECKED.equals(was.problem()))) LOG.warn("{}", now.problem());
            if (now.up() && !was.up() && !NOT_CHECKED.equals(was.problem())) {
                LOG.info("expert worker {} (groups {}) answers again", now.address(), now.groups());
            }
        }
        last = r;
        return r;
    }

    private static Worker worker(ExpertDevice d, String problem) {
        return new Worker(d.address(), Placement.formatGroups(d.groups()), problem);
    }

    private static String who(ExpertDevice d) {
        return "expert worker " + d.address() + " (groups " + Placement.formatGroups(d.groups()) + ")";
    }

    /** Stops probing; the devices themselves belong to the model. */
    @Override
    public void close() {
        synchronized (this) {
            closed = true;
        }
        timer.shutdownNow();
        probes.shutdownNow();
    }
}
