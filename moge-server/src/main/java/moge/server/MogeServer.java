package moge.server;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.http.Handler;
import io.javalin.http.HttpResponseException;
import io.javalin.util.JavalinLogger;
import moge.MogeException;
import moge.model.KvCache;
import moge.model.LoadedModel;
import moge.model.Model;
import moge.server.api.ApiException;
import moge.server.api.CompletionHandler;
import moge.server.api.EmbeddingsHandler;
import moge.server.api.SideModel;
import moge.server.api.Http;
import moge.server.api.RequestHooks;
import moge.server.api.RequestParser;
import moge.server.api.ThinkingHooks;
import moge.server.api.TokenizeHandler;
import moge.server.metrics.ServerMetrics;
import moge.server.sched.Scheduler;
import moge.server.sched.SpeculativeStrategy;
import moge.spec.SpeculativeDecoders;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.ServerConnector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;

/**
 * The OpenAI-compatible HTTP server: Javalin routes in front of one {@link Scheduler}. It listens at once and
 * answers 503 until the model is loaded; {@link #close} shuts down gracefully (stop accepting, let running
 * requests finish within the grace period, stop).
 */
public final class MogeServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(MogeServer.class);
    private static final Set<String> ENDPOINTS = Set.of("/v1/chat/completions", "/v1/completions", "/v1/responses", "/v1/messages", "/v1/messages/count_tokens", "/v1/embeddings", "/v1/models", "/health", "/metrics",
            "/tokenize", "/detokenize");

    /** A loaded model and its forward pass, handed over to the server (which closes both). */
    public record Engine(LoadedModel loaded, Model model) {
    }

    /** Everything that exists once the model is loaded. */
    private record Ready(Engine engine, Scheduler scheduler, CompletionHandler completions, EmbeddingsHandler embeddings, SideModel side,
                         String modelId, long created, SpeculativeStrategy speculation, WorkerHealth workers) {
    }

    private final ServerOptions options;
    private final ServerMetrics metrics = new ServerMetrics();
    private final Javalin app;
    private final CompletableFuture<Ready> ready = new CompletableFuture<>();
    private volatile boolean closing;
    private final java.util.concurrent.atomic.AtomicInteger inFlight = new java.util.concurrent.atomic.AtomicInteger();

    private MogeServer(ServerOptions options) {
        this.options = options;
        this.app = Javalin.create(c -> {
            c.startup.showJavalinBanner = false;
            c.startup.showOldJavalinVersionWarning = false;
            c.concurrency.useVirtualThreads = true;
            c.http.maxRequestSize = options.maxBodyBytes;
            // a known path with the wrong method (GET /v1/chat/completions) is 405 with an Allow header, not 404
            c.http.prefer405over404 = true;
            c.jetty.host = options.host;
            c.jetty.port = options.port;
            c.jetty.modifyHttpConfiguration(h -> {
                h.setSendServerVersion(false);
                h.setSendXPoweredBy(false);
            });
            c.routes.before("/v1/*", ctx -> Http.checkApiKey(ctx, options.apiKey));
            c.routes.before("/tokenize", ctx -> Http.checkApiKey(ctx, options.apiKey));
            c.routes.before("/detokenize", ctx -> Http.checkApiKey(ctx, options.apiKey));
            c.routes.post("/v1/chat/completions", ctx -> completion(ctx, true));
            c.routes.post("/v1/completions", ctx -> completion(ctx, false));
            c.routes.post("/v1/responses", ctx -> translated(ctx, CompletionHandler::responses));
            c.routes.post("/v1/messages", ctx -> translated(ctx, CompletionHandler::messages));
            c.routes.post("/v1/embeddings", ctx -> Http.json(ctx, 200, requireReady().embeddings().handle(Http.jsonBody(ctx, options.maxBodyBytes))));
            c.routes.post("/v1/messages/count_tokens", ctx -> Http.json(ctx, 200,
                    requireReady().completions().countMessageTokens(Http.jsonBody(ctx, options.maxBodyBytes))));
            c.routes.get("/v1/models", this::models);
            c.routes.get("/v1/models/{id}", this::model);
            c.routes.get("/health", this::health);
            c.routes.post("/tokenize", ctx -> Http.json(ctx, 200, tokens(ctx).tokenize(Http.jsonBody(ctx, options.maxBodyBytes))));
            c.routes.post("/detokenize", ctx -> Http.json(ctx, 200, tokens(ctx).detokenize(Http.jsonBody(ctx, options.maxBodyBytes))));
            c.routes.get("/metrics", ctx -> ctx.contentType("text/plain; version=0.0.4; charset=utf-8").result(metrics.scrape()));
            c.routes.exception(ApiException.class, (e, ctx) -> Http.error(ctx, e));
            c.routes.exception(HttpResponseException.class, (e, ctx) -> Http.error(ctx, fromJavalin(e, ctx)));
            c.routes.exception(Exception.class, (e, ctx) -> {
                LOG.error("request failed: {} {}", ctx.method(), ctx.path(), e);
                Http.error(ctx, ApiException.internal("internal server error"));
            });
            c.routes.error(404, ctx -> {
                if (ctx.attribute(Http.ANSWERED) == null) Http.error(ctx, ApiException.routeNotFound(ctx.method().name(), ctx.path()));
            });
            c.routes.after(ctx -> {
                Integer counted = ctx.attribute(Http.STATUS);
                metrics.request(ENDPOINTS.contains(ctx.path()) ? ctx.path() : ctx.path().startsWith("/v1/models/") ? "/v1/models/{id}"
                        : "other", counted != null ? counted : ctx.res().getStatus());
            });
        });
    }

    /** Starts listening and loads the model in the background; requests get 503 until it is ready. */
    public static MogeServer start(ServerOptions options, Callable<Engine> loader) {
        MogeServer s = new MogeServer(options);
        s.listen();
        Thread t = new Thread(() -> {
            try {
                Engine e = loader.call();
                try {
                    s.becomeReady(e);
                } catch (Throwable failed) {
                    // e.g. a draft model that cannot be opened: the target's threads must not outlive the failure
                    e.model().close();
                    e.loaded().close();
                    throw failed;
                }
            } catch (Throwable e) {
                s.ready.completeExceptionally(e);
            }
        }, "moge-loader");
        t.setDaemon(true);
        t.start();
        return s;
    }

    /** Starts with a model that is already loaded. */
    public static MogeServer start(ServerOptions options, Engine engine) {
        MogeServer s = new MogeServer(options);
        try {
            s.becomeReady(engine);
        } catch (RuntimeException e) {
            engine.model().close();
            engine.loaded().close();
            throw e;
        }
        s.listen();
        return s;
    }

    private void listen() {
        try {
            startQuietly();
        } catch (RuntimeException e) {
            throw new MogeException("cannot listen on " + options.host + ":" + options.port + ": " + rootMessage(e), e);
        }
        for (Connector c : app.jettyServer().server().getConnectors()) {
            if (c instanceof ServerConnector sc) sc.setIdleTimeout(options.idleTimeout.toMillis());
        }
    }

    /**
     * Starts Jetty without Javalin's own "Failed to start Javalin" error line: the failure is rethrown and
     * reported once, in moge's words. Javalin's logger is process-wide, hence the lock.
     */
    private void startQuietly() {
        synchronized (JavalinLogger.class) {
            boolean was = JavalinLogger.enabled;
            JavalinLogger.enabled = false;
            try {
                app.start();
            } finally {
                JavalinLogger.enabled = was;
            }
        }
    }

    private void becomeReady(Engine e) {
        LoadedModel lm = e.loaded();
        if (lm.tokenizer == null) throw new MogeException(lm.path + ": the model has no tokenizer.model; the server needs one");
        int context = Math.min(options.context, lm.config.maxPositions());
        int budget = Math.min(options.batchTokens, e.model().maxBatch());
        // before the cache, scheduler and drafts exist, so that a failing warm-up leaves nothing to close
        if (options.warmup) warmUp(e, context, budget);
        Scheduler.Config sc = new Scheduler.Config(options.parallel, context, budget, options.queueSize, options.prefixCache);
        int perSeq = (context + options.blockSize - 1) / options.blockSize;
        int blocks = options.kvBlocks > 0 ? options.kvBlocks : perSeq * options.parallel;
        KvCache cache = new KvCache(lm.config, blocks, options.blockSize, e.model().kvType());
        // a draft model (or quantized self-copy) is made now, so a bad --draft-model fails the start
        SpeculativeDecoders decoders = options.speculation.enabled()
                ? SpeculativeDecoders.open(options.speculation, lm, e.model(), context, options.parallel) : null;
        Scheduler scheduler;
        try {
            scheduler = new Scheduler(e.model(), cache, lm.tokenizer, sc);
        } catch (RuntimeException ex) {
            if (decoders != null) decoders.close();
            throw ex;
        }
        SpeculativeStrategy spec = null;
        if (decoders != null) {
            spec = new SpeculativeStrategy(decoders, scheduler::decodingSequences, SpeculativeStrategy.MAX_SPECULATING);
            scheduler.setDecodeStrategies(spec::choose);
            metrics.bindSpeculation(spec);
        }
        metrics.bind(scheduler);
        String id = options.modelId != null ? options.modelId : lm.name();
        RequestHooks hooks = options.hooks != null ? options.hooks
                : new ThinkingHooks(lm.tokenizer, options.thinking, metrics.registry());
        CompletionHandler h = new CompletionHandler(scheduler, lm.tokenizer, lm.chatTemplate, id, context, options.requestTimeout, hooks);
        // null without expert workers; probing starts now, on its own threads
        WorkerHealth workers = WorkerHealth.of(e.model(), options.healthInterval);
        if (workers != null) {
            workers.register(metrics.registry());
            scheduler.setFailureListener(ex -> {
                for (Throwable c = ex; c != null; c = c.getCause()) {
                    if (c instanceof moge.moe.DeviceUnavailableException d) {
                        workers.requestFailed(d);
                        return;
                    }
                }
            });
        }
        SideModel side = new SideModel(lm, e.model().team().threads(), e.model().maxBatch(), context, workers != null);
        EmbeddingsHandler embeddings = new EmbeddingsHandler(lm, side, id, options.pooling);
        h.useSideModel(side);
        ready.complete(new Ready(e, scheduler, h, embeddings, side, id, System.currentTimeMillis() / 1000, spec, workers));
        LOG.info("model {} ready: context {}, {} parallel, {} KV blocks of {} ({} MiB, {}){}", id, context, options.parallel, blocks,
                options.blockSize, cache.bytes() >> 20, cache.type.name().toLowerCase(java.util.Locale.ROOT), spec == null ? "" : ", speculative decoding with " + spec.decoders().sourceName());
    }

    private static void warmUp(Engine e, int context, int budget) {
        try {
            LOG.info("warm-up passes: {} ms", Warmup.run(e.model(), e.loaded().config.vocabSize(), context, budget));
        } catch (RuntimeException ex) {
            Throwable t = ex;
            while (t != null && !(t instanceof moge.ServiceUnavailable)) t = t.getCause();
            if (t == null) throw ex;
            // an expert worker that is down now may be back for the first request, which gets a 503 meanwhile
            LOG.warn("warm-up skipped: {}", t.getMessage());
        }
    }

    /** Blocks until the model is loaded; rethrows a loading failure. */
    public void awaitReady() {
        try {
            ready.join();
        } catch (java.util.concurrent.CompletionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException r) throw r;
            throw new MogeException("loading the model failed: " + c, c);
        }
    }

    public int port() {
        return app.port();
    }

    /** The base URL of the OpenAI API, e.g. http://127.0.0.1:8080/v1. */
    public String baseUrl() {
        String h = options.host.contains(":") ? "[" + options.host + "]" : options.host;
        return "http://" + h + ":" + port() + "/v1";
    }

    public ServerMetrics metrics() {
        return metrics;
    }

    /** What proposes tokens for speculative decoding ("ngram", "self:q8_0", a draft directory), or null when off or not loaded. */
    public String speculationSource() {
        Ready r = ready.getNow(null);
        return r == null || r.speculation() == null ? null : r.speculation().decoders().sourceName();
    }

    /** The scheduler once the model is loaded, else null. */
    public Scheduler scheduler() {
        Ready r = ready.getNow(null);
        return r == null ? null : r.scheduler();
    }

    private Ready requireReady() {
        if (closing) throw ApiException.unavailable("the server is shutting down");
        if (ready.isCompletedExceptionally()) throw ApiException.unavailable("the model failed to load");
        Ready r = ready.getNow(null);
        if (r == null) throw ApiException.unavailable("the model is loading; retry shortly");
        return r;
    }

    private void completion(Context ctx, boolean chat) throws Exception {
        inFlight.incrementAndGet();
        try {
            Ready r = requireReady();
            ObjectNode body = Http.jsonBody(ctx, options.maxBodyBytes);
            r.completions().handle(ctx, chat ? RequestParser.chat(body) : RequestParser.completion(body));
        } finally {
            inFlight.decrementAndGet();
        }
    }

    /** A request of another API (Responses, Anthropic's Messages) that the completion handler answers. */
    private interface Translated {
        void handle(CompletionHandler h, Context ctx, ObjectNode body) throws Exception;
    }

    private void translated(Context ctx, Translated api) throws Exception {
        inFlight.incrementAndGet();
        try {
            Ready r = requireReady();
            api.handle(r.completions(), ctx, Http.jsonBody(ctx, options.maxBodyBytes));
        } finally {
            inFlight.decrementAndGet();
        }
    }

    private TokenizeHandler tokens(Context ctx) {
        Ready r = requireReady();
        return new TokenizeHandler(r.engine().loaded().tokenizer, r.scheduler().config().context(), r.completions());
    }

    private void models(Context ctx) {
        Ready r = requireReady();
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("object", "list");
        o.putArray("data").add(modelObject(r));
        Http.json(ctx, 200, o);
    }

    private void model(Context ctx) {
        Ready r = requireReady();
        String id = ctx.pathParam("id");
        if (!id.equals(r.modelId())) throw ApiException.modelNotFound(id);
        Http.json(ctx, 200, modelObject(r));
    }

    private ObjectNode modelObject(Ready r) {
        ObjectNode m = JsonNodeFactory.instance.objectNode();
        m.put("id", r.modelId());
        m.put("object", "model");
        m.put("created", r.created());
        m.put("owned_by", "moge");
        ObjectNode meta = m.putObject("meta");
        meta.put("architecture", r.engine().loaded().config.arch().ggufName);
        meta.put("n_ctx", r.scheduler().config().context());
        meta.put("n_vocab", r.engine().loaded().config.vocabSize());
        meta.put("parallel", r.scheduler().config().parallel());
        return m;
    }

    /**
     * 200 {"status":"ok",...} when requests can be served; 503 in the OpenAI error shape while loading, shutting
     * down or while an expert worker does not answer (what a load balancer needs to take this server out and
     * back in). With workers, both list them: {"workers":[{"address","groups","status":"up"|"down"}]}.
     */
    private void health(Context ctx) {
        Ready r = requireReady();
        List<WorkerHealth.Worker> workers = r.workers() == null ? List.of() : r.workers().current();
        String down = WorkerHealth.problems(workers);
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        if (down == null) {
            o.put("status", "ok");
            o.put("running", r.scheduler().running());
            o.put("queued", r.scheduler().queued());
        }
        if (r.workers() != null) {
            ArrayNode a = o.putArray("workers");
            for (WorkerHealth.Worker w : workers) {
                a.addObject().put("address", w.address()).put("groups", w.groups()).put("status", w.up() ? "up" : "down");
            }
        }
        if (down != null) Http.error(ctx, ApiException.unavailable(down), o);
        else Http.json(ctx, 200, o);
    }

    private ApiException fromJavalin(HttpResponseException e, Context ctx) {
        return switch (e.getStatus()) {
            case 413 -> ApiException.tooLarge(options.maxBodyBytes);
            case 404 -> ApiException.routeNotFound(ctx.method().name(), ctx.path());
            case 405 -> {
                String allowed = e.getDetails().getOrDefault("availableMethods", "");
                ctx.header("Allow", allowed);
                yield ApiException.methodNotAllowed(ctx.method().name(), ctx.path(), allowed);
            }
            case 400 -> ApiException.badJson(e.getMessage());
            default -> new ApiException(e.getStatus(), e.getStatus() >= 500 ? "server_error" : "invalid_request_error", null, null,
                    e.getMessage());
        };
    }

    private static String rootMessage(Throwable t) {
        while (t.getCause() != null && t.getCause() != t) t = t.getCause();
        return String.valueOf(t.getMessage());
    }

    /**
     * Graceful shutdown: new requests get 503, queued ones too; running ones may finish within the grace
     * period and are then ended; the listener closes and the model is released.
     */
    @Override
    public void close() {
        if (closing) return;
        closing = true;
        Ready r = ready.getNow(null);
        if (r != null) r.scheduler().shutdown(options.shutdownGrace);
        // every sequence has ended by now; let their handlers write the last bytes
        long until = System.nanoTime() + 5_000_000_000L;
        try {
            while (inFlight.get() > 0 && System.nanoTime() < until) Thread.sleep(5);
            if (r != null) r.completions().awaitResponsesWritten(until);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            app.stop();
        } catch (RuntimeException e) {
            LOG.warn("stopping the HTTP server: {}", e.toString());
        }
        if (r != null) {
            if (r.workers() != null) r.workers().close();
            if (r.speculation() != null) r.speculation().close();
            r.side().close();
            r.engine().model().close();
            r.engine().loaded().close();
        }
    }
}
