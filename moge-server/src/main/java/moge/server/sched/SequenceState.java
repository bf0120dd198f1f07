package moge.server.sched;

import moge.constrain.OutputConstraint;
import moge.generate.LogProbs;
import moge.generate.Step;
import moge.model.KvSequence;
import moge.sample.Sampler;
import moge.tokenizer.StreamDecoder;
import moge.tokenizer.Tokenizer;

import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Everything one request's generation needs between token boundaries: its tokens (prompt then generated),
 * its KV sequence, sampler, streaming decoder, stop rules, timings and finish state. The scheduler drives
 * it through three hooks: {@link #onPromptBuilt} once, {@link #chooseNext} for each position to fill
 * (sampling, unless the {@link GenerationPolicy} forces a token) and {@link #accept} for each emitted token.
 * All methods but {@link #cancel} and the getters of final fields run on the scheduler thread.
 */
public final class SequenceState {
    private static final AtomicLong IDS = new AtomicLong();

    public final long id = IDS.incrementAndGet();
    private final int[] prompt;
    private final GenerationParams params;
    private final GenerationPolicy policy;
    final SequenceListener listener;
    private final SchedulerObserver observer;
    private final int vocab;
    private final int context;
    private final Sampler sampler;
    // follows the output against the request's response_format (null: free text); the sampler masks with it
    private final OutputConstraint.Tracker constraint;
    private final StreamDecoder decoder;
    private final int maxStopLength;

    private KvSequence kv;
    private int[] tokens;
    private int length;
    private int cachedTokens;
    private int generated;
    private int reasoningTokens;
    private int drafted, draftAccepted;
    private final StringBuilder text = new StringBuilder();
    private int emitted;
    private volatile String finishReason;
    private volatile String matchedStop;
    private Object attachment;

    final long submitNanos = System.nanoTime();
    long admitNanos, firstTokenNanos, lastTokenNanos;
    long[] h1, h2;
    int hashedBlocks;
    /** The first choice of the same request (null for it): this one is admitted after it has prefilled. */
    SequenceState leader;

    private volatile boolean cancelled;
    /** The strategy of its decode steps (told when the sequence leaves), and its share of the last pass. */
    DecodeStrategy strategy;
    long passShareNanos;

    SequenceState(int[] prompt, GenerationParams params, GenerationPolicy policy, SequenceListener listener,
                  SchedulerObserver observer, Tokenizer tokenizer, int vocab, int context) {
        this.prompt = prompt.clone();
        this.params = params;
        this.policy = policy == null ? GenerationPolicy.NONE : policy;
        this.listener = listener;
        this.observer = observer;
        this.vocab = vocab;
        this.context = context;
        this.constraint = params.constraint() == null ? null : params.constraint().track(prompt.length, params.stopIds());
        this.sampler = new Sampler(params.sampler(), vocab, MinTokens.mask(constraint, params, prompt.length));
        this.decoder = tokenizer != null ? tokenizer.newStreamDecoder(params.textMode()) : null;
        int cap = Math.min(context, prompt.length + params.maxTokens());
        this.tokens = Arrays.copyOf(prompt, Math.max(cap, prompt.length) + 1);
        this.length = prompt.length;
        int m = 0;
        for (String s : params.stopStrings()) m = Math.max(m, s.length());
        this.maxStopLength = m;
    }

    // ---- read access for strategies, policies and the HTTP layer ----

    public GenerationParams params() {
        return params;
    }

    public int promptLength() {
        return prompt.length;
    }

    public int[] prompt() {
        return prompt.clone();
    }

    /** Prompt and generated tokens so far. */
    public int length() {
        return length;
    }

    public int token(int pos) {
        if (pos < 0 || pos >= length) throw new IndexOutOfBoundsException(pos);
        return tokens[pos];
    }

    public int generated() {
        return generated;
    }

    public int vocab() {
        return vocab;
    }

    public KvSequence kv() {
        return kv;
    }

    public Sampler sampler() {
        return sampler;
    }

    /** Positions this sequence may fill at most (prompt plus generated). */
    public int context() {
        return context;
    }

    /** Whether the policy may force tokens (which rules out speculative decoding). */
    public boolean mayForce() {
        return policy.mayForce();
    }

    /** This sequence's share of the last forward pass (by its tokens in the batch), for cost-aware strategies. */
    public long passShareNanos() {
        return passShareNanos;
    }

    /** Counts speculative proposals and how many of them were accepted (timings draft_n, draft_n_accepted). */
    public void addSpeculation(int proposed, int accepted) {
        drafted += proposed;
        draftAccepted += accepted;
    }

    public int cachedTokens() {
        return cachedTokens;
    }

    /** Per-request state of a plug-in (a speculative draft's position, a thinking policy's phase). */
    public Object attachment() {
        return attachment;
    }

    public void attach(Object o) {
        attachment = o;
    }

    /** Counts generated tokens as reasoning (usage.completion_tokens_details.reasoning_tokens). */
    public void addReasoningTokens(int n) {
        reasoningTokens += n;
    }

    public boolean isFinished() {
        return finishReason != null;
    }

    public String finishReason() {
        return finishReason;
    }

    /** Asks the scheduler to end this request at the next token boundary and free its blocks (any thread). */
    public void cancel() {
        cancelled = true;
    }

    public boolean isCancelled() {
        return cancelled;
    }

    // ---- scheduler side ----

    void start(KvSequence kv, int cached) {
        this.kv = kv;
        this.cachedTokens = cached;
        this.admitNanos = System.nanoTime();
        onPromptBuilt();
    }

    /** Prompt positions whose keys are not computed yet. */
    int promptRemaining() {
        return kv == null ? prompt.length : Math.max(0, prompt.length - kv.length());
    }

    boolean isPrefilling() {
        return !isFinished() && promptRemaining() > 0;
    }

    boolean isDecoding() {
        return !isFinished() && promptRemaining() == 0 && kv.length() == length - 1;
    }

    /** Blocks this sequence may need in all (prompt plus every allowed token). */
    int worstCaseBlocks(int blockSize) {
        int positions = Math.min(context, prompt.length + params.maxTokens());
        return (positions + blockSize - 1) / blockSize;
    }

    /** Hook: the prompt is final; the policy may inspect it (e.g. where a thinking block opens). */
    public void onPromptBuilt() {
        policy.onPromptBuilt(this);
    }

    /** Hook: the token for the next position, from logits[off .. off + vocab): forced by the policy or sampled. */
    public int chooseNext(float[] logits, int off) {
        int forced = policy.forceNext(this);
        if (forced >= 0) {
            if (forced >= vocab) throw new IllegalStateException("policy forced token " + forced + " outside the vocabulary");
            return forced;
        }
        return sampler.sample(logits, off, tokens, length);
    }

    /**
     * Hook: appends an emitted token, reports it (with its log-probabilities from logits[off ..] when asked
     * for; logits may be null for tokens without a distribution) and applies the stop rules. Returns false
     * once the sequence has finished.
     */
    public boolean accept(int id, float[] logits, int off) {
        if (isFinished()) throw new IllegalStateException("sequence " + this.id + " already finished");
        Step step = params.wantsLogprobs() && logits != null
                ? LogProbs.step(length, id, logits, off, vocab, params.topLogprobs()) : null;
        if (length == tokens.length) tokens = Arrays.copyOf(tokens, tokens.length * 2);
        tokens[length++] = id;
        generated++;
        long now = System.nanoTime();
        if (generated == 1) {
            firstTokenNanos = now;
            observer.timeToFirstToken(now - submitNanos);
        } else {
            observer.interTokenLatency(now - lastTokenNanos);
        }
        lastTokenNanos = now;
        observer.generatedTokens(1);
        policy.onToken(this, id);

        // under a constraint an end id is only allowed once the JSON is whole, and then it ends it, ignore_eos or not
        // (a lazy constraint's free text takes ignore_eos as free text does)
        boolean endToken = (!params.ignoreEos() || (constraint != null && !params.constraint().lazy())) && contains(params.stopIds(), id);
        // a stop_token_ids id ends the output too, its text kept as vLLM keeps it (the decoder hides special ones)
        boolean stopToken = endToken || contains(params.stopTokenIds(), id);
        String piece = decoder != null && !endToken ? decoder.push(id) : "";
        text.append(piece);
        int cut = stopStringCut(piece.length());
        if (cut >= 0) {
            text.setLength(Math.max(cut, emitted));
            finishReason = "stop";
        } else if (stopToken) {
            finishReason = "stop";
        } else if (constraint != null && constraint.finished(tokens, length)) {
            finishReason = "stop"; // the JSON and its white space are done: nothing else may follow
        } else if (generated >= params.maxTokens() || length >= context) {
            finishReason = "length";
        }
        String delta;
        if (isFinished()) {
            if (cut < 0 && decoder != null) text.append(decoder.flush());
            delta = drain(text.length());
        } else {
            delta = drain(text.length() - holdBack());
        }
        listener.onToken(this, id, delta, step);
        return !isFinished();
    }

    /** Ends the sequence now (deadline, shutdown); returns the held-back text. */
    String finishNow(String reason) {
        if (finishReason == null) {
            finishReason = reason;
            if (decoder != null) text.append(decoder.flush());
        }
        return drain(text.length());
    }

    SequenceResult result() {
        long end = lastTokenNanos != 0 ? lastTokenNanos : System.nanoTime();
        double promptMs = ((firstTokenNanos != 0 ? firstTokenNanos : end) - admitNanos) / 1e6;
        double predictedMs = firstTokenNanos != 0 ? (end - firstTokenNanos) / 1e6 : 0;
        double queueMs = (admitNanos - submitNanos) / 1e6;
        return new SequenceResult(finishReason, text.toString(), Arrays.copyOfRange(tokens, prompt.length, length), prompt.length,
                cachedTokens, generated, reasoningTokens, promptMs, predictedMs, queueMs, drafted, draftAccepted);
    }

    int[] tokensArray() {
        return tokens;
    }

    private String drain(int upTo) {
        if (upTo <= emitted) return "";
        String s = text.substring(emitted, upTo);
        emitted = upTo;
        return s;
    }

    /** Characters at the end of the text that could be the start of a stop string: not streamed yet. */
    private int holdBack() {
        if (maxStopLength == 0) return 0;
        int avail = text.length() - emitted, hold = 0;
        for (String s : params.stopStrings()) {
            for (int k = Math.min(s.length() - 1, avail); k > hold; k--) {
                if (endsWith(text, s, k)) {
                    hold = k;
                    break;
                }
            }
        }
        return hold;
    }

    private static boolean endsWith(StringBuilder t, String s, int k) {
        int o = t.length() - k;
        for (int i = 0; i < k; i++) if (t.charAt(o + i) != s.charAt(i)) return false;
        return true;
    }

    /** Where the earliest stop string starts if the newest piece completed one, else -1. */
    private int stopStringCut(int pieceLen) {
        if (maxStopLength == 0 || pieceLen == 0) return -1;
        int from = Math.max(0, text.length() - pieceLen - maxStopLength + 1);
        int best = -1;
        List<String> stops = params.stopStrings();
        for (String s : stops) {
            if (s.isEmpty()) continue;
            int i = text.indexOf(s, from);
            if (i >= 0 && (best < 0 || i < best)) {
                best = i;
                matchedStop = s;
            }
        }
        return best;
    }

    /** The stop string that ended the output, or null (Anthropic's API names it in {@code stop_sequence}). */
    public String matchedStop() {
        return matchedStop;
    }

    private static boolean contains(int[] a, int x) {
        for (int v : a) if (v == x) return true;
        return false;
    }
}
