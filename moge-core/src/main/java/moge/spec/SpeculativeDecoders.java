package moge.spec;

import moge.model.KvCache;
import moge.model.LoadedModel;
import moge.model.Model;

/**
 * One {@link SpeculativeDecoder} per sequence for a server that decodes several sequences together. N-gram
 * lookup keeps nothing shared; a draft model is loaded (or quantized from the target) once, with one KV
 * cache big enough for every sequence at full context, and each decoder's {@link ModelDraft} takes one
 * sequence of that cache and gives it back when the decoder is closed. Not thread-safe: the server's model
 * thread makes, runs and closes the decoders.
 */
public final class SpeculativeDecoders implements AutoCloseable {
    private final SpecConfig config;
    private final int vocab;
    private final int context;
    private final Speculation.DraftModel draft;
    private final KvCache draftCache;

    private SpeculativeDecoders(SpecConfig config, int vocab, int context, Speculation.DraftModel draft, KvCache draftCache) {
        this.config = config;
        this.vocab = vocab;
        this.context = context;
        this.draft = draft;
        this.draftCache = draftCache;
    }

    /**
     * @param context   positions per sequence at most
     * @param sequences sequences decoding at the same time at most
     */
    public static SpeculativeDecoders open(SpecConfig c, LoadedModel target, Model targetModel, int context, int sequences) {
        c.validate();
        if (!c.enabled()) throw new IllegalArgumentException("speculation is off");
        int vocab = target.config.vocabSize();
        if (c.mode() == SpecConfig.Mode.NGRAM) return new SpeculativeDecoders(c, vocab, context, null, null);
        Speculation.DraftModel d = Speculation.loadDraft(c.draftModel(), target, targetModel);
        try {
            int ctx = Math.min(context, d.model().config.maxPositions());
            // the draft's cache stores keys as the target's does
            KvCache cache = KvCache.forContext(d.model().config, ctx, Math.max(1, sequences), 16, targetModel.kvType());
            return new SpeculativeDecoders(c, vocab, ctx, d, cache);
        } catch (RuntimeException e) {
            d.close();
            throw e;
        }
    }

    public SpecConfig config() {
        return config;
    }

    /** What proposes tokens: "ngram", a draft model's directory, "self:q8_0". */
    public String sourceName() {
        return draft == null ? "ngram" : draft.name();
    }

    /** A decoder for one sequence; close it when the sequence ends (returns its draft cache blocks). */
    public SpeculativeDecoder newDecoder() {
        DraftSource s = draft == null ? new NgramDraft(config.ngramMin(), config.ngramMax())
                : new ModelDraft(draft.model(), draftCache, context, draft.vocab(), vocab, draft.name());
        return new SpeculativeDecoder(s, vocab, config.draftMin(), config.draftMax(), config.adaptive());
    }

    /** Draft KV blocks held by open decoders (0 once all are closed). */
    public int draftBlocksUsed() {
        return draftCache == null ? 0 : draftCache.allocator.used();
    }

    /** Closes the draft model; every decoder must be closed first. */
    @Override
    public void close() {
        if (draft != null) draft.close();
    }
}
