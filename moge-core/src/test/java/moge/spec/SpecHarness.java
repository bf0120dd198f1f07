package moge.spec;

import moge.format.DType;
import moge.generate.GenerateOptions;
import moge.generate.GenerationResult;
import moge.generate.Generator;
import moge.generate.Speculator;
import moge.generate.TokenListener;
import moge.model.KvCache;
import moge.model.LoadedModel;
import moge.model.Model;

import java.util.function.Function;

/** Builds targets, drafts and generators for the speculation tests. */
final class SpecHarness {
    private SpecHarness() {
    }

    /** Draft sources to try against a target, by name. */
    enum Source {
        NGRAM_1_3, NGRAM_2_4, SELF_Q8_0, SELF_Q4_0, SELF_EXACT;

        DraftSource open(LoadedModel target, Model targetModel, int ctx) {
            int vocab = target.config.vocabSize();
            return switch (this) {
                case NGRAM_1_3 -> new NgramDraft(1, 3);
                case NGRAM_2_4 -> new NgramDraft(2, 4);
                case SELF_Q8_0, SELF_Q4_0 -> {
                    DType t = this == SELF_Q8_0 ? DType.Q8_0 : DType.Q4_0;
                    QuantizedCopy q = QuantizedCopy.of(target.weights, t, RefBlockMatrix::create, null);
                    Model m = new Model(target.config, q.weights, targetModel.team(), targetModel.maxBatch());
                    yield new ModelDraft(m, ctx, vocab, vocab, "self:" + t, q);
                }
                // The target drafting for itself: every greedy proposal must be accepted.
                case SELF_EXACT -> new ModelDraft(new Model(target.config, target.weights, targetModel.team(), targetModel.maxBatch()),
                        ctx, vocab, vocab, "self");
            };
        }
    }

    static GenerationResult plain(Model m, LoadedModel lm, int[] prompt, GenerateOptions o, int ctx) {
        Generator g = new Generator(m, lm.tokenizer, KvCache.forContext(m.config, ctx, 1, 16).newSequence(), ctx);
        return g.generate(prompt, o, TokenListener.NONE);
    }

    static Generator speculative(Model m, LoadedModel lm, Speculator s, int ctx) {
        Generator g = new Generator(m, lm.tokenizer, KvCache.forContext(m.config, ctx, 1, 16).newSequence(), ctx);
        g.setSpeculator(s);
        return g;
    }

    static SpeculativeDecoder decoder(DraftSource src, LoadedModel lm, int k, boolean adaptive) {
        return new SpeculativeDecoder(src, lm.config.vocabSize(), 1, k, adaptive);
    }

    static <T> T with(LoadedModel lm, int threads, int maxBatch, Function<Model, T> f) {
        try (Model m = new Model(lm.config, lm.weights, threads, maxBatch)) {
            return f.apply(m);
        }
    }
}
