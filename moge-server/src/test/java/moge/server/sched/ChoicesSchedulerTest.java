package moge.server.sched;

import moge.generate.GenerationResult;
import moge.model.KvCache;
import moge.model.Model;
import moge.server.TestEngines;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;

import static moge.server.sched.SchedulerTest.Collect;
import static moge.server.sched.SchedulerTest.awaitIdle;
import static moge.server.sched.SchedulerTest.boxed;
import static moge.server.sched.SchedulerTest.randomPrompt;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The choices of one request ({@code n} > 1) as a group of sequences: queued together, the prompt computed once. */
class ChoicesSchedulerTest {
    static TestEngines.Reference ref;
    static Model model;

    @BeforeAll
    static void load() {
        ref = new TestEngines.Reference();
        SchedulerTest.vocab = ref.lm.config.vocabSize();
        model = new Model(ref.lm.config, ref.lm.weights, 2, 64);
    }

    @AfterAll
    static void close() {
        model.close();
        ref.close();
    }

    static Scheduler scheduler(int parallel, int queue, int blocks, boolean prefix) {
        return new Scheduler(model, new KvCache(ref.lm.config, blocks, 16), ref.lm.tokenizer,
                new Scheduler.Config(parallel, 256, 24, queue, prefix));
    }

    static GenerationParams greedy(int max) {
        return GenerationParams.greedy(max, ref.lm.tokenizer.eosIds());
    }

    static List<Collect> submit(Scheduler s, int[] prompt, int n, int max) {
        List<Collect> cs = new ArrayList<>();
        for (int i = 0; i < n; i++) cs.add(new Collect());
        s.submitAll(prompt, Collections.nCopies(n, greedy(max)), Collections.nCopies(n, GenerationPolicy.NONE), List.copyOf(cs));
        return cs;
    }

    /**
     * Three greedy choices of a 53-token prompt (three whole blocks of 16, prefilled over three steps of 24 tokens):
     * the first computes the prompt, the other two wait for it and adopt its three whole blocks (48 tokens; the
     * partial fourth is not registered, so its 5 tokens run again); all three give the ids of the prompt alone.
     * Admitted together, as before choices waited, the later two found nothing cached.
     */
    @Test
    void laterChoicesReuseTheFirstChoicesPromptBlocks() throws Exception {
        int[] p = randomPrompt(new SplittableRandom(5), 53);
        GenerationResult alone = ref.ids(p, 8, List.of());
        try (Scheduler s = scheduler(3, 8, 3 * 16, true)) {
            List<Collect> cs = submit(s, p, 3, 8);
            for (int i = 0; i < 3; i++) {
                Collect c = cs.get(i).await();
                assertThat(c.error).isNull();
                assertThat(c.ids).as("choice %d", i).containsExactly(boxed(alone.generatedIds()));
                assertThat(c.result.cachedTokens()).as("choice %d cached", i).isEqualTo(i == 0 ? 0 : 48);
            }
            assertThat(s.prefixHitTokens()).isEqualTo(2 * 48);
            awaitIdle(s);
            assertThat(s.kvBlocksUsed()).isZero();
        }
    }

    /** Without a prefix cache nothing is shared and no choice waits for another. */
    @Test
    void withoutThePrefixCacheEveryChoiceComputesThePrompt() throws Exception {
        int[] p = randomPrompt(new SplittableRandom(6), 40);
        GenerationResult alone = ref.ids(p, 5, List.of());
        try (Scheduler s = scheduler(2, 8, 2 * 16, false)) {
            for (Collect c : submit(s, p, 2, 5)) {
                c.await();
                assertThat(c.ids).containsExactly(boxed(alone.generatedIds()));
                assertThat(c.result.cachedTokens()).isZero();
            }
        }
    }

    /** All choices are queued or none: a request that does not fit is refused whole, and leaves nothing behind. */
    @Test
    void aGroupThatDoesNotFitTheQueueIsRefusedWhole() throws Exception {
        int[] p = randomPrompt(new SplittableRandom(7), 10);
        try (Scheduler s = scheduler(2, 1, 4 * 16, true)) {
            // two free slots and one queue place: three fit, four do not
            assertThatThrownBy(() -> submit(s, p, 4, 3)).isInstanceOf(SchedulerException.QueueFull.class);
            assertThat(s.queued()).isZero();
            for (Collect c : submit(s, p, 3, 3)) assertThat(c.await().error).isNull();
        }
    }

    /** A first choice that leaves before it is admitted (cancelled) does not hold the others back. */
    @Test
    void laterChoicesRunWhenTheFirstIsCancelledInTheQueue() throws Exception {
        SplittableRandom r = new SplittableRandom(8);
        int[] busy = randomPrompt(r, 20), p = randomPrompt(r, 30);
        try (Scheduler s = scheduler(1, 8, 4 * 16, true)) {
            Collect blocker = new Collect();
            s.submit(busy, greedy(30), null, blocker);
            blocker.firstToken.await();
            List<Collect> group = new ArrayList<>(List.of(new Collect(), new Collect()));
            List<SequenceState> seqs = s.submitAll(p, List.of(greedy(4), greedy(4)), List.of(GenerationPolicy.NONE, GenerationPolicy.NONE),
                    List.copyOf(group));
            s.cancel(seqs.getFirst());
            assertThat(group.get(0).await().error).isInstanceOf(SchedulerException.Cancelled.class);
            Collect second = group.get(1).await();
            assertThat(second.error).isNull();
            assertThat(second.ids).containsExactly(boxed(ref.ids(p, 4, List.of()).generatedIds()));
            blocker.await();
        }
    }
}
