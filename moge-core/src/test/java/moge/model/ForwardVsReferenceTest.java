package moge.model;

import moge.format.DType;
import moge.format.HfCheckpoint;
import moge.format.HfConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The fast forward pass against the float64 reference on configurations the fixtures do not cover: odd
 * sizes, explicit head_dim, several experts per group, dense layers inside a MoE model, tied heads, every
 * dtype, both routers, prompts processed in uneven chunks, and long positions.
 */
class ForwardVsReferenceTest {
    @TempDir
    Path tmp;

    private static int[] randomTokens(int n, int vocab, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = r.nextInt(vocab);
        return t;
    }

    /** Max |log-softmax difference| over all positions and the whole vocabulary. */
    private static double compare(ModelConfig c, Path dir, int[] tokens, int chunk, int threads, RouterKind router) {
        try (HfCheckpoint ck = HfCheckpoint.open(dir)) {
            ModelConfig lc = HfConfig.read(ck.config(), dir.resolve("config.json"));
            if (router != null) lc = lc.withRouter(router);
            double[][] ref = new ReferenceModel(lc, ck).logits(tokens, router == null ? RouterKind.MOGE : router);
            Weights w = HfWeightLoader.load(ck, lc, null);
            double worst = 0;
            try (Model m = new Model(lc, w, threads, chunk)) {
                KvCache cache = KvCache.forContext(lc, tokens.length + 8, 1, 16);
                KvSequence seq = cache.newSequence();
                Batch b = new Batch(chunk);
                int V = lc.vocabSize();
                for (int s = 0; s < tokens.length; s += chunk) {
                    b.clear();
                    int e = Math.min(tokens.length, s + chunk);
                    for (int p = s; p < e; p++) b.add(tokens[p], p, seq, true);
                    float[] logits = m.forward(b);
                    for (int p = s; p < e; p++) {
                        double[] r = ref[p];
                        double lseR = lse(r), lseF = lseF(logits, (p - s) * V, V);
                        for (int v = 0; v < V; v++) {
                            worst = Math.max(worst, Math.abs((r[v] - lseR) - (logits[(p - s) * V + v] - lseF)));
                        }
                    }
                }
            }
            assertThat(c.vocabSize()).isEqualTo(lc.vocabSize());
            return worst;
        }
    }

    private static double lse(double[] x) {
        double m = Double.NEGATIVE_INFINITY, s = 0;
        for (double v : x) m = Math.max(m, v);
        for (double v : x) s += Math.exp(v - m);
        return m + Math.log(s);
    }

    private static double lseF(float[] x, int off, int n) {
        double m = Double.NEGATIVE_INFINITY, s = 0;
        for (int i = 0; i < n; i++) m = Math.max(m, x[off + i]);
        for (int i = 0; i < n; i++) s += Math.exp(x[off + i] - m);
        return m + Math.log(s);
    }

    @Test
    void mogeWithSeveralExpertsPerGroupAndDenseLayer() {
        boolean[] dense = {false, true, false};
        ModelConfig c = TestModels.moge(97, 72, 3, 3, 1, 24, 12, 6, 3, 20, 36, dense, 44, false, 1.6e7);
        Path dir = TestModels.write(tmp.resolve("a"), c, DType.F32, 1);
        int[] toks = randomTokens(23, c.vocabSize(), 7);
        assertThat(compare(c, dir, toks, 5, 2, null)).isLessThan(1e-3);
        assertThat(compare(c, dir, toks, 23, 1, RouterKind.TOPK)).isLessThan(1e-3);
    }

    @Test
    void mogeExplicitHeadDimTiedBf16() {
        ModelConfig c = TestModels.moge(61, 40, 2, 5, 5, 12, 8, 4, 4, 18, 0, null, 0, true, 1e4);
        Path dir = TestModels.write(tmp.resolve("b"), c, DType.BF16, 2);
        assertThat(compare(c, dir, randomTokens(17, c.vocabSize(), 3), 4, 2, null)).isLessThan(1e-3);
    }

    @Test
    void embeddedF16UntiedNoBias() {
        ModelConfig c = TestModels.embedded(131, 104, 2, 4, 2, 26, 70, false, 4e6, false);
        Path dir = TestModels.write(tmp.resolve("c"), c, DType.F16, 3);
        assertThat(compare(c, dir, randomTokens(19, c.vocabSize(), 4), 19, 2, null)).isLessThan(1e-3);
    }

    @Test
    void longPositions() {
        ModelConfig c = TestModels.embedded(53, 32, 1, 2, 1, 16, 24, true, 1e4, true);
        Path dir = TestModels.write(tmp.resolve("d"), c, DType.BF16, 4);
        assertThat(compare(c, dir, randomTokens(700, c.vocabSize(), 5), 64, 2, null)).isLessThan(1e-3);
    }

    /** A prompt long enough that its norms, residual adds, RoPE and transposes go to the thread team (Model.perToken). */
    @Test
    void longPromptInOneBatchOnTwoThreads() {
        ModelConfig c = TestModels.embedded(41, 256, 1, 4, 2, 64, 40, false, 1e4, true);
        int T = 1030;
        assertThat((long) T * c.hidden()).isGreaterThanOrEqualTo(moge.tensor.Parallel.INLINE_COST);
        Path dir = TestModels.write(tmp.resolve("e"), c, DType.F32, 5);
        assertThat(compare(c, dir, randomTokens(T, c.vocabSize(), 6), T, 2, null)).isLessThan(1e-3);
    }
}
