package moge.server.sched;

import moge.generate.GenerationResult;
import moge.model.KvCache;
import moge.model.Model;
import moge.sample.SamplerParams;
import moge.server.TestEngines;
import moge.spec.SpecConfig;
import moge.spec.SpeculativeDecoders;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static moge.server.sched.SchedulerTest.Collect;
import static moge.server.sched.SchedulerTest.awaitIdle;
import static moge.server.sched.SchedulerTest.boxed;
import static moge.server.sched.SchedulerTest.concat;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Speculative decoding in the batching scheduler: greedy output is each request's plain output alone, for
 * n-gram lookup and draft models, alone and several at a time; opt-outs and forcing policies decode plainly;
 * every KV block (target and draft) comes back.
 */
class SpeculativeSchedulerTest {
    static TestEngines.Reference ref;
    static Model model;
    static int vocab;

    @BeforeAll
    static void load() {
        ref = new TestEngines.Reference();
        model = new Model(ref.lm.config, ref.lm.weights, 2, 64);
        vocab = ref.lm.config.vocabSize();
    }

    @AfterAll
    static void close() {
        model.close();
        ref.close();
    }

    /** A scheduler with speculation for every sequence that may. */
    record Setup(Scheduler scheduler, SpeculativeStrategy strategy) implements AutoCloseable {
        @Override
        public void close() {
            scheduler.close();
            strategy.close();
        }
    }

    static Setup setup(SpecConfig c, int parallel, int maxSpeculating, boolean prefix) {
        int context = 256;
        KvCache cache = KvCache.forContext(ref.lm.config, context, parallel, 16);
        Scheduler s = new Scheduler(model, cache, ref.lm.tokenizer, new Scheduler.Config(parallel, context, 64, 16, prefix));
        SpeculativeStrategy st = new SpeculativeStrategy(SpeculativeDecoders.open(c, ref.lm, model, context, parallel),
                s::decodingSequences, maxSpeculating);
        s.setDecodeStrategies(st::choose);
        return new Setup(s, st);
    }

    /** Random text said three times: prompt lookup finds the continuation, and the tiny model loops anyway. */
    static int[] copyPrompt(long seed, int len) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] once = new int[len];
        for (int i = 0; i < len; i++) once[i] = 20 + r.nextInt(vocab - 20);
        int[] p = concat(new int[]{1}, concat(once, concat(once, once)));
        return p;
    }

    static GenerationParams greedy(int max) {
        return GenerationParams.greedy(max, ref.lm.tokenizer.eosIds());
    }

    static Collect run(Scheduler s, int[] prompt, GenerationParams p, GenerationPolicy policy) throws InterruptedException {
        Collect c = new Collect();
        s.submit(prompt, p, policy, c);
        return c.await();
    }

    static void assertPlain(Collect c, int[] prompt, int max, List<String> stop) {
        GenerationResult alone = ref.ids(prompt, max, stop);
        assertThat(c.error).isNull();
        assertThat(c.ids).containsExactly(boxed(alone.generatedIds()));
        assertThat(c.result.text()).isEqualTo(alone.text());
        assertThat(c.streamed.toString()).isEqualTo(alone.text());
        assertThat(c.result.finishReason()).isEqualTo(alone.finishReason());
    }

    static void assertAllReturned(Setup st) throws InterruptedException {
        awaitIdle(st.scheduler());
        assertThat(st.scheduler().kvBlocksUsed()).isZero();
        assertThat(st.strategy().activeSequences()).isZero();
        assertThat(st.strategy().decoders().draftBlocksUsed()).isZero();
    }

    @Test
    void ngramGivesThePlainGreedyOutput() throws Exception {
        try (Setup st = setup(SpecConfig.ngram().withNgram(1, 4).withAdaptive(false).withDraft(1, 6), 1, 4, true)) {
            for (int i = 0; i < 3; i++) {
                int[] p = copyPrompt(i, 7 + 5 * i);
                Collect c = run(st.scheduler(), p, greedy(48), null);
                assertPlain(c, p, 48, List.of());
                assertThat(c.result.draftN()).as("drafted").isPositive();
                assertThat(c.result.draftAccepted()).isBetween(0, c.result.draftN());
            }
            assertThat(st.strategy().draftedTokens()).isPositive();
            assertThat(st.strategy().acceptedTokens()).as("a looping model is predictable").isPositive();
            assertThat(st.strategy().passes()).isPositive();
            assertAllReturned(st);
        }
    }

    @Test
    void aDraftModelAndAQuantizedSelfCopyGiveThePlainGreedyOutput() throws Exception {
        // the target as its own draft agrees with itself on every proposal
        try (Setup st = setup(SpecConfig.draft(TestEngines.TINY.toString()).withAdaptive(false).withDraft(1, 4), 1, 4, true)) {
            int[] p = copyPrompt(5, 9);
            Collect c = run(st.scheduler(), p, greedy(40), null);
            assertPlain(c, p, 40, List.of());
            assertThat(c.result.draftN()).isPositive();
            assertThat(c.result.draftAccepted()).isEqualTo(c.result.draftN());
            assertAllReturned(st);
        }
        try (Setup st = setup(SpecConfig.draft("self:q8_0").withDraft(1, 3), 2, 4, true)) {
            for (int i = 0; i < 2; i++) {
                int[] p = copyPrompt(20 + i, 11);
                assertPlain(run(st.scheduler(), p, greedy(32), null), p, 32, List.of());
            }
            assertAllReturned(st);
        }
    }

    /**
     * Sequences joining and leaving one batch, prompts chunked, some above the speculating limit (with the
     * draft model): each as alone. Prompt lookup proposes only where the tiny model's output repeats, so it may
     * speculate with all four sequences: whether the few steps with fewer decoding sequences find a repeat
     * would depend on timing.
     */
    @Test
    void concurrentSpeculatingSequencesEachGiveTheirOwnOutput() throws Exception {
        for (SpecConfig c : new SpecConfig[]{SpecConfig.ngram().withNgram(1, 3).withAdaptive(false),
                SpecConfig.draft("self:q8_0").withAdaptive(false).withDraft(1, 3)}) {
            int maxSpeculating = c.mode() == SpecConfig.Mode.NGRAM ? 4 : 3;
            try (Setup st = setup(c, 4, maxSpeculating, true)) {
                SplittableRandom r = new SplittableRandom(3);
                int n = 7;
                int[][] prompts = new int[n][];
                int[] max = new int[n];
                List<Collect> cs = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    prompts[i] = copyPrompt(100 + i, 3 + r.nextInt(20));
                    max[i] = 1 + r.nextInt(40);
                    Collect col = new Collect();
                    st.scheduler().submit(prompts[i], greedy(max[i]), null, col);
                    cs.add(col);
                    if (i % 2 == 0) Thread.sleep(2);
                }
                for (int i = 0; i < n; i++) assertPlain(cs.get(i).await(), prompts[i], max[i], List.of());
                assertThat(st.strategy().draftedTokens()).as(c.toString()).isPositive();
                assertAllReturned(st);
            }
        }
    }

    @Test
    void optOutAndForcingPoliciesDecodePlainly() throws Exception {
        try (Setup st = setup(SpecConfig.ngram().withNgram(1, 4).withAdaptive(false), 1, 4, false)) {
            int[] p = copyPrompt(8, 8);
            GenerationParams out = new GenerationParams(30, SamplerParams.greedy(), ref.lm.tokenizer.eosIds(), List.of(), false, -1,
                    Long.MAX_VALUE, false);
            Collect c = run(st.scheduler(), p, out, null);
            assertPlain(c, p, 30, List.of());
            assertThat(c.result.draftN()).isZero();
            assertThat(st.strategy().draftedTokens()).isZero();
            // a policy that may force tokens (but here never does) keeps the sequence on single steps
            GenerationPolicy mayForce = new GenerationPolicy() {
            };
            c = run(st.scheduler(), p, greedy(30), mayForce);
            assertPlain(c, p, 30, List.of());
            assertThat(c.result.draftN()).isZero();
            // one that promises never to force speculates
            GenerationPolicy watching = new GenerationPolicy() {
                @Override
                public boolean mayForce() {
                    return false;
                }
            };
            c = run(st.scheduler(), p, greedy(30), watching);
            assertPlain(c, p, 30, List.of());
            assertThat(c.result.draftN()).isPositive();
        }
    }

    /** Sampling speculates too (speculative sampling, moge.spec); with a seed the answer is reproducible. */
    @Test
    void sampledRequestsSpeculateAndRepeatWithTheirSeed() throws Exception {
        try (Setup st = setup(SpecConfig.draft("self:q8_0").withAdaptive(false).withDraft(1, 3), 1, 4, false)) {
            int[] p = copyPrompt(30, 9);
            SamplerParams sp = new SamplerParams(0.9f, 20, 0.95f, 0f, 1f, 64, 0f, 0f, 42L);
            GenerationParams gp = new GenerationParams(30, sp, new int[0], List.of(), true, 1, Long.MAX_VALUE, true);
            Collect a = run(st.scheduler(), p, gp, null), b = run(st.scheduler(), p, gp, null);
            assertThat(a.error).isNull();
            assertThat(a.ids).hasSize(30).isEqualTo(b.ids);
            assertThat(a.steps).hasSize(30);
            assertThat(a.result.draftN()).isPositive();
            assertAllReturned(st);
        }
    }

    /**
     * A stop string inside a verified run ends the sequence there; the keys past it must not reach the
     * prefix cache, so a follow-up prompt continuing the answer is still computed right.
     */
    @Test
    void stoppingMidRoundKeepsThePrefixCacheRight() throws Exception {
        int[] p = copyPrompt(12, 10);
        String text = ref.ids(p, 60, List.of()).text();
        assertThat(text.length()).isGreaterThan(30);
        String stop = text.substring(25, 28);
        try (Setup st = setup(SpecConfig.ngram().withNgram(1, 4).withAdaptive(false).withDraft(8, 8), 1, 4, true)) {
            GenerationParams gp = new GenerationParams(60, SamplerParams.greedy(), ref.lm.tokenizer.eosIds(), List.of(stop), false, -1,
                    Long.MAX_VALUE, true);
            Collect a = run(st.scheduler(), p, gp, null);
            assertPlain(a, p, 60, List.of(stop));
            int[] follow = concat(concat(p, a.result.generatedIds()), new int[]{40, 41, 42});
            Collect b = run(st.scheduler(), follow, greedy(20), null);
            assertPlain(b, follow, 20, List.of());
            assertThat(b.result.cachedTokens()).isPositive();
            assertAllReturned(st);
        }
    }
}
