package moge.server.sched;

import moge.generate.Step;
import moge.model.KvCache;
import moge.model.LoadedModel;
import moge.model.Model;
import moge.model.ModelLoader;
import moge.sample.SamplerParams;

import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The scheduler's own throughput, without HTTP: N sequences decoding together (not a test; run by hand):
 * {@code java -cp ... moge.server.sched.SchedulerBench MODEL_DIR THREADS TOKENS 1,4,16 [ROUNDS [PROMPT_TOKENS]]}.
 */
public final class SchedulerBench {
    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int threads = Integer.parseInt(args[1]);
        int tokens = Integer.parseInt(args[2]);
        try (LoadedModel lm = ModelLoader.load(dir); Model m = new Model(lm.config, lm.weights, threads, 256)) {
            int vocab = lm.config.vocabSize();
            int rounds = args.length > 4 ? Integer.parseInt(args[4]) : 3;
            int prompt = args.length > 5 ? Integer.parseInt(args[5]) : 32;
            run(lm, m, 1, 16, prompt, vocab); // warm-up
            String[] levels = args[3].split(",");
            double[][] rates = new double[levels.length][rounds];
            // interleaved rounds, medians: the machine is shared and its load drifts
            for (int round = 0; round < rounds; round++) {
                for (int i = 0; i < levels.length; i++) rates[i][round] = run(lm, m, Integer.parseInt(levels[i]), tokens, prompt, vocab);
            }
            double base = 0;
            for (int i = 0; i < levels.length; i++) {
                double[] r = rates[i].clone();
                java.util.Arrays.sort(r);
                double med = r[r.length / 2];
                if (i == 0) base = med;
                System.out.printf("concurrency %2s: median %7.1f tok/s aggregate (%.1f per stream, %.2fx), rounds %s%n", levels[i], med,
                        med / Integer.parseInt(levels[i]), med / base, java.util.Arrays.toString(java.util.Arrays.stream(rates[i])
                                .map(x -> Math.round(x)).toArray()));
            }
        }
    }

    static double run(LoadedModel lm, Model m, int n, int tokens, int prompt, int vocab) throws InterruptedException {
        KvCache cache = new KvCache(lm.config, n * 16 + 16, 16);
        AtomicLong generated = new AtomicLong();
        CountDownLatch done = new CountDownLatch(n);
        SequenceListener l = new SequenceListener() {
            @Override
            public void onToken(SequenceState s, int id, String text, Step step) {
                generated.incrementAndGet();
            }

            @Override
            public void onFinish(SequenceState s, String text, SequenceResult r) {
                done.countDown();
            }

            @Override
            public void onError(SequenceState s, RuntimeException e) {
                done.countDown();
            }
        };
        SplittableRandom r = new SplittableRandom(n);
        AtomicLong forwardNanos = new AtomicLong(), steps = new AtomicLong(), decodeNanos = new AtomicLong(), decodeSteps = new AtomicLong();
        try (Scheduler s = new Scheduler(m, cache, lm.tokenizer, new Scheduler.Config(n, 256, 256, n, false))) {
            s.setObserver(new SchedulerObserver() {
                @Override
                public void step(int tokens, int sequences, long nanos) {
                    forwardNanos.addAndGet(nanos);
                    steps.incrementAndGet();
                    if (tokens == sequences) {
                        decodeNanos.addAndGet(nanos);
                        decodeSteps.incrementAndGet();
                    }
                }
            });
            long t0 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                int[] p = new int[prompt];
                for (int j = 0; j < p.length; j++) p[j] = 20 + r.nextInt(vocab - 20);
                s.submit(p, new GenerationParams(tokens, SamplerParams.greedy(), new int[0], List.of(), true, -1, Long.MAX_VALUE, true), null, l);
            }
            done.await();
            long wall = System.nanoTime() - t0;
            if (n > 1 || tokens > 16) {
                System.out.printf("  n=%d: %d steps, forward %.1f ms/step, %.0f%% of wall time in the forward pass; %d decode-only steps"
                                + " %.1f ms each (%.1f tokens/s while all %d decode)%n", n, steps.get(), forwardNanos.get() / 1e6 / steps.get(),
                        100.0 * forwardNanos.get() / wall, decodeSteps.get(), decodeNanos.get() / 1e6 / Math.max(1, decodeSteps.get()),
                        n * 1e9 * decodeSteps.get() / Math.max(1, decodeNanos.get()), n);
            }
            return generated.get() / (wall / 1e9);
        }
    }
}
