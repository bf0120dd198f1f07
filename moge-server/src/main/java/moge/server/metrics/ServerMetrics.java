package moge.server.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import moge.moe.LoadStats;
import moge.server.sched.Scheduler;
import moge.server.sched.SchedulerObserver;
import moge.server.sched.SpeculativeStrategy;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * The server's Micrometer meters, scraped as Prometheus text at /metrics. Other parts (per-device expert
 * load, speculation acceptance) register their own meters on {@link #registry()}.
 */
public final class ServerMetrics implements SchedulerObserver {
    private static final Duration[] LATENCY_BUCKETS = {
            Duration.ofMillis(5), Duration.ofMillis(10), Duration.ofMillis(25), Duration.ofMillis(50), Duration.ofMillis(100),
            Duration.ofMillis(250), Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofMillis(2500), Duration.ofSeconds(5),
            Duration.ofSeconds(10), Duration.ofSeconds(30), Duration.ofSeconds(60)};

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Counter promptTokens, generatedTokens, prefixLookedUp, prefixHit, steps, stepTokens;
    private final Timer ttft, itl, forward;

    public ServerMetrics() {
        promptTokens = Counter.builder("moge.prompt.tokens").description("Prompt tokens run through the model (cached ones excluded)")
                .baseUnit("tokens").register(registry);
        generatedTokens = Counter.builder("moge.generation.tokens").description("Generated tokens").baseUnit("tokens").register(registry);
        prefixLookedUp = Counter.builder("moge.prefix.cache.lookup.tokens").description("Prompt tokens looked up in the prefix cache")
                .baseUnit("tokens").register(registry);
        prefixHit = Counter.builder("moge.prefix.cache.hit.tokens").description("Prompt tokens whose KV came from the prefix cache")
                .baseUnit("tokens").register(registry);
        steps = Counter.builder("moge.scheduler.steps").description("Forward passes run by the scheduler").register(registry);
        stepTokens = Counter.builder("moge.scheduler.step.tokens").description("Tokens in all forward passes (batch occupancy)")
                .baseUnit("tokens").register(registry);
        // the share of wall time the model computes (its sum over a run's duration) separates model speed from queueing
        forward = Timer.builder("moge.scheduler.forward").description("Forward passes: time in the model per step").register(registry);
        ttft = Timer.builder("moge.time.to.first.token").description("From request arrival to its first generated token")
                .serviceLevelObjectives(LATENCY_BUCKETS).register(registry);
        itl = Timer.builder("moge.inter.token.latency").description("Between consecutive generated tokens of one request")
                .serviceLevelObjectives(LATENCY_BUCKETS).register(registry);
        Gauge.builder("moge.prefix.cache.hit.ratio", this, m -> {
            double looked = m.prefixLookedUp.count();
            return looked > 0 ? m.prefixHit.count() / looked : 0;
        }).description("Share of looked-up prompt tokens served from the prefix cache").register(registry);
    }

    public MeterRegistry registry() {
        return registry;
    }

    /** Queue, running and KV gauges read from the scheduler's published figures. */
    public void bind(Scheduler s) {
        Gauge.builder("moge.queue.length", s, Scheduler::queued).description("Requests waiting for admission").register(registry);
        Gauge.builder("moge.running.sequences", s, Scheduler::running).description("Sequences in the running batch").register(registry);
        Gauge.builder("moge.kv.blocks.used", s, Scheduler::kvBlocksUsed).description("KV blocks referenced by sequences").register(registry);
        Gauge.builder("moge.kv.blocks.free", s, Scheduler::kvBlocksFree).description("KV blocks available (incl. idle cached)").register(registry);
        Gauge.builder("moge.kv.blocks.cached", s, Scheduler::kvBlocksCached).description("Free KV blocks still holding a cached prefix").register(registry);
        Gauge.builder("moge.kv.blocks.total", s, Scheduler::kvBlocksTotal).description("KV blocks in all").register(registry);
        s.setObserver(this);
    }

    /**
     * Expert load as dispatch counts it (moge.moe.LoadStats): computations per device (or per expert group
     * on one device) and the imbalance score of the MoGE paper, read at scrape time.
     */
    public void bindExpertLoad(LoadStats stats) {
        if (stats == null) return;
        int devices = stats.snapshot().devices();
        for (int d = 0; d < devices; d++) {
            final int dev = d;
            FunctionCounter.builder("moge.moe.device.load", stats, st -> st.snapshot().deviceLoad()[dev])
                    .description("Routed expert computations that ran on this device (or expert group)").tag("device", Integer.toString(d))
                    .register(registry);
        }
        Gauge.builder("moge.moe.imbalance.score.mean", stats, st -> st.snapshot().imbalanceMean())
                .description("Mean imbalance score (max - min device load) / batch tokens over all MoE layer runs").register(registry);
        Gauge.builder("moge.moe.imbalance.score.max", stats, st -> st.snapshot().imbalanceMax())
                .description("Largest imbalance score seen").register(registry);
    }

    /**
     * Speculative decoding counters (llama-server's draft_n / draft_n_accepted summed over requests):
     * moge_spec_drafted_tokens_total, moge_spec_accepted_tokens_total, moge_spec_passes_total (sequence-steps
     * that verified proposals), and the acceptance rate and mean accepted proposals per such pass.
     */
    public void bindSpeculation(SpeculativeStrategy st) {
        if (st == null) return;
        FunctionCounter.builder("moge.spec.drafted.tokens", st, SpeculativeStrategy::draftedTokens)
                .description("Tokens proposed by speculative decoding").baseUnit("tokens").register(registry);
        FunctionCounter.builder("moge.spec.accepted.tokens", st, SpeculativeStrategy::acceptedTokens)
                .description("Proposed tokens the model accepted").baseUnit("tokens").register(registry);
        FunctionCounter.builder("moge.spec.passes", st, SpeculativeStrategy::passes)
                .description("Verification passes of one sequence that checked at least one proposal").register(registry);
        Gauge.builder("moge.spec.acceptance.rate", st, x -> x.draftedTokens() > 0 ? (double) x.acceptedTokens() / x.draftedTokens() : 0)
                .description("Accepted over proposed tokens since start").register(registry);
        Gauge.builder("moge.spec.mean.accepted", st, x -> x.passes() > 0 ? (double) x.acceptedTokens() / x.passes() : 0)
                .description("Accepted proposals per verification pass since start").register(registry);
    }

    /** One answered HTTP request. */
    public void request(String endpoint, int status) {
        Counter.builder("moge.requests").description("HTTP requests by endpoint and status").tag("endpoint", endpoint)
                .tag("status", Integer.toString(status)).register(registry).increment();
    }

    public String scrape() {
        return registry.scrape();
    }

    @Override
    public void promptTokens(int n) {
        if (n > 0) promptTokens.increment(n);
    }

    @Override
    public void generatedTokens(int n) {
        generatedTokens.increment(n);
    }

    @Override
    public void prefixLookup(int lookedUp, int hit) {
        prefixLookedUp.increment(lookedUp);
        prefixHit.increment(hit);
    }

    @Override
    public void timeToFirstToken(long nanos) {
        ttft.record(nanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void interTokenLatency(long nanos) {
        itl.record(nanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void step(int tokens, int sequences, long nanos) {
        steps.increment();
        stepTokens.increment(tokens);
        forward.record(nanos, TimeUnit.NANOSECONDS);
    }
}
