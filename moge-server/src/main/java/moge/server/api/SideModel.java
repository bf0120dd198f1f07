package moge.server.api;

import moge.MogeException;
import moge.model.KvCache;
import moge.model.LoadedModel;
import moge.model.Model;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.BiFunction;

/**
 * A second model over the served (mapped) weights, with a cache for one sequence, for work that runs whole prompts
 * outside the scheduler: embeddings and echo's prompt log-probabilities. It is made on first use and runs one task
 * at a time on a platform thread of its own (a request's virtual thread computing would hold one of the few carrier
 * threads throughout); it shares the cores with the scheduler.
 */
public final class SideModel implements AutoCloseable {
    private final LoadedModel lm;
    private final int threads, batch, context;
    private final boolean remoteExperts;
    private final ExecutorService worker = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "moge-side-model");
        t.setDaemon(true);
        return t;
    });
    private Model model;
    private KvCache cache;

    /** @param remoteExperts whether the experts run in worker processes (--workers), out of this model's reach */
    public SideModel(LoadedModel lm, int threads, int batch, int context, boolean remoteExperts) {
        this.lm = lm;
        this.threads = threads;
        this.batch = batch;
        this.context = context;
        this.remoteExperts = remoteExperts;
    }

    int context() {
        return context;
    }

    /** Runs {@code task} on the side model and its cache; a MogeException it throws is a 400 naming {@code param}. */
    <T> T call(String param, BiFunction<Model, KvCache, T> task) {
        Future<T> f = worker.submit(() -> task.apply(model(), cache));
        try {
            return f.get();
        } catch (InterruptedException ex) {
            f.cancel(true);
            Thread.currentThread().interrupt();
            throw ApiException.unavailable("the request was interrupted (shutting down)");
        } catch (ExecutionException ex) {
            if (ex.getCause() instanceof MogeException m) throw ApiException.invalid(param, m.getMessage());
            if (ex.getCause() instanceof RuntimeException r) throw r;
            throw new IllegalStateException(ex.getCause());
        }
    }

    private synchronized Model model() {
        if (remoteExperts) {
            throw new ApiException(400, "invalid_request_error", null, "invalid_value",
                    "not available with --workers: the experts live in the worker processes");
        }
        if (model == null) {
            model = new Model(lm.config, lm.weights, threads, batch);
            cache = model.newCache(context, 1);
        }
        return model;
    }

    @Override
    public synchronized void close() {
        worker.shutdownNow();
        if (model != null) model.close();
    }
}
