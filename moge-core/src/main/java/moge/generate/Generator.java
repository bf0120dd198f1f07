package moge.generate;

import moge.MogeException;
import moge.model.Batch;
import moge.model.KvSequence;
import moge.model.Model;
import moge.sample.Sampler;
import moge.tokenizer.StreamDecoder;
import moge.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The decode loop for one sequence: prefill the prompt in chunks, then sample, stream and feed back one
 * token at a time. The sequence keeps its cache between calls, so a follow-up prompt that extends the
 * previous one (the next chat turn) only prefills what is new.
 */
public final class Generator {
    private final Model model;
    private final Tokenizer tokenizer;
    private final KvSequence seq;
    private final int context;
    private final Batch batch;
    private int[] cached = new int[0];
    private int cachedLen;
    private int prefillRow;
    private Speculator speculator;
    private int[] aheadIds = new int[1];
    private Step[] aheadSteps = new Step[1];
    private boolean forced;
    private moge.constrain.OutputConstraint constraint;

    /** A generator with a KV cache of its own, for one sequence of up to {@code context} tokens. */
    public Generator(Model model, Tokenizer tokenizer, int context) {
        this(model, tokenizer, model.newCache(context, 1).newSequence(), context);
    }

    public Generator(Model model, Tokenizer tokenizer, KvSequence seq, int context) {
        this.model = model;
        this.tokenizer = tokenizer;
        this.seq = seq;
        this.context = context;
        this.batch = new Batch(model.maxBatch());
    }

    public int context() {
        return context;
    }

    public Model model() {
        return model;
    }

    /**
     * Decodes with speculation from now on (null: plain decoding). The speculator may produce up to
     * {@code model.maxBatch()} tokens per round.
     */
    public void setSpeculator(Speculator s) {
        speculator = s;
        int n = Math.max(1, model.maxBatch());
        aheadIds = new int[n];
        aheadSteps = new Step[n];
    }

    /** Constrains the output from now on (JSON of a schema; null: free text); see {@link moge.constrain.OutputConstraint}. */
    public void setConstraint(moge.constrain.OutputConstraint c) {
        constraint = c;
    }

    public Speculator speculator() {
        return speculator;
    }

    /** Forgets the cached tokens (the next prompt is prefilled from scratch). */
    public void reset() {
        seq.truncate(0);
        cachedLen = 0;
    }

    public GenerationResult generate(int[] prompt, GenerateOptions o, TokenListener listener) {
        return generate(prompt, o, listener, DecodePolicy.NONE);
    }

    /**
     * As {@link #generate(int[], GenerateOptions, TokenListener)}, with {@code policy} consulted before every
     * position: a forced id replaces sampling (it still counts against max tokens and may be a stop id).
     * A policy that may force tokens turns speculation off for this generation: a forced token would
     * invalidate the tokens speculated past it.
     */
    public GenerationResult generate(int[] prompt, GenerateOptions o, TokenListener listener, DecodePolicy policy) {
        if (prompt.length == 0) throw new MogeException("empty prompt: nothing to continue from");
        if (prompt.length >= context) {
            // raising --ctx helps only up to the model's trained length
            String hint = context < model.config.maxPositions() ? "; raise --ctx" : ", the model's maximum; shorten the prompt";
            throw new MogeException("prompt of " + prompt.length + " tokens does not fit the context of " + context
                    + " tokens (leave room for at least one generated token" + hint + ")");
        }
        if (o.maxTokens() < 0) throw new MogeException("max tokens must be >= 0, got " + o.maxTokens());
        int vocab = model.config.vocabSize();
        moge.constrain.OutputConstraint.Tracker tracker = constraint == null ? null : constraint.track(prompt.length, o.stopIds());
        Sampler sampler = new Sampler(o.sampler(), vocab, tracker);
        List<Step> promptSteps = new ArrayList<>();
        long t0 = System.nanoTime();
        float[] logits = prefill(prompt, o, promptSteps);
        // A draft model reads the prompt too: part of prompt processing, not of decoding.
        Speculator spec = policy.mayForce() ? null : speculator;
        if (spec != null) spec.begin(prompt);
        long t1 = System.nanoTime();

        int[] history = Arrays.copyOf(prompt, prompt.length + o.maxTokens() + 1);
        int histLen = prompt.length;
        int[] out = new int[o.maxTokens()];
        int n = 0;
        List<Step> steps = new ArrayList<>();
        StreamDecoder dec = tokenizer != null ? tokenizer.newStreamDecoder(o.textMode()) : null;
        StringBuilder text = new StringBuilder();
        String finish = "length";
        int pos = prompt.length;
        // Tokens produced ahead by a speculative round, handed out one at a time below.
        int queued = 0, next = 0;
        int id = o.maxTokens() > 0 ? choose(policy, sampler, logits, prefillRow, history, histLen) : -1;
        Step step = o.maxTokens() > 0 ? LogProbs.step(pos, id, logits, prefillRow, vocab, o.topLogprobs()) : null;
        while (n < o.maxTokens()) {
            policy.accepted(id, forced);
            steps.add(step);
            out[n++] = id;
            history[histLen++] = id;
            // under a constraint an end id is allowed only once the JSON is whole, and then it ends it
            boolean stopToken = (!o.ignoreEos() || tracker != null) && contains(o.stopIds(), id);
            String piece = "";
            if (dec != null && !stopToken) piece = dec.push(id);
            text.append(piece);
            int cut = stopStringCut(text, piece.length(), o.stopStrings());
            if (cut >= 0) {
                text.setLength(cut);
                finish = "stop";
                listener.onToken(id, "", step);
                break;
            }
            if (!listener.onToken(id, piece, step)) {
                finish = "cancelled";
                break;
            }
            if (stopToken || tracker != null && tracker.finished(history, histLen)) {
                finish = "stop";
                break;
            }
            if (n == o.maxTokens()) break;
            if (pos + 1 >= context) break;
            if (next == queued) {
                int limit = Math.min(o.maxTokens() - n, context - 1 - pos);
                if (spec != null) {
                    queued = spec.round(model, seq, sampler, history, histLen, limit, o.topLogprobs(), aheadIds, aheadSteps);
                } else {
                    batch.clear().add(id, pos, seq, true);
                    logits = model.forward(batch);
                    aheadIds[0] = choose(policy, sampler, logits, 0, history, histLen);
                    aheadSteps[0] = LogProbs.step(pos + 1, aheadIds[0], logits, 0, vocab, o.topLogprobs());
                    queued = 1;
                }
                // The fed token and all but the last new one now sit in the cache.
                remember(id, pos);
                for (int i = 0; i + 1 < queued; i++) remember(aheadIds[i], pos + 1 + i);
                next = 0;
            }
            id = aheadIds[next];
            step = aheadSteps[next];
            next++;
            pos++;
        }
        if (dec != null && !"stop".equals(finish)) text.append(dec.flush());
        long t2 = System.nanoTime();
        int[] gen = Arrays.copyOf(out, n);
        Timings timings = new Timings(prompt.length, (t1 - t0) / 1e6, n, (t2 - t1) / 1e6);
        SpecStats stats = spec != null ? spec.stats() : null;
        return new GenerationResult(prompt, gen, text.toString(), steps, promptSteps, finish, timings, stats);
    }

    /**
     * Runs the uncached part of the prompt; returns the logits buffer whose row at {@link #prefillRow}
     * predicts the first generated token.
     */
    private float[] prefill(int[] prompt, GenerateOptions o, List<Step> promptSteps) {
        int vocab = model.config.vocabSize();
        int common = 0;
        int limit = Math.min(cachedLen, prompt.length - 1);
        if (o.promptLogprobs()) limit = 0;
        while (common < limit && cached[common] == prompt[common]) common++;
        seq.truncate(Math.min(seq.length(), common));
        cachedLen = common;
        float[] logits = null;
        int lastRow = 0;
        int chunk = model.maxBatch();
        for (int start = common; start < prompt.length; start += chunk) {
            int end = Math.min(prompt.length, start + chunk);
            batch.clear();
            for (int p = start; p < end; p++) batch.add(prompt[p], p, seq, o.promptLogprobs() || p == prompt.length - 1);
            logits = model.forward(batch);
            for (int p = start; p < end; p++) remember(prompt[p], p);
            if (o.promptLogprobs()) {
                for (int p = start; p < end; p++) {
                    int r = (p - start) * vocab;
                    int best = moge.sample.Sampler.argmax(logits, r, vocab);
                    promptSteps.add(LogProbs.step(p, best, logits, r, vocab, o.topLogprobs()));
                }
            }
            lastRow = (end - 1 - start);
            if (!o.promptLogprobs()) lastRow = 0;
        }
        prefillRow = lastRow * vocab;
        return logits;
    }

    /** The policy's forced id, else a sampled one; {@link #forced} tells which for the policy's callback. */
    private int choose(DecodePolicy policy, Sampler sampler, float[] logits, int row, int[] history, int histLen) {
        int f = policy.forcedToken();
        forced = f != DecodePolicy.SAMPLE;
        if (!forced) return sampler.sample(logits, row, history, histLen);
        int vocab = model.config.vocabSize();
        if (f < 0 || f >= vocab) throw new MogeException("decode policy forced token " + f + " outside the vocabulary of " + vocab);
        return f;
    }

    private void remember(int id, int pos) {
        if (cached.length <= pos) cached = Arrays.copyOf(cached, Math.max(pos + 1, cached.length * 2 + 16));
        cached[pos] = id;
        cachedLen = pos + 1;
    }

    private static boolean contains(int[] a, int x) {
        if (a == null) return false;
        for (int v : a) if (v == x) return true;
        return false;
    }

    /** Index where a stop string starts if the newest piece completed one, else -1. */
    private static int stopStringCut(StringBuilder text, int pieceLen, List<String> stops) {
        if (stops == null || stops.isEmpty() || pieceLen == 0) return -1;
        int best = -1;
        for (String s : stops) {
            if (s.isEmpty()) continue;
            int from = Math.max(0, text.length() - pieceLen - s.length() + 1);
            int i = text.indexOf(s, from);
            if (i >= 0 && (best < 0 || i < best)) best = i;
        }
        return best;
    }
}
