package moge.server.sched;

import moge.MogeException;
import moge.ServiceUnavailable;
import moge.generate.GenerationResult;
import moge.generate.Step;
import moge.model.ExpertExecutor;
import moge.model.KvCache;
import moge.model.KvType;
import moge.model.Model;
import moge.sample.SamplerParams;
import moge.server.TestEngines;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SchedulerTest {
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

    /** Collects one sequence's events. */
    static class Collect implements SequenceListener {
        final StringBuilder streamed = new StringBuilder();
        final List<Integer> ids = Collections.synchronizedList(new ArrayList<>());
        final List<Step> steps = Collections.synchronizedList(new ArrayList<>());
        volatile SequenceResult result;
        volatile RuntimeException error;
        final CountDownLatch done = new CountDownLatch(1);
        final CountDownLatch firstToken = new CountDownLatch(1);

        @Override
        public synchronized void onToken(SequenceState s, int id, String text, Step step) {
            ids.add(id);
            streamed.append(text);
            if (step != null) steps.add(step);
            firstToken.countDown();
        }

        @Override
        public synchronized void onFinish(SequenceState s, String text, SequenceResult r) {
            streamed.append(text);
            result = r;
            done.countDown();
        }

        @Override
        public void onError(SequenceState s, RuntimeException e) {
            error = e;
            done.countDown();
            firstToken.countDown();
        }

        Collect await() throws InterruptedException {
            assertThat(done.await(60, TimeUnit.SECONDS)).as("sequence finished").isTrue();
            return this;
        }
    }

    static Scheduler scheduler(int parallel, int context, int budget, int queue, int blocks, boolean prefix) {
        KvCache cache = new KvCache(ref.lm.config, blocks, 16);
        return new Scheduler(model, cache, ref.lm.tokenizer, new Scheduler.Config(parallel, context, budget, queue, prefix));
    }

    static int[] randomPrompt(SplittableRandom r, int len) {
        int[] p = new int[len];
        p[0] = 1;
        for (int i = 1; i < len; i++) p[i] = 20 + r.nextInt(vocab - 20);
        return p;
    }

    static GenerationParams greedy(int max) {
        return GenerationParams.greedy(max, ref.lm.tokenizer.eosIds());
    }

    /**
     * With a float16 cache (--kv-type f16) batching, chunked prompts and prefix caching still give each request
     * the ids it gets alone with the same cache type.
     */
    @Test
    void float16CacheBatchedEqualsAlone() throws Exception {
        SplittableRandom r = new SplittableRandom(11);
        int n = 6;
        int[] shared = randomPrompt(r, 40);
        int[][] prompts = new int[n][];
        for (int i = 0; i < n; i++) {
            int[] tail = randomPrompt(r, 2 + r.nextInt(30));
            prompts[i] = java.util.Arrays.copyOf(shared, shared.length + tail.length - 1);
            System.arraycopy(tail, 1, prompts[i], shared.length, tail.length - 1);
        }
        KvCache cache = new KvCache(ref.lm.config, 4 * 16, 16, KvType.F16);
        try (Scheduler s = new Scheduler(model, cache, ref.lm.tokenizer, new Scheduler.Config(3, 256, 24, 64, true))) {
            List<Collect> cs = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                Collect c = new Collect();
                s.submit(prompts[i], greedy(12), null, c);
                cs.add(c);
            }
            for (int i = 0; i < n; i++) {
                Collect c = cs.get(i).await();
                assertThat(c.error).isNull();
                assertThat(c.ids).as("request %d", i).containsExactly(boxed(ref.ids(prompts[i], 12, List.of(), KvType.F16).generatedIds()));
            }
        }
    }

    /** Many sequences of mixed lengths joining and leaving one batch, prompts split over steps: same ids as alone. */
    @Test
    void batchedGenerationEqualsEachRequestAlone() throws Exception {
        SplittableRandom r = new SplittableRandom(7);
        int n = 14;
        int[][] prompts = new int[n][];
        int[] max = new int[n];
        for (int i = 0; i < n; i++) {
            prompts[i] = randomPrompt(r, 3 + r.nextInt(90));
            max[i] = 1 + r.nextInt(24);
        }
        // a budget of 24 tokens per step forces prompts to be chunked and mixed with decode steps
        try (Scheduler s = scheduler(5, 256, 24, 64, 5 * 16, true)) {
            List<Collect> cs = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                Collect c = new Collect();
                s.submit(prompts[i], greedy(max[i]), null, c);
                cs.add(c);
                if (i % 3 == 0) Thread.sleep(3); // arrive while others run
            }
            for (int i = 0; i < n; i++) {
                Collect c = cs.get(i).await();
                GenerationResult alone = ref.ids(prompts[i], max[i], List.of());
                assertThat(c.error).isNull();
                assertThat(c.ids).as("request %d", i).containsExactly(boxed(alone.generatedIds()));
                assertThat(c.result.text()).isEqualTo(alone.text());
                assertThat(c.streamed.toString()).isEqualTo(alone.text());
                assertThat(c.result.finishReason()).isEqualTo(alone.finishReason());
                assertThat(c.result.completionTokens()).isEqualTo(alone.generatedIds().length);
                assertThat(c.result.promptTokens()).isEqualTo(prompts[i].length);
            }
            awaitIdle(s);
            assertThat(s.kvBlocksUsed()).isZero();
        }
    }

    @Test
    void sharedPrefixIsReusedAndChangesNothing() throws Exception {
        SplittableRandom r = new SplittableRandom(11);
        int[] system = randomPrompt(r, 70);
        try (Scheduler s = scheduler(2, 256, 64, 8, 64, true)) {
            for (int turn = 0; turn < 3; turn++) {
                int[] p = concat(system, randomPrompt(r, 5 + turn * 7));
                p[system.length] = 30 + turn;
                Collect c = new Collect();
                s.submit(p, greedy(6), null, c);
                c.await();
                GenerationResult alone = ref.ids(p, 6, List.of());
                assertThat(c.ids).containsExactly(boxed(alone.generatedIds()));
                // 70 shared tokens = 4 full blocks of 16 shared and 6 tokens copied from an earlier turn's fifth
                // block (the turns differ from token 70 on); the first request finds nothing
                assertThat(c.result.cachedTokens()).isEqualTo(turn == 0 ? 0 : 70);
            }
            assertThat(s.prefixHitTokens()).isEqualTo(140);
            awaitIdle(s);
            assertThat(s.kvBlocksUsed()).isZero();
            assertThat(s.kvBlocksCached()).isGreaterThanOrEqualTo(4);
        }
    }

    /** A prompt that is entirely cached still runs its last token (its logits choose the first output). */
    @Test
    void repeatedPromptOfWholeBlocksRunsItsLastToken() throws Exception {
        int[] p = randomPrompt(new SplittableRandom(3), 48);
        try (Scheduler s = scheduler(1, 128, 32, 4, 16, true)) {
            Collect a = new Collect(), b = new Collect();
            s.submit(p, greedy(5), null, a);
            a.await();
            s.submit(p, greedy(5), null, b);
            b.await();
            assertThat(b.ids).isEqualTo(a.ids);
            // two whole blocks shared, 15 tokens of the third copied: only the last token runs
            assertThat(b.result.cachedTokens()).isEqualTo(47);
            assertThat(b.result.promptProcessed()).isEqualTo(1);
        }
    }

    @Test
    void cancellingARunningRequestFreesItsBlocks() throws Exception {
        try (Scheduler s = scheduler(2, 4096, 64, 4, 512, false)) {
            Collect c = new Collect();
            GenerationParams p = new GenerationParams(4000, SamplerParams.greedy(), new int[0], List.of(), true, -1, Long.MAX_VALUE, true);
            SequenceState st = s.submit(randomPrompt(new SplittableRandom(5), 20), p, null, c);
            assertThat(c.firstToken.await(30, TimeUnit.SECONDS)).isTrue();
            s.cancel(st);
            c.await();
            assertThat(c.error).isInstanceOf(SchedulerException.Cancelled.class);
            awaitIdle(s);
            assertThat(s.kvBlocksUsed()).isZero();
            assertThat(c.ids.size()).isLessThan(4000);
        }
    }

    @Test
    void admissionWaitsForFreeBlocks() throws Exception {
        // room for one worst case (prompt 20 + 30 tokens = 4 blocks) at a time, though 3 slots are free
        try (Scheduler s = scheduler(3, 64, 64, 8, 5, false)) {
            AtomicInteger maxRunning = new AtomicInteger();
            List<Collect> cs = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                Collect c = new Collect() {
                    @Override
                    public synchronized void onToken(SequenceState st, int id, String text, Step step) {
                        maxRunning.accumulateAndGet(s.running(), Math::max);
                        super.onToken(st, id, text, step);
                    }
                };
                s.submit(randomPrompt(new SplittableRandom(i), 20), new GenerationParams(30, SamplerParams.greedy(), new int[0],
                        List.of(), true, -1, Long.MAX_VALUE, true), null, c);
                cs.add(c);
            }
            for (Collect c : cs) assertThat(c.await().result.completionTokens()).isEqualTo(30);
            assertThat(maxRunning.get()).isEqualTo(1);
        }
    }

    @Test
    void aFullQueueRejects() {
        try (Scheduler s = scheduler(1, 4096, 64, 1, 512, false)) {
            GenerationParams p = new GenerationParams(3000, SamplerParams.greedy(), new int[0], List.of(), true, -1, Long.MAX_VALUE, true);
            int[] prompt = randomPrompt(new SplittableRandom(1), 10);
            s.submit(prompt, p, null, new Collect());
            s.submit(prompt, p, null, new Collect());
            assertThatThrownBy(() -> s.submit(prompt, p, null, new Collect())).isInstanceOf(SchedulerException.QueueFull.class);
        }
    }

    @Test
    void theQueueFullMessageAgreesWithItsCount() {
        assertThat(new SchedulerException.QueueFull(1)).hasMessageContaining(" 1 request is already waiting;");
        assertThat(new SchedulerException.QueueFull(2)).hasMessageContaining(" 2 requests are already waiting;");
    }

    @Test
    void deadlinesEndRequests() throws Exception {
        try (Scheduler s = scheduler(1, 4096, 64, 4, 512, false)) {
            Collect c = new Collect();
            long soon = System.nanoTime() + Duration.ofMillis(300).toNanos();
            s.submit(randomPrompt(new SplittableRandom(2), 10),
                    new GenerationParams(4000, SamplerParams.greedy(), new int[0], List.of(), true, -1, soon, true), null, c);
            c.await();
            assertThat(c.result.finishReason()).isEqualTo("length");
            assertThat(c.result.completionTokens()).isBetween(1, 3999);
            Collect late = new Collect();
            s.submit(randomPrompt(new SplittableRandom(2), 10),
                    new GenerationParams(4, SamplerParams.greedy(), new int[0], List.of(), true, -1, System.nanoTime() - 1, true), null, late);
            late.await();
            assertThat(late.error).isInstanceOf(SchedulerException.Unavailable.class);
        }
    }

    /** The stop string ends the output before it, and no streamed piece ever shows a part of it. */
    @Test
    void stopStringsCutTheOutputAndAreNeverStreamed() throws Exception {
        int[] prompt = randomPrompt(new SplittableRandom(9), 12);
        GenerationResult free = ref.ids(prompt, 40, List.of());
        String text = free.text();
        assertThat(text.length()).isGreaterThan(12);
        String stop = text.substring(6, 10);
        int at = text.indexOf(stop);
        List<String> pieces = Collections.synchronizedList(new ArrayList<>());
        Collect c = new Collect() {
            @Override
            public synchronized void onToken(SequenceState st, int id, String t, Step step) {
                pieces.add(t);
                super.onToken(st, id, t, step);
            }
        };
        try (Scheduler s = scheduler(1, 256, 64, 4, 32, false)) {
            s.submit(prompt, new GenerationParams(40, SamplerParams.greedy(), ref.lm.tokenizer.eosIds(), List.of("zzzz", stop), false, -1,
                    Long.MAX_VALUE, true), null, c);
            c.await();
        }
        assertThat(c.result.finishReason()).isEqualTo("stop");
        assertThat(c.result.text()).isEqualTo(text.substring(0, at));
        assertThat(c.streamed.toString()).isEqualTo(text.substring(0, at));
        assertThat(String.join("", pieces)).doesNotContain(stop);
    }

    @Test
    void aPolicyCanForceTokensAndCountReasoning() throws Exception {
        int[] prompt = randomPrompt(new SplittableRandom(4), 10);
        List<Integer> seen = Collections.synchronizedList(new ArrayList<>());
        GenerationPolicy force = new GenerationPolicy() {
            @Override
            public int forceNext(SequenceState s) {
                return s.generated() == 1 ? 777 : -1;
            }

            @Override
            public void onToken(SequenceState s, int id) {
                seen.add(id);
                if (s.generated() <= 2) s.addReasoningTokens(1);
            }
        };
        Collect c = new Collect();
        try (Scheduler s = scheduler(1, 256, 64, 4, 32, false)) {
            s.submit(prompt, new GenerationParams(5, SamplerParams.greedy(), new int[0], List.of(), true, 2, Long.MAX_VALUE, true), force, c);
            c.await();
        }
        assertThat(c.ids.get(1)).isEqualTo(777);
        assertThat(seen).isEqualTo(c.ids);
        assertThat(c.result.reasoningTokens()).isEqualTo(2);
        // log-probabilities are still those of the model, also for the forced token
        assertThat(c.steps).hasSize(5);
        assertThat(c.steps.get(1).id()).isEqualTo(777);
        assertThat(c.steps.get(1).topIds()).hasSize(2);
    }

    /** An engine failure marked ServiceUnavailable reaches the listener as such; the scheduler keeps serving. */
    @Test
    void engineFailuresFailTheBatchAndTheSchedulerRecovers() throws Exception {
        class WorkerDown extends MogeException implements ServiceUnavailable {
            WorkerDown() {
                super("expert worker 1 is down");
            }
        }
        Model m = new Model(ref.lm.config, ref.lm.weights, 1, 64);
        ExpertExecutor good = m.expertExecutor();
        ExpertExecutor[] current = {null};
        m.setExpertExecutor(new ExpertExecutor() {
            @Override
            public void run(int layer, float[] xn, int tokens, int[] idx, float[] w, int k, float[] out) {
                if (current[0] == null) throw new WorkerDown();
                current[0].run(layer, xn, tokens, idx, w, k, out);
            }

            @Override
            public void close() {
            }
        });
        try (Scheduler s = new Scheduler(m, new KvCache(ref.lm.config, 32, 16), ref.lm.tokenizer, new Scheduler.Config(2, 256, 64, 4, true))) {
            int[] p = randomPrompt(new SplittableRandom(8), 40);
            Collect failed = new Collect();
            s.submit(p, greedy(4), null, failed);
            failed.await();
            assertThat(failed.error).isInstanceOf(ServiceUnavailable.class).hasMessageContaining("worker 1");
            awaitIdle(s);
            assertThat(s.kvBlocksUsed()).isZero();
            current[0] = good;
            Collect ok = new Collect();
            s.submit(p, greedy(4), null, ok);
            ok.await();
            assertThat(ok.ids).containsExactly(boxed(ref.ids(p, 4, List.of()).generatedIds()));
        } finally {
            m.close();
        }
    }

    @Test
    void shutdownLetsRunningRequestsFinishAndRejectsNewOnes() throws Exception {
        Scheduler s = scheduler(2, 256, 64, 4, 32, false);
        Collect c = new Collect();
        s.submit(randomPrompt(new SplittableRandom(6), 10), greedy(20), null, c);
        s.shutdown(Duration.ofSeconds(30));
        c.await();
        assertThat(c.error).isNull();
        assertThat(c.result.completionTokens()).isPositive();
        assertThatThrownBy(() -> s.submit(new int[]{1, 2}, greedy(2), null, new Collect()))
                .isInstanceOf(SchedulerException.Unavailable.class);
    }

    @Test
    void shutdownEndsWhatOutlivesTheGracePeriod() throws Exception {
        Scheduler s = scheduler(1, 4096, 64, 4, 512, false);
        Collect c = new Collect();
        s.submit(randomPrompt(new SplittableRandom(6), 10),
                new GenerationParams(4000, SamplerParams.greedy(), new int[0], List.of(), true, -1, Long.MAX_VALUE, true), null, c);
        assertThat(c.firstToken.await(30, TimeUnit.SECONDS)).isTrue();
        long t0 = System.nanoTime();
        s.shutdown(Duration.ofMillis(100));
        c.await();
        assertThat(System.nanoTime() - t0).isLessThan(Duration.ofSeconds(5).toNanos());
        assertThat(c.error).isInstanceOf(SchedulerException.Unavailable.class);
    }

    @Test
    void badRequestsAreRejectedAtSubmission() {
        try (Scheduler s = scheduler(1, 64, 64, 4, 8, false)) {
            assertThatThrownBy(() -> s.submit(new int[0], greedy(2), null, new Collect())).hasMessageContaining("empty");
            assertThatThrownBy(() -> s.submit(new int[60], greedy(10), null, new Collect())).hasMessageContaining("context of 64");
            assertThatThrownBy(() -> s.submit(new int[]{1, vocab}, greedy(1), null, new Collect())).hasMessageContaining("outside the vocabulary");
            assertThatThrownBy(() -> s.submit(new int[]{1}, greedy(0), null, new Collect())).hasMessageContaining(">= 1");
        }
    }

    static void awaitIdle(Scheduler s) throws InterruptedException {
        for (int i = 0; i < 500 && (s.running() > 0 || s.queued() > 0 || s.kvBlocksUsed() > 0); i++) Thread.sleep(10);
    }

    static Integer[] boxed(int[] a) {
        Integer[] b = new Integer[a.length];
        for (int i = 0; i < a.length; i++) b[i] = a[i];
        return b;
    }

    static int[] concat(int[] a, int[] b) {
        int[] c = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }
}
