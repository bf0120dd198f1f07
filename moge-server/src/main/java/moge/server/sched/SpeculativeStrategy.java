package moge.server.sched;

import moge.generate.Step;
import moge.model.Batch;
import moge.spec.SpeculativeDecoder;
import moge.spec.SpeculativeDecoders;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.IntSupplier;

/**
 * Speculative decoding inside the continuous-batching scheduler. Each sequence that may speculate gets its
 * own {@link SpeculativeDecoder} at its first decode step (closed when it leaves): {@link #plan} adds the
 * pending token and the proposals to the shared batch, {@link #apply} verifies them against their logits
 * rows, hands each emitted token to {@link SequenceState#accept} (stop rules, streaming, policies) and cuts
 * the KV cache back past what was not kept. Greedy output is plain decoding's, token for token.
 * <p>Sequences that opt out ({@code "speculative": false}) or whose policy may force tokens (a thinking
 * budget) decode with {@link DecodeStrategy#SINGLE}; see {@link #choose}. Once more than
 * {@code maxSpeculating} sequences decode together, the pass is full of tokens already and no longer bound
 * by reading the weights, so each sequence feeds one token (its decoder counts that as a plain step).
 * Runs on the scheduler thread only, except the counters, which /metrics reads from any thread.
 */
public final class SpeculativeStrategy implements DecodeStrategy, AutoCloseable {
    /** Default for the most sequences that speculate in one pass. */
    public static final int MAX_SPECULATING = 4;

    private final SpeculativeDecoders decoders;
    private final IntSupplier decoding;
    private final int maxSpeculating;
    private final Map<SequenceState, SpeculativeDecoder> active = new IdentityHashMap<>();
    private int[] ids = new int[16];
    private Step[] steps = new Step[16];
    private final LongAdder drafted = new LongAdder(), accepted = new LongAdder(), passes = new LongAdder();

    /**
     * @param decoding       how many sequences decode in the current step ({@link Scheduler#decodingSequences})
     * @param maxSpeculating above this many decoding sequences, every sequence feeds one token
     */
    public SpeculativeStrategy(SpeculativeDecoders decoders, IntSupplier decoding, int maxSpeculating) {
        this.decoders = decoders;
        this.decoding = decoding;
        this.maxSpeculating = maxSpeculating;
    }

    /** The strategy for {@code s}: this one, or {@link DecodeStrategy#SINGLE} for sequences that must not speculate. */
    public DecodeStrategy choose(SequenceState s) {
        return s.params().allowSpeculation() && !s.mayForce() ? this : SINGLE;
    }

    @Override
    public int plan(SequenceState s, Batch batch, int budget) {
        SpeculativeDecoder d = active.get(s);
        if (d == null) {
            d = decoders.newDecoder();
            active.put(s, d);
            // a draft model reads the prompt now (all but the pending token)
            d.begin(s.prompt());
        }
        // emitted tokens may not pass max tokens or the context; every row but the last becomes a cached position
        int limit = Math.min(s.params().maxTokens() - s.generated(), s.context() - s.length());
        int rows = Math.min(Math.min(budget, limit), decoders.config().draftMax() + 1);
        if (decoding.getAsInt() > maxSpeculating) rows = 1;
        return d.plan(s.kv(), s.sampler(), s.tokensArray(), s.length(), Math.max(1, rows), batch);
    }

    @Override
    public void apply(SequenceState s, float[] logits, int firstRow, int rows) {
        SpeculativeDecoder d = active.get(s);
        d.passTime(s.passShareNanos());
        if (ids.length < rows + 1) {
            ids = new int[rows + 16];
            steps = new Step[rows + 16];
        }
        int n = d.apply(logits, firstRow, s.kv(), s.sampler(), s.tokensArray(), s.length(), 0, ids, steps);
        int proposed = rows - 1, kept = n - 1;
        if (proposed > 0) {
            s.addSpeculation(proposed, kept);
            drafted.add(proposed);
            accepted.add(kept);
            passes.increment();
        }
        int vocab = s.vocab();
        for (int i = 0; i < n; i++) {
            if (!s.accept(ids[i], logits, (firstRow + i) * vocab)) break;
        }
        // Ended before the last verified token (a stop id or string, max tokens): the keys of the tokens
        // after it go, so the prefix cache registers only blocks of tokens the sequence really has.
        if (s.isFinished() && s.kv().length() > s.length() - 1) s.kv().truncate(s.length() - 1);
    }

    @Override
    public void release(SequenceState s) {
        SpeculativeDecoder d = active.remove(s);
        if (d != null) d.close();
    }

    /** Sequences holding a decoder now. */
    public int activeSequences() {
        return active.size();
    }

    public SpeculativeDecoders decoders() {
        return decoders;
    }

    /** Tokens proposed for verification since start. */
    public long draftedTokens() {
        return drafted.sum();
    }

    /** Proposed tokens the model agreed with. */
    public long acceptedTokens() {
        return accepted.sum();
    }

    /** Sequence-steps that verified at least one proposal. */
    public long passes() {
        return passes.sum();
    }

    /** Closes every decoder and the draft model; the scheduler must have stopped. */
    @Override
    public void close() {
        for (SpeculativeDecoder d : new ArrayList<>(active.values())) d.close();
        active.clear();
        decoders.close();
    }
}
