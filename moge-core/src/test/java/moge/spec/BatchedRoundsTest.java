package moge.spec;

import moge.Fixtures;
import moge.generate.GenerateOptions;
import moge.generate.Step;
import moge.model.Batch;
import moge.model.KvCache;
import moge.model.KvSequence;
import moge.model.LoadedModel;
import moge.model.Model;
import moge.model.ModelLoader;
import moge.sample.Sampler;
import moge.sample.SamplerParams;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The plan/apply halves of a round as a batching scheduler uses them: several sequences, each with its own
 * decoder, planned into one batch, one forward pass, each applying its own rows. Greedy output must be
 * each sequence's plain decoding.
 */
class BatchedRoundsTest {
    @Test
    void sequencesSharingPassesDecodeAsAlone() {
        try (LoadedModel lm = ModelLoader.load(Fixtures.model("pangu-moe-tiny")); Model m = new Model(lm.config, lm.weights, 2, 32)) {
            int vocab = lm.config.vocabSize(), n = 40, ctx = 128;
            int[][] prompts = {GreedyIdentityTest.prompt(vocab, 1, 14), GreedyIdentityTest.prompt(vocab, 2, 9), GreedyIdentityTest.prompt(vocab, 3, 20)};
            SpecHarness.Source[] sources = {SpecHarness.Source.NGRAM_1_3, SpecHarness.Source.SELF_EXACT, SpecHarness.Source.SELF_Q8_0};
            KvCache cache = KvCache.forContext(lm.config, ctx, prompts.length, 16);
            GenerateOptions o = GenerateOptions.greedy(n, new int[0]).withIgnoreEos(true);
            int S = prompts.length;
            SpeculativeDecoder[] dec = new SpeculativeDecoder[S];
            KvSequence[] seqs = new KvSequence[S];
            Sampler[] samplers = new Sampler[S];
            int[][] hist = new int[S][];
            int[] len = new int[S];
            Batch b = new Batch(32);
            try {
                for (int s = 0; s < S; s++) {
                    dec[s] = new SpeculativeDecoder(sources[s].open(lm, m, ctx), vocab, 1, 4, false);
                    seqs[s] = cache.newSequence();
                    samplers[s] = new Sampler(SamplerParams.greedy(), vocab);
                    hist[s] = Arrays.copyOf(prompts[s], prompts[s].length + n + 8);
                    b.clear();
                    for (int p = 0; p < prompts[s].length; p++) b.add(prompts[s][p], p, seqs[s], p == prompts[s].length - 1);
                    float[] logits = m.forward(b);
                    dec[s].begin(prompts[s]);
                    len[s] = prompts[s].length;
                    hist[s][len[s]++] = samplers[s].sample(logits, 0, hist[s], len[s] - 1);
                }
                int[] ids = new int[32];
                Step[] steps = new Step[32];
                while (minGenerated(len, prompts) < n) {
                    b.clear();
                    int[] first = new int[S], rows = new int[S];
                    boolean[] active = new boolean[S];
                    for (int s = 0; s < S; s++) {
                        active[s] = len[s] - prompts[s].length < n;
                        if (!active[s]) continue;
                        first[s] = b.outputs();
                        // Budget shared out: each sequence may use a third of the batch.
                        rows[s] = dec[s].plan(seqs[s], samplers[s], hist[s], len[s], 10, b);
                    }
                    float[] logits = m.forward(b);
                    for (int s = 0; s < S; s++) {
                        if (!active[s]) continue;
                        int got = dec[s].apply(logits, first[s], seqs[s], samplers[s], hist[s], len[s], 0, ids, steps);
                        assertThat(got).isBetween(1, rows[s]);
                        for (int i = 0; i < got; i++) hist[s][len[s]++] = ids[i];
                        assertThat(seqs[s].length()).isEqualTo(len[s] - 1);
                    }
                }
                for (int s = 0; s < S; s++) {
                    int[] plain = SpecHarness.plain(m, lm, prompts[s], o, ctx).generatedIds();
                    int[] spec = Arrays.copyOfRange(hist[s], prompts[s].length, prompts[s].length + n);
                    assertThat(spec).as("sequence " + s + " " + sources[s]).containsExactly(plain);
                    assertThat(dec[s].stats().drafted()).as("sequence " + s).isGreaterThan(0);
                }
            } finally {
                for (SpeculativeDecoder d : dec) if (d != null) d.close();
            }
        }
    }

    private static int minGenerated(int[] len, int[][] prompts) {
        int min = Integer.MAX_VALUE;
        for (int s = 0; s < len.length; s++) min = Math.min(min, len[s] - prompts[s].length);
        return min;
    }
}
