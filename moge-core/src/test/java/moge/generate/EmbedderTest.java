package moge.generate;

import moge.MogeException;
import moge.format.DType;
import moge.format.HfCheckpoint;
import moge.format.HfConfig;
import moge.model.Batch;
import moge.model.HfWeightLoader;
import moge.model.KvSequence;
import moge.model.Model;
import moge.model.ModelConfig;
import moge.model.TestModels;
import moge.model.Weights;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * Embeddings: the hidden states {@link Model#hidden} gives are the ones the head reads (the head applied to them
 * gives forward's logits), pooling takes the positions it says, whatever the batch size the prompt runs in, and
 * the result has unit length. On a small MoGE model (dense and expert layers) and a dense one of awkward sizes.
 */
class EmbedderTest {
    @TempDir
    static Path tmp;
    static ModelConfig moe, dense;
    static Weights moeWeights, denseWeights;

    @BeforeAll
    static void models() {
        moe = TestModels.moge(97, 64, 2, 4, 2, 16, 8, 4, 2, 24, 32, new boolean[]{true, false}, 40, false, 1e4);
        moeWeights = load(moe, "moe", 5);
        dense = TestModels.embedded(83, 48, 2, 3, 1, 16, 70, true, 1e4, true);
        denseWeights = load(dense, "dense", 6);
    }

    static Weights load(ModelConfig c, String name, long seed) {
        Path dir = TestModels.write(tmp.resolve(name), c, DType.F32, seed);
        HfCheckpoint ck = HfCheckpoint.open(dir);
        return HfWeightLoader.load(ck, HfConfig.read(ck.config(), dir.resolve("config.json")), null);
    }

    static int[] prompt(int n, int vocab, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = r.nextInt(vocab);
        return ids;
    }

    /** Every position's final hidden state, from one batch. */
    static float[] states(ModelConfig c, Weights w, int[] ids) {
        try (Model m = new Model(c, w, 2, 64)) {
            KvSequence seq = m.newCache(64, 1).newSequence();
            Batch b = new Batch(64);
            for (int i = 0; i < ids.length; i++) b.add(ids[i], i, seq, false);
            float[] out = new float[ids.length * c.hidden()];
            m.hidden(b, out);
            return out;
        }
    }

    @Test
    void theHeadOfTheHiddenStatesIsForwardsLogits() {
        for (var cw : new Object[][]{{moe, moeWeights}, {dense, denseWeights}}) {
            ModelConfig c = (ModelConfig) cw[0];
            Weights w = (Weights) cw[1];
            int[] ids = prompt(11, c.vocabSize(), 1);
            float[] h = states(c, w, ids);
            float[] logits;
            try (Model m = new Model(c, w, 2, 64)) {
                KvSequence seq = m.newCache(64, 1).newSequence();
                Batch b = new Batch(64);
                for (int i = 0; i < ids.length; i++) b.add(ids[i], i, seq, i == ids.length - 1);
                logits = m.forward(b).clone();
            }
            int H = c.hidden();
            float[] row = new float[H];
            for (int v = 0; v < c.vocabSize(); v++) {
                w.lmHead.row(v, row, 0);
                double dot = 0;
                for (int j = 0; j < H; j++) dot += (double) row[j] * h[(ids.length - 1) * H + j];
                assertThat(logits[v]).as("logit %d", v).isCloseTo((float) dot, within(1e-3f + 1e-4f * Math.abs(logits[v])));
            }
        }
    }

    @Test
    void poolingTakesItsPositionsWhateverTheBatchSize() {
        int[] ids = prompt(23, moe.vocabSize(), 2);
        float[] h = states(moe, moeWeights, ids);
        int H = moe.hidden();
        for (Embedder.Pooling p : Embedder.Pooling.values()) {
            double[] want = new double[H];
            for (int t = 0; t < ids.length; t++) {
                boolean take = p == Embedder.Pooling.MEAN || (p == Embedder.Pooling.CLS && t == 0) || (p == Embedder.Pooling.LAST && t == ids.length - 1);
                if (take) for (int j = 0; j < H; j++) want[j] += h[t * H + j];
            }
            float[] expected = Embedder.unit(want);
            // batches of 5 tokens: the prompt runs in five passes against the cache
            for (int batch : new int[]{5, 64}) {
                try (Embedder e = new Embedder(new Model(moe, moeWeights, 2, batch), 64, p)) {
                    float[] got = e.embed(ids);
                    double norm = 0;
                    for (int j = 0; j < H; j++) {
                        assertThat(got[j]).as("%s, batch %d, dim %d", p, batch, j).isCloseTo(expected[j], within(2e-5f));
                        norm += (double) got[j] * got[j];
                    }
                    assertThat(norm).isCloseTo(1.0, within(1e-5));
                    // the cache is left empty: a second call gives the same
                    assertThat(e.embed(ids)).containsExactly(got);
                }
            }
        }
    }

    @Test
    void differentTextsGetDifferentVectorsAndBadInputIsRefused() {
        try (Embedder e = new Embedder(new Model(dense, denseWeights, 1, 16), 32, Embedder.Pooling.LAST)) {
            float[] a = e.embed(prompt(9, dense.vocabSize(), 3)), b = e.embed(prompt(9, dense.vocabSize(), 4));
            assertThat(a).isNotEqualTo(b);
            assertThat(e.dimensions()).isEqualTo(dense.hidden());
            assertThatThrownBy(() -> e.embed(new int[0])).isInstanceOf(MogeException.class).hasMessageContaining("no tokens");
            assertThatThrownBy(() -> e.embed(new int[33])).isInstanceOf(MogeException.class).hasMessageContaining("context of 32");
        }
        assertThat(Embedder.Pooling.parse(" Last ")).isEqualTo(Embedder.Pooling.LAST);
        assertThatThrownBy(() -> Embedder.Pooling.parse("max")).hasMessageContaining("mean, cls or last");
        assertThat(Embedder.Pooling.fromGguf(3)).isEqualTo(Embedder.Pooling.LAST);
        assertThat(Embedder.Pooling.fromGguf(0)).isNull();
    }
}
