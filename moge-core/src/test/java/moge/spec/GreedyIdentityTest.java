package moge.spec;

import moge.Fixtures;
import moge.format.DType;
import moge.generate.GenerateOptions;
import moge.generate.GenerationResult;
import moge.generate.Generator;
import moge.generate.SpecStats;
import moge.generate.Step;
import moge.generate.TokenListener;
import moge.model.LoadedModel;
import moge.model.Model;
import moge.model.ModelConfig;
import moge.model.ModelLoader;
import moge.model.TestModels;
import moge.sample.SamplerParams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * Greedy speculative decoding must reproduce plain decoding token for token (ids, log-probs, alternatives)
 * whatever proposes the tokens, for every draft size, batch limit and stopping rule.
 */
class GreedyIdentityTest {
    @TempDir
    static Path tmp;

    static final int CTX = 160;

    static Stream<Arguments> fixtureCases() {
        List<Arguments> out = new ArrayList<>();
        for (String model : new String[]{"pangu-moe-tiny", "pangu-embedded-tiny", "pangu-embedded-tiny-tied"}) {
            for (SpecHarness.Source s : SpecHarness.Source.values()) {
                for (int k : new int[]{1, 3, 8}) out.add(Arguments.of(model, s, k));
            }
        }
        return out.stream();
    }

    /** A prompt with a repeated stretch, so that n-gram lookup finds something from the start. */
    static int[] prompt(int vocab, long seed, int n) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i >= n / 2 && i < n / 2 + 6 ? p[i - n / 2] : 3 + r.nextInt(vocab - 3);
        return p;
    }

    @ParameterizedTest(name = "{0} {1} k={2}")
    @MethodSource("fixtureCases")
    void fixtureModels(String model, SpecHarness.Source source, int k) {
        try (LoadedModel lm = ModelLoader.load(Fixtures.model(model))) {
            check(lm, source, k, 1, 16, prompt(lm.config.vocabSize(), k, 20), 60, SamplerParams.greedy());
        }
    }

    static void check(LoadedModel lm, SpecHarness.Source source, int k, int threads, int maxBatch, int[] prompt, int n,
                      SamplerParams sp) {
        GenerateOptions o = new GenerateOptions(n, sp, new int[0], true, 3, false, List.of());
        SpecHarness.with(lm, threads, maxBatch, m -> {
            GenerationResult plain = SpecHarness.plain(m, lm, prompt, o, CTX);
            try (SpeculativeDecoder d = SpecHarness.decoder(source.open(lm, m, CTX), lm, k, false)) {
                Generator g = SpecHarness.speculative(m, lm, d, CTX);
                GenerationResult spec = g.generate(prompt, o, TokenListener.NONE);
                assertSame(plain, spec, lm.name() + " " + source + " k=" + k);
                SpecStats st = spec.speculation();
                assertThat(st).isNotNull();
                assertThat(st.accepted()).isLessThanOrEqualTo(st.drafted());
                assertThat(st.maxDraft()).isLessThanOrEqualTo(Math.min(k, maxBatch - 1));
                assertThat(st.emitted()).isEqualTo(n - 1);
                if (source.name().startsWith("SELF")) assertThat(st.drafted()).isGreaterThan(0);
                if (source == SpecHarness.Source.SELF_EXACT) assertThat(st.accepted()).isEqualTo(st.drafted());
            }
            return null;
        });
    }

    static void assertSame(GenerationResult plain, GenerationResult spec, String where) {
        assertThat(spec.generatedIds()).as(where).containsExactly(plain.generatedIds());
        assertThat(spec.finishReason()).as(where).isEqualTo(plain.finishReason());
        assertThat(spec.text()).as(where).isEqualTo(plain.text());
        assertThat(spec.steps()).hasSameSizeAs(plain.steps());
        for (int i = 0; i < plain.steps().size(); i++) {
            Step a = plain.steps().get(i), b = spec.steps().get(i);
            assertThat(b.pos()).as(where + " pos " + i).isEqualTo(a.pos());
            // A row's logits come from the same per-token arithmetic in a batch as alone, but the JIT's tiers
            // (interpreter, C1, C2) may round lane reductions differently: equal up to the last bits.
            assertThat(b.logprob()).as(where + " logprob " + i).isCloseTo(a.logprob(), within(1e-5 + 1e-6 * Math.abs(a.logprob())));
            assertThat(b.topIds()).as(where + " top " + i).containsExactly(a.topIds());
            for (int j = 0; j < a.topLogprobs().length; j++) {
                double e = a.topLogprobs()[j];
                assertThat(b.topLogprobs()[j]).as(where + " top lp " + i + "/" + j).isCloseTo(e, within(1e-5 + 1e-6 * Math.abs(e)));
            }
        }
    }

    static Stream<Arguments> generatedCases() {
        return Stream.of(
                // dense, widths divisible into blocks of 32: everything but the embedding gets quantized
                Arguments.of("dense64", TestModels.embedded(211, 64, 2, 4, 2, 16, 96, false, 1e4, true), DType.BF16),
                // awkward widths: most matrices stay unquantized
                Arguments.of("dense72", TestModels.embedded(157, 72, 2, 3, 1, 24, 40, true, 4e6, false), DType.F32),
                Arguments.of("moge", TestModels.moge(190, 64, 2, 4, 2, 16, 8, 2, 2, 32, 64, null, 0, false, 1.6e7), DType.BF16),
                Arguments.of("moge-dense-layer", TestModels.moge(130, 96, 3, 3, 1, 32, 12, 3, 3, 32, 0,
                        new boolean[]{true, false, false}, 64, true, 1e6), DType.F16));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("generatedCases")
    void generatedModels(String name, ModelConfig c, DType dtype) {
        Path dir = TestModels.write(tmp.resolve(name), c, dtype, name.hashCode());
        try (LoadedModel lm = ModelLoader.load(dir)) {
            for (SpecHarness.Source s : SpecHarness.Source.values()) {
                for (int k : new int[]{2, 5}) {
                    for (int threads : new int[]{1, 2}) check(lm, s, k, threads, 8, prompt(c.vocabSize(), 7 + k, 13), 50, SamplerParams.greedy());
                }
            }
            // A batch of 3 caps drafts at 2 tokens.
            check(lm, SpecHarness.Source.SELF_EXACT, 6, 1, 3, prompt(c.vocabSize(), 3, 9), 30, SamplerParams.greedy());
            // Penalties look at the history, drafts included.
            SamplerParams pen = new SamplerParams(0f, 0, 1f, 0f, 1.3f, 16, 0.2f, 0.1f, 0);
            check(lm, SpecHarness.Source.SELF_Q8_0, 4, 1, 8, prompt(c.vocabSize(), 4, 12), 40, pen);
            check(lm, SpecHarness.Source.NGRAM_1_3, 4, 1, 8, prompt(c.vocabSize(), 4, 12), 40, pen);
            // A logit bias (a third of the vocabulary banned, a few ids favoured): the output is the biased
            // target's, and the target drafting for itself proposes under the bias too, so it is always right.
            Map<Integer, Float> bias = new HashMap<>();
            for (int id = 0; id < c.vocabSize(); id += 3) bias.put(id, SamplerParams.BAN);
            for (int id = 1; id < c.vocabSize(); id += 31) bias.put(id, 2.5f);
            SamplerParams biased = pen.withLogitBias(bias);
            for (SpecHarness.Source s : new SpecHarness.Source[]{SpecHarness.Source.SELF_EXACT, SpecHarness.Source.SELF_Q8_0,
                    SpecHarness.Source.NGRAM_1_3}) {
                check(lm, s, 4, 1, 8, prompt(c.vocabSize(), 4, 12), 40, biased);
            }
        }
    }

    @Test
    void stopsContextEndAndFollowUpTurnsMatchPlainDecoding() {
        try (LoadedModel lm = ModelLoader.load(Fixtures.model("pangu-embedded-tiny"))) {
            int vocab = lm.config.vocabSize();
            int[] p = prompt(vocab, 99, 16);
            SpecHarness.with(lm, 1, 16, m -> {
                GenerateOptions free = new GenerateOptions(40, SamplerParams.greedy(), new int[0], true, 2, false, List.of());
                int[] plainIds = SpecHarness.plain(m, lm, p, free, CTX).generatedIds();
                // Stop ids that first appear mid-stream, then a context that ends mid-round, then max tokens.
                for (int stopAt : new int[]{3, 11, 25}) {
                    GenerateOptions o = new GenerateOptions(40, SamplerParams.greedy(), new int[]{plainIds[stopAt]}, false, 2, false, List.of());
                    compare(lm, m, p, o, CTX);
                }
                for (int ctx : new int[]{p.length + 1, p.length + 2, p.length + 9, p.length + 23}) compare(lm, m, p, free, ctx);
                for (int max : new int[]{0, 1, 2, 7}) {
                    compare(lm, m, p, new GenerateOptions(max, SamplerParams.greedy(), new int[0], true, 2, false, List.of()), CTX);
                }
                // Two turns on one generator: the second prompt extends the first exchange.
                for (SpecHarness.Source s : new SpecHarness.Source[]{SpecHarness.Source.SELF_EXACT, SpecHarness.Source.NGRAM_1_3}) {
                    try (SpeculativeDecoder d = SpecHarness.decoder(s.open(lm, m, CTX), lm, 5, false)) {
                        Generator g = SpecHarness.speculative(m, lm, d, CTX);
                        Generator plainGen = new Generator(m, lm.tokenizer, moge.model.KvCache.forContext(m.config, CTX, 1, 16).newSequence(), CTX);
                        GenerationResult a = g.generate(p, free, TokenListener.NONE);
                        GenerationResult pa = plainGen.generate(p, free, TokenListener.NONE);
                        assertSame(pa, a, "turn 1 " + s);
                        int[] p2 = java.util.stream.IntStream.concat(java.util.stream.IntStream.concat(
                                java.util.Arrays.stream(p), java.util.Arrays.stream(a.generatedIds()).limit(23)), java.util.stream.IntStream.of(5, 6, 7)).toArray();
                        GenerateOptions o2 = new GenerateOptions(30, SamplerParams.greedy(), new int[0], true, 2, false, List.of());
                        assertSame(plainGen.generate(p2, o2, TokenListener.NONE), g.generate(p2, o2, TokenListener.NONE), "turn 2 " + s);
                    }
                }
                return null;
            });
        }
    }

    private static void compare(LoadedModel lm, Model m, int[] p, GenerateOptions o, int ctx) {
        GenerationResult plain = SpecHarness.plain(m, lm, p, o, ctx);
        for (SpecHarness.Source s : new SpecHarness.Source[]{SpecHarness.Source.SELF_EXACT, SpecHarness.Source.SELF_Q4_0, SpecHarness.Source.NGRAM_1_3}) {
            try (SpeculativeDecoder d = SpecHarness.decoder(s.open(lm, m, ctx), lm, 6, false)) {
                GenerationResult spec = SpecHarness.speculative(m, lm, d, ctx).generate(p, o, TokenListener.NONE);
                assertSame(plain, spec, s + " ctx=" + ctx + " max=" + o.maxTokens() + " stops=" + java.util.Arrays.toString(o.stopIds()));
            }
        }
    }

    @Test
    void adaptiveDecodingIsAlsoIdentical() {
        try (LoadedModel lm = ModelLoader.load(Fixtures.model("pangu-moe-tiny"))) {
            int[] p = prompt(lm.config.vocabSize(), 1, 24);
            GenerateOptions o = new GenerateOptions(120, SamplerParams.greedy(), new int[0], true, 1, false, List.of());
            SpecHarness.with(lm, 2, 16, m -> {
                GenerationResult plain = SpecHarness.plain(m, lm, p, o, 200);
                for (SpecHarness.Source s : SpecHarness.Source.values()) {
                    try (SpeculativeDecoder d = SpecHarness.decoder(s.open(lm, m, 200), lm, 8, true)) {
                        assertSame(plain, SpecHarness.speculative(m, lm, d, 200).generate(p, o, TokenListener.NONE), "adaptive " + s);
                    }
                }
                return null;
            });
        }
    }
}
