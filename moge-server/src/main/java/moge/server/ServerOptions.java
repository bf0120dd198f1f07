package moge.server;

import moge.server.api.RequestHooks;

import java.time.Duration;

/**
 * How the server listens and schedules. Defaults: 127.0.0.1:8080, no API key, 4 parallel sequences of up to
 * 4096 positions, 256 tokens per forward pass, 64 queued requests, prefix caching on, 1 MiB request bodies,
 * 10 minute request deadline, 10 s shutdown grace, no speculative decoding, expert workers probed every 2 s.
 */
public final class ServerOptions {
    public String host = "127.0.0.1";
    /** 0 picks a free port. */
    public int port = 8080;
    /** Required as "Authorization: Bearer KEY" on /v1/* when set. */
    public String apiKey;
    /** The id /v1/models shows and requests may name; null: the model directory's name. */
    public String modelId;
    public int parallel = 4;
    public int context = 4096;
    /** Tokens per forward pass (decode tokens plus prefill chunks). */
    public int batchTokens = 256;
    public int queueSize = 64;
    public int blockSize = 16;
    /** KV blocks in all; 0: enough for {@code parallel} full contexts. */
    public int kvBlocks;
    public boolean prefixCache = true;
    /** A few untimed passes before ready ({@link Warmup}), so the first requests do not pay for the JIT. */
    public boolean warmup = true;
    public long maxBodyBytes = 1 << 20;
    public Duration requestTimeout = Duration.ofMinutes(10);
    public Duration shutdownGrace = Duration.ofSeconds(10);
    /** Connections idle (or sending a request this slowly) for this long are closed. */
    public Duration idleTimeout = Duration.ofSeconds(30);
    /** Request plug-ins; null: thinking modes (see {@link moge.server.api.ThinkingHooks}) with {@link #thinking}. */
    public RequestHooks hooks;
    /** Thinking mode, budget and cascade thresholds for chat requests that do not choose their own. */
    public moge.thinking.ThinkingOptions thinking = moge.server.api.ThinkingHooks.serverDefaults();
    /** How often the expert workers are probed for /health (with --workers). */
    public Duration healthInterval = Duration.ofSeconds(2);
    /** How /v1/embeddings pools a text's states; null: the GGUF's pooling_type, else the last token. */
    public moge.generate.Embedder.Pooling pooling;
    /** Speculative decoding for requests that do not opt out (none by default). */
    public moge.spec.SpecConfig speculation = moge.spec.SpecConfig.none();

    public ServerOptions warmup(boolean on) {
        warmup = on;
        return this;
    }

    public ServerOptions host(String h) {
        host = h;
        return this;
    }

    public ServerOptions port(int p) {
        port = p;
        return this;
    }

    public ServerOptions apiKey(String k) {
        apiKey = k;
        return this;
    }

    public ServerOptions modelId(String id) {
        modelId = id;
        return this;
    }

    public ServerOptions parallel(int n) {
        parallel = n;
        return this;
    }

    public ServerOptions context(int n) {
        context = n;
        return this;
    }

    public ServerOptions batchTokens(int n) {
        batchTokens = n;
        return this;
    }

    public ServerOptions queueSize(int n) {
        queueSize = n;
        return this;
    }

    public ServerOptions blockSize(int n) {
        blockSize = n;
        return this;
    }

    public ServerOptions kvBlocks(int n) {
        kvBlocks = n;
        return this;
    }

    public ServerOptions prefixCache(boolean on) {
        prefixCache = on;
        return this;
    }

    public ServerOptions maxBodyBytes(long n) {
        maxBodyBytes = n;
        return this;
    }

    public ServerOptions requestTimeout(Duration d) {
        requestTimeout = d;
        return this;
    }

    public ServerOptions shutdownGrace(Duration d) {
        shutdownGrace = d;
        return this;
    }

    public ServerOptions idleTimeout(Duration d) {
        idleTimeout = d;
        return this;
    }

    public ServerOptions hooks(RequestHooks h) {
        hooks = h;
        return this;
    }

    public ServerOptions thinking(moge.thinking.ThinkingOptions t) {
        thinking = t;
        return this;
    }

    public ServerOptions healthInterval(Duration d) {
        healthInterval = d;
        return this;
    }

    public ServerOptions speculation(moge.spec.SpecConfig c) {
        speculation = c == null ? moge.spec.SpecConfig.none() : c;
        return this;
    }
}
