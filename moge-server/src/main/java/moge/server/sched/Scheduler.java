package moge.server.sched;

import moge.MogeException;
import moge.model.Batch;
import moge.model.KvCache;
import moge.model.KvSequence;
import moge.model.Model;
import moge.tokenizer.Tokenizer;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;

/**
 * Continuous batching on one model thread. Requests wait in a bounded FIFO queue and are admitted when a
 * running slot and enough KV blocks for their worst case (prompt plus max tokens) are free, after their
 * prompt was matched against the prefix cache. Each step builds ONE batch: first every decoding sequence's
 * next input (one token, or more for a speculative {@link DecodeStrategy}), then prompt chunks of the
 * prefilling sequences in admission order until the per-step token budget is used, so a long prompt is
 * spread over several steps while the others keep decoding. After the forward pass each sequence takes its
 * logits rows; sequences that finished leave at once and free their blocks (full ones stay in the prefix
 * cache). Cancellations and deadlines are honoured at the next token boundary.
 */
public final class Scheduler implements AutoCloseable {
    /**
     * @param parallel     sequences decoding together at most
     * @param context      positions per sequence at most (prompt plus generated)
     * @param batchTokens  tokens per forward pass at most (decode tokens plus prefill chunks)
     * @param queueSize    requests waiting for admission at most (more: {@link SchedulerException.QueueFull})
     * @param prefixCache  reuse the KV blocks of identical prompt prefixes
     */
    public record Config(int parallel, int context, int batchTokens, int queueSize, boolean prefixCache) {
        public Config {
            if (parallel < 1) throw new MogeException("--parallel must be >= 1, got " + parallel);
            if (context < 2) throw new MogeException("--ctx must be >= 2, got " + context);
            if (batchTokens < parallel) throw new MogeException("--batch (" + batchTokens + ") must be >= --parallel (" + parallel + ")");
            if (queueSize < 0) throw new MogeException("--queue must be >= 0, got " + queueSize);
        }
    }

    private final Model model;
    private final KvCache cache;
    private final Tokenizer tokenizer;
    private final Config config;
    private final PrefixCache prefix;
    private final Batch batch;
    private final int vocab;
    private volatile SchedulerObserver observer = SchedulerObserver.NONE;
    private volatile Function<SequenceState, DecodeStrategy> strategies = s -> DecodeStrategy.SINGLE;
    private volatile java.util.function.Consumer<RuntimeException> failures = e -> {
    };

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition wake = lock.newCondition();
    private final Condition drained = lock.newCondition();
    private final ArrayDeque<SequenceState> queue = new ArrayDeque<>();
    private final List<SequenceState> running = new ArrayList<>();
    private boolean accepting = true;
    private boolean stop;
    private final Thread thread;

    /** Sequences decoding in the current step (model thread). */
    private int decodingNow;
    private volatile int statQueued, statRunning, statKvUsed, statKvFree, statKvIdle;

    // one entry per sequence in the current step
    private final List<SequenceState> planSeq = new ArrayList<>();
    private final List<DecodeStrategy> planStrategy = new ArrayList<>();
    private int[] planRow = new int[16], planRows = new int[16], planPrefill = new int[16];

    public Scheduler(Model model, KvCache cache, Tokenizer tokenizer, Config config) {
        if (model.maxBatch() < config.batchTokens()) {
            throw new IllegalArgumentException("model batch " + model.maxBatch() + " < scheduler budget " + config.batchTokens());
        }
        int perSeq = (config.context() + cache.blockSize - 1) / cache.blockSize;
        if (cache.blocks < perSeq) {
            throw new MogeException("KV cache of " + cache.blocks + " blocks cannot hold one sequence of " + config.context() + " positions");
        }
        this.model = model;
        this.cache = cache;
        this.tokenizer = tokenizer;
        this.config = config;
        this.prefix = new PrefixCache(cache, config.prefixCache());
        this.batch = new Batch(config.batchTokens());
        this.vocab = model.config.vocabSize();
        publishStats();
        this.thread = new Thread(this::loop, "moge-scheduler");
        thread.setDaemon(true);
        thread.start();
    }

    /** Ids the model scores: the length of its logits rows. */
    public int vocab() {
        return vocab;
    }

    public Config config() {
        return config;
    }

    public void setObserver(SchedulerObserver o) {
        observer = o == null ? SchedulerObserver.NONE : o;
    }

    /**
     * Hears of every step that failed (an expert worker unreachable, an engine error), on the model thread before
     * the sequences it ends are told, so that whatever it updates is current when their clients hear; must return
     * at once.
     */
    public void setFailureListener(java.util.function.Consumer<RuntimeException> l) {
        failures = l == null ? e -> {
        } : l;
    }

    /** Chooses each decoding sequence's step strategy (speculative decoding plugs in here). */
    public void setDecodeStrategies(Function<SequenceState, DecodeStrategy> f) {
        strategies = f;
    }

    /**
     * Queues a request. The listener hears of every token and of the end from the scheduler thread.
     *
     * @throws SchedulerException.QueueFull   when the queue is full
     * @throws SchedulerException.Unavailable when shutting down
     */
    public SequenceState submit(int[] prompt, GenerationParams params, GenerationPolicy policy, SequenceListener listener) {
        return submitAll(prompt, List.of(params), List.of(policy == null ? GenerationPolicy.NONE : policy), List.of(listener)).getFirst();
    }

    /**
     * Queues the choices of one request (OpenAI's {@code n}): one sequence each, all of one prompt, queued together
     * or not at all. Each is admitted on its own (its own slot and worst-case KV blocks), but the later ones wait
     * at the head of the queue until the first has prefilled the prompt, so that they adopt its blocks from the
     * prefix cache rather than compute them again.
     *
     * @throws SchedulerException.QueueFull   when the queue has no room for all of them
     * @throws SchedulerException.Unavailable when shutting down
     */
    public List<SequenceState> submitAll(int[] prompt, List<GenerationParams> params, List<GenerationPolicy> policies,
                                         List<SequenceListener> listeners) {
        int n = params.size();
        if (n < 1 || policies.size() != n || listeners.size() != n) throw new IllegalArgumentException("one policy and listener per choice");
        if (prompt.length == 0) throw new MogeException("empty prompt");
        for (GenerationParams gp : params) {
            if (gp.maxTokens() < 1) throw new MogeException("max tokens must be >= 1, got " + gp.maxTokens());
            if ((long) prompt.length + gp.maxTokens() > config.context()) {
                throw new MogeException("prompt of " + prompt.length + " tokens plus " + gp.maxTokens()
                        + " tokens to generate exceed the context of " + config.context());
            }
        }
        for (int t : prompt) if (t < 0 || t >= vocab) throw new MogeException("token id " + t + " is outside the vocabulary (0.." + (vocab - 1) + ")");
        List<SequenceState> group = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            SequenceState s = new SequenceState(prompt, params.get(i), policies.get(i), listeners.get(i), observer, tokenizer, vocab,
                    config.context());
            if (i > 0) s.leader = group.getFirst();
            group.add(s);
        }
        lock.lock();
        try {
            if (!accepting) throw new SchedulerException.Unavailable("the server is shutting down");
            if (queue.size() + n > config.queueSize() + freeSlots()) throw new SchedulerException.QueueFull(queue.size());
            queue.addAll(group);
            statQueued = queue.size();
            wake.signal();
        } finally {
            lock.unlock();
        }
        return group;
    }

    /** Wakes the model thread so that a cancelled request is dropped at once. */
    public void cancel(SequenceState s) {
        s.cancel();
        lock.lock();
        try {
            wake.signal();
        } finally {
            lock.unlock();
        }
    }

    private int freeSlots() {
        return Math.max(0, config.parallel() - statRunning);
    }

    public int queued() {
        return statQueued;
    }

    public int running() {
        return statRunning;
    }

    public int kvBlocksUsed() {
        return statKvUsed;
    }

    public int kvBlocksFree() {
        return statKvFree;
    }

    /** Free blocks that still hold a cached prefix (a subset of {@link #kvBlocksFree}). */
    public int kvBlocksCached() {
        return statKvIdle;
    }

    public int kvBlocksTotal() {
        return cache.blocks;
    }

    public boolean isAccepting() {
        lock.lock();
        try {
            return accepting;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Stops accepting new requests, lets the accepted ones (running and queued) finish for up to
     * {@code grace}, then ends the rest with 503 and stops the model thread.
     */
    public void shutdown(Duration grace) {
        long deadline = System.nanoTime() + grace.toNanos();
        lock.lock();
        try {
            accepting = false;
            wake.signal();
            while (statRunning > 0 || !queue.isEmpty()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) break;
                drained.awaitNanos(left);
            }
            stop = true;
            wake.signal();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            stop = true;
        } finally {
            lock.unlock();
        }
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        shutdown(Duration.ZERO);
    }

    // ---------------------------------------------------------------- model thread

    private void loop() {
        while (true) {
            boolean idle;
            lock.lock();
            try {
                if (stop) break;
                dropQueued();
                admit();
                idle = running.isEmpty();
                if (idle) {
                    drained.signalAll();
                    try {
                        wake.await(100, TimeUnit.MILLISECONDS);
                    } catch (InterruptedException e) {
                        break;
                    }
                }
            } finally {
                lock.unlock();
            }
            if (!idle) {
                try {
                    step();
                } catch (Throwable t) {
                    failAll(t);
                }
            }
            publishStats();
        }
        lock.lock();
        try {
            RuntimeException bye = new SchedulerException.Unavailable("the server is shutting down");
            for (SequenceState s : queue) notifyError(s, bye);
            queue.clear();
            for (SequenceState s : List.copyOf(running)) abort(s, bye);
            publishStats();
            drained.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Queued requests that were cancelled or timed out leave without running. */
    private void dropQueued() {
        long now = System.nanoTime();
        for (Iterator<SequenceState> it = queue.iterator(); it.hasNext(); ) {
            SequenceState s = it.next();
            RuntimeException why = null;
            if (s.isCancelled()) why = new SchedulerException.Cancelled();
            else if (now - s.params().deadlineNanos() > 0) why = new SchedulerException.Unavailable("timed out waiting for a free slot");
            if (why != null) {
                it.remove();
                notifyError(s, why);
            }
        }
        statQueued = queue.size();
    }

    /** Admits queued requests in order while a slot and their worst-case KV blocks are free. */
    private void admit() {
        int bs = cache.blockSize;
        while (!queue.isEmpty() && running.size() < config.parallel()) {
            SequenceState s = queue.peekFirst();
            // a later choice waits (and, FIFO, all behind it) while the first one's prompt is still being computed:
            // admitted now, it would find none of the prompt's blocks cached and compute them all again
            if (s.leader != null && prefix.enabled() && s.leader.isPrefilling() && running.contains(s.leader)) break;
            KvSequence kv = cache.newSequence();
            int worst = s.worstCaseBlocks(bs);
            s.h1 = new long[worst + 1];
            s.h2 = new long[worst + 1];
            // keep at least one prompt token to run: its logits choose the first generated token
            int cached = prefix.attach(s.tokensArray(), s.promptLength() - 1, kv, s.h1, s.h2);
            int need = worst - kv.blockCount();
            if (cache.allocator.free() - outstandingBlocks() < need) {
                kv.release();
                break;
            }
            queue.pollFirst();
            s.hashedBlocks = cached / bs; // whole blocks only: a partly reused block is hashed once it fills
            observer.prefixLookup(s.promptLength() - 1, cached);
            s.start(kv, cached);
            running.add(s);
        }
        statQueued = queue.size();
        statRunning = running.size();
    }

    /** Blocks running sequences may still allocate (their worst case minus what they hold). */
    private int outstandingBlocks() {
        int bs = cache.blockSize, sum = 0;
        for (SequenceState s : running) sum += Math.max(0, s.worstCaseBlocks(bs) - s.kv().blockCount());
        return sum;
    }

    private void step() {
        long now = System.nanoTime();
        for (SequenceState s : List.copyOf(running)) {
            if (s.isCancelled()) abort(s, new SchedulerException.Cancelled());
            else if (now - s.params().deadlineNanos() > 0) finish(s, s.finishNow("length"));
        }
        if (running.isEmpty()) return;

        batch.clear();
        planSeq.clear();
        planStrategy.clear();
        int budget = config.batchTokens();
        Function<SequenceState, DecodeStrategy> strat = strategies;
        int decoding = 0;
        for (SequenceState s : running) if (s.isDecoding()) decoding++;
        decodingNow = decoding;
        for (SequenceState s : running) {
            if (!s.isDecoding()) continue;
            int row = batch.outputs();
            DecodeStrategy d = strat.apply(s);
            if (s.strategy != d) {
                if (s.strategy != null) s.strategy.release(s);
                s.strategy = d;
            }
            // a fair share of the slots left, so that a strategy feeding several tokens cannot starve the rest
            int rows = d.plan(s, batch, Math.max(1, (budget - batch.size()) / decoding--));
            plan(s, d, row, rows, 0);
        }
        for (SequenceState s : running) {
            if (!s.isPrefilling() || batch.size() >= budget) continue;
            int start = s.kv().length();
            int n = Math.min(s.promptRemaining(), budget - batch.size());
            int end = start + n;
            int row = batch.outputs();
            for (int p = start; p < end; p++) batch.add(s.token(p), p, s.kv(), p == s.promptLength() - 1);
            plan(s, null, row, end == s.promptLength() ? 1 : 0, n);
        }
        if (batch.size() == 0) return;

        long t0 = System.nanoTime();
        float[] logits;
        try {
            logits = model.forward(batch);
        } catch (RuntimeException e) {
            failed(e);
            for (SequenceState s : List.copyOf(planSeq)) abort(s, e);
            return;
        }
        long passNanos = System.nanoTime() - t0;
        observer.step(batch.size(), planSeq.size(), passNanos);
        for (int i = 0; i < planSeq.size(); i++) {
            if (planPrefill[i] == 0) planSeq.get(i).passShareNanos = passNanos * planRows[i] / batch.size();
        }

        int prefilled = 0;
        for (int i = 0; i < planSeq.size(); i++) {
            SequenceState s = planSeq.get(i);
            if (planPrefill[i] > 0) {
                prefilled += planPrefill[i];
                if (planRows[i] == 1) {
                    int off = planRow[i] * vocab;
                    s.accept(s.chooseNext(logits, off), logits, off);
                }
            } else {
                planStrategy.get(i).apply(s, logits, planRow[i], planRows[i]);
            }
            s.hashedBlocks = prefix.register(s.tokensArray(), s.kv(), s.hashedBlocks, s.h1, s.h2);
            if (s.isFinished()) finish(s, "");
        }
        observer.promptTokens(prefilled);
    }

    private void plan(SequenceState s, DecodeStrategy d, int row, int rows, int prefill) {
        int i = planSeq.size();
        if (i == planRow.length) {
            planRow = java.util.Arrays.copyOf(planRow, i * 2);
            planRows = java.util.Arrays.copyOf(planRows, i * 2);
            planPrefill = java.util.Arrays.copyOf(planPrefill, i * 2);
        }
        planSeq.add(s);
        planStrategy.add(d);
        planRow[i] = row;
        planRows[i] = rows;
        planPrefill[i] = prefill;
    }

    /** A normal end: blocks are freed (full ones stay cached) before the client hears of it. */
    private void finish(SequenceState s, String rest) {
        running.remove(s);
        releaseStrategy(s);
        s.kv().release();
        statRunning = running.size();
        SequenceResult r = s.result();
        try {
            s.listener.onFinish(s, rest, r);
        } catch (RuntimeException ignored) {
            // a listener failure must not stop the model thread
        }
    }

    private void abort(SequenceState s, RuntimeException why) {
        running.remove(s);
        releaseStrategy(s);
        if (s.kv() != null) s.kv().release();
        statRunning = running.size();
        notifyError(s, why);
    }

    private void releaseStrategy(SequenceState s) {
        DecodeStrategy d = s.strategy;
        s.strategy = null;
        if (d == null) return;
        try {
            d.release(s);
        } catch (RuntimeException e) {
            // freeing a plug-in's state must not stop the model thread
        }
    }

    private void notifyError(SequenceState s, RuntimeException why) {
        try {
            s.listener.onError(s, why);
        } catch (RuntimeException ignored) {
            // see finish
        }
    }

    private void failAll(Throwable t) {
        RuntimeException e = t instanceof RuntimeException r ? r : new MogeException("internal error: " + t, t);
        failed(e);
        for (SequenceState s : List.copyOf(running)) abort(s, e);
    }

    private void failed(RuntimeException e) {
        try {
            failures.accept(e);
        } catch (RuntimeException ignored) {
            // see finish
        }
    }

    private void publishStats() {
        statKvUsed = cache.allocator.used();
        statKvFree = cache.allocator.free();
        statKvIdle = cache.allocator.idleCached();
        statRunning = running.size();
    }

    /**
     * How many sequences decode in the current step; for strategies on the model thread that feed fewer
     * tokens per sequence once a pass is full of sequences anyway.
     */
    public int decodingSequences() {
        return decodingNow;
    }

    /** Prefix-cache counters (tokens looked up and reused since start). */
    public long prefixLookedUpTokens() {
        return prefix.lookedUpTokens();
    }

    public long prefixHitTokens() {
        return prefix.hitTokens();
    }
}
