package moge.cli;

import moge.MogeException;
import moge.server.MogeServer;
import moge.server.ServerOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;

/** The OpenAI-compatible server: ./moge serve --model DIR, then point any OpenAI client at http://HOST:PORT/v1. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Serve a model over an OpenAI-compatible HTTP API (/v1/chat/completions, /v1/completions, /v1/models, /health, /metrics).")
public final class ServeCommand implements Runnable {
    @Mixin
    ModelOptions model;

    /** Defaults for chat requests that do not choose a thinking mode or budget themselves. */
    @picocli.CommandLine.Mixin
    ThinkingCliOptions thinking;

    /** Speculative decoding for every request that does not send "speculative": false. */
    @Mixin
    SpecOptions speculation;

    @Option(names = "--host", paramLabel = "ADDR", description = "Address to listen on (default 127.0.0.1: this machine only).")
    String host = "127.0.0.1";

    @Option(names = "--port", paramLabel = "N", description = "Port (default 8080; 0 picks a free one).")
    int port = 8080;

    @Option(names = "--api-key", paramLabel = "KEY",
            description = "Require 'Authorization: Bearer KEY' on /v1/* (default: $MOGE_API_KEY if set, else no key).")
    String apiKey = System.getenv("MOGE_API_KEY");

    @Option(names = {"-np", "--parallel"}, paramLabel = "N", description = "Sequences decoded together (default 4).")
    int parallel = 4;

    @Option(names = "--queue", paramLabel = "N", description = "Requests that may wait for a slot; more get 429 (default 64).")
    int queue = 64;

    @Option(names = "--alias", paramLabel = "NAME", description = "Model id shown by /v1/models (default: the directory name).")
    String alias;

    @Option(names = "--timeout", paramLabel = "SECONDS", description = "Per-request deadline (default 600).")
    long timeoutSeconds = 600;

    @Option(names = "--grace", paramLabel = "SECONDS", description = "On shutdown, how long running requests may finish (default 10).")
    long graceSeconds = 10;

    @Option(names = "--no-prefix-cache", description = "Do not reuse the KV blocks of identical prompt prefixes.")
    boolean noPrefixCache;

    @Option(names = "--no-warmup", description = "Say ready without the few untimed warm-up passes (the first requests then pay for the JIT).")
    boolean noWarmup;

    @Option(names = "--kv-blocks", paramLabel = "N", description = "KV cache blocks of 16 positions (default: --parallel full contexts).")
    int kvBlocks;

    @Option(names = "--max-body", paramLabel = "BYTES", description = "Largest request body (default 1048576).")
    long maxBody = 1 << 20;

    @Option(names = "--health-interval", paramLabel = "SECONDS",
            description = "With --workers: how often every expert worker is probed for /health (default 2; fractions allowed).")
    double healthInterval = 2;

    @Option(names = "--pooling", paramLabel = "mean|cls|last",
            description = "How /v1/embeddings pools a text's hidden states (default: the GGUF's pooling_type, else last).")
    String pooling;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    /** Counted down to stop the server (tests); otherwise Ctrl-C / SIGTERM stops it. */
    final CountDownLatch stop = new CountDownLatch(1);
    volatile MogeServer server;

    @Override
    public void run() {
        if (timeoutSeconds < 1) throw new MogeException("--timeout must be >= 1 second, got " + timeoutSeconds);
        if (graceSeconds < 0) throw new MogeException("--grace must be >= 0, got " + graceSeconds);
        if (port < 0 || port > 65535) throw new MogeException("--port must be in 0..65535, got " + port);
        if (maxBody < 1) throw new MogeException("--max-body must be >= 1, got " + maxBody);
        if (kvBlocks < 0) throw new MogeException("--kv-blocks must be >= 0, got " + kvBlocks);
        // under 0.1 s the probes would be most of the workers' traffic; above an hour /health would say little
        if (!(healthInterval >= 0.1 && healthInterval <= 3600)) {
            throw new MogeException("--health-interval must be between 0.1 and 3600 seconds, got " + healthInterval);
        }
        model.checkBasics();
        int context = model.ctx == 0 ? Integer.MAX_VALUE : model.ctx; // the server caps it by the model's maximum
        PrintWriter out = spec.commandLine().getOut();
        ServerOptions o = new ServerOptions().host(host).port(port).apiKey(blankToNull(apiKey)).modelId(alias).parallel(parallel)
                .context(context).batchTokens(model.batch).queueSize(queue).kvBlocks(kvBlocks).prefixCache(!noPrefixCache).warmup(!noWarmup)
                .maxBodyBytes(maxBody).requestTimeout(Duration.ofSeconds(timeoutSeconds)).shutdownGrace(Duration.ofSeconds(graceSeconds))
                .thinking(thinking.options()).speculation(speculation.config())
                .healthInterval(Duration.ofMillis(Math.round(healthInterval * 1000)));
        o.pooling = pooling == null ? null : moge.generate.Embedder.Pooling.parse(pooling);
        // checked before anything is loaded or listens, so a typo fails at once
        new moge.server.sched.Scheduler.Config(parallel, context, Math.max(model.batch, 1), queue, true);
        speculation.checked(model, spec.commandLine().getErr());
        java.util.concurrent.atomic.AtomicReference<ModelHandle> handle = new java.util.concurrent.atomic.AtomicReference<>();
        MogeServer s = MogeServer.start(o, () -> {
            // --devices / --workers place the experts; the server closes model and weights at shutdown
            ModelHandle h = model.open(0, model.batch);
            handle.set(h);
            return new MogeServer.Engine(h.loaded, h.model);
        });
        server = s;
        Thread hook = new Thread(() -> {
            s.close();
            stop.countDown();
        }, "moge-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            // the port is open already so that /health can say 503 while loading, but nothing is served yet:
            // "listening" would promise too much if the model then fails to load (the error follows, exit 1)
            out.printf("moge: loading %s (http://%s:%d/health answers 503 until it is ready)%n", model.modelPath(),
                    host.contains(":") ? "[" + host + "]" : host, s.port());
            out.flush();
            try {
                s.awaitReady();
            } catch (RuntimeException e) {
                s.close();
                throw e;
            }
            ModelHandle h = handle.get();
            s.metrics().bindExpertLoad(h.stats);
            out.printf("moge: ready; OpenAI API at %s (%sexperts: %s%s)%n", s.baseUrl(), o.apiKey != null ? "API key required; " : "",
                    h.stats == null ? "none, dense model" : h.placementDescription(),
                    o.speculation.enabled() ? "; speculative decoding: " + s.speculationSource() : "");
            out.flush();
            stop.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            s.close();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException ignored) {
                // already shutting down
            }
        }
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s;
    }
}
