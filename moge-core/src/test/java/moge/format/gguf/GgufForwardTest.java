package moge.format.gguf;

import moge.format.DType;
import moge.model.Arch;
import moge.model.Batch;
import moge.model.KvCache;
import moge.model.KvSequence;
import moge.model.LoadedModel;
import moge.model.Model;
import moge.model.ModelConfig;
import moge.model.ModelLoader;
import moge.model.ReferenceModel;
import moge.model.RopeStyle;
import moge.model.RouterKind;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every GGUF architecture, written with random weights and loaded through ModelLoader, against the float64
 * reference reading the same file: NeoX and interleaved RoPE, q/k norms, biases, MoGE and renormalised
 * top-k routers, shared experts, stacked expert tensors, tied and untied heads.
 */
class GgufForwardTest {
    @TempDir
    Path tmp;

    static Stream<Arguments> models() {
        TestGguf.Vocab v = TestGguf.vocab(40, "qwen2");
        int V = v.size();
        return Stream.of(
                Arguments.of("pangu-embedded", TestGguf.config(Arch.PANGU_EMBEDDED, V, 48, 2, 3, 1, 16, 40, 0, 0, 0, 0, 0, false)),
                Arguments.of("pangu-embedded tied", TestGguf.config(Arch.PANGU_EMBEDDED, V, 32, 1, 2, 2, 16, 24, 0, 0, 0, 0, 0, true)),
                Arguments.of("qwen3 explicit head_dim", TestGguf.config(Arch.QWEN3, V, 40, 2, 4, 2, 12, 56, 0, 0, 0, 0, 0, false)),
                Arguments.of("qwen3moe", TestGguf.config(Arch.QWEN3_MOE, V, 36, 2, 2, 1, 18, 0, 6, 3, 1, 20, 0, false)),
                Arguments.of("llama", TestGguf.config(Arch.LLAMA, V, 32, 2, 4, 2, 8, 24, 0, 0, 0, 0, 0, false)),
                Arguments.of("llama moe", TestGguf.config(Arch.LLAMA, V, 32, 1, 4, 4, 8, 0, 4, 2, 1, 12, 0, true)),
                Arguments.of("pangu-pro-moe", TestGguf.config(Arch.PANGU_PRO_MOE, V, 40, 2, 2, 2, 20, 0, 8, 4, 2, 16, 24, false)),
                Arguments.of("pangu-pro-moe dense layer, no shared expert, no o bias", new ModelConfig(Arch.PANGU_PRO_MOE, V, 32, 2, 2, 1, 16,
                        40, 4, 2, 2, 16, 0, false, new boolean[]{false, true}, 5e5, 1e-6f, 4096, true, true, false, false,
                        RouterKind.MOGE, RopeStyle.NEOX)),
                Arguments.of("llama q/k/v biases", new ModelConfig(Arch.LLAMA, V, 32, 1, 2, 2, 16, 24, 0, 0, 0, 0, 0, false,
                        new boolean[1], 1e4, 1e-5f, 4096, false, true, false, false, null, RopeStyle.INTERLEAVED)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void matchesReference(String label, ModelConfig c) {
        check(label, c, DType.F32);
    }

    /** Q8_0 matrices (F16 where rows are not whole blocks) against the reference on the dequantized weights. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void quantizedMatchesReference(String label, ModelConfig c) {
        check(label, c, DType.Q8_0);
    }

    private void check(String label, ModelConfig c, DType type) {
        TestGguf.Vocab v = TestGguf.vocab(40, "qwen2");
        Path file = TestGguf.write(tmp.resolve("m.gguf"), c, type, 11, v);
        int[] tokens = new SplittableRandom(5).ints(13, 0, c.vocabSize()).toArray();
        LoadedModel loaded;
        try {
            loaded = ModelLoader.load(file);
        } catch (moge.MogeException e) {
            org.junit.jupiter.api.Assumptions.assumeTrue(type == DType.F32, "no kernels for " + type + ": " + e.getMessage());
            throw e;
        }
        try (LoadedModel lm = loaded) {
            ModelConfig lc = lm.config;
            assertThat(lc.ropeStyle()).isEqualTo(c.arch() == Arch.LLAMA ? RopeStyle.INTERLEAVED : RopeStyle.NEOX);
            assertThat(lc.qkNorm()).isEqualTo(c.qkNorm());
            assertThat(lc.normTopkProb()).isEqualTo(c.normTopkProb());
            assertThat(lc.tiedEmbeddings()).isEqualTo(c.tiedEmbeddings());
            assertThat(lc.headDim()).isEqualTo(c.headDim());
            assertThat(lc.expertGroups()).isEqualTo(c.expertGroups());
            assertThat(lc.qkvBias()).isEqualTo(c.qkvBias());
            assertThat(lc.oBias()).isEqualTo(c.oBias());
            assertThat(lc.sharedIntermediate()).isEqualTo(c.sharedIntermediate());
            for (int l = 0; l < c.layers(); l++) assertThat(lc.isMoe(l)).as("layer %d is MoE", l).isEqualTo(c.isMoe(l));
            assertThat(lm.tokenizer).isNotNull();
            try (GgufFile f = GgufFile.open(file)) {
                RouterKind router = lc.hasExperts() ? lc.router() : RouterKind.MOGE;
                // Q8_0 products multiply integer activations (Q8Ints): the reference rounds their inputs the same way
                TestGguf.HfView view = TestGguf.hfView(f, c);
                double[][] ref = new ReferenceModel(c, view, (name, x) -> view.type(name) == DType.Q8_0 ? q8IntGrid(x) : x).logits(tokens, router);
                double w = worst(lm, tokens, ref, 5);
                if (type != DType.F32) System.out.printf("GGUF %s %s: max |d log-softmax| vs reference %.2e%n", label, type, w);
                assertThat(w).as(label + " " + type).isLessThan(1e-3);
            }
        }
    }

    /** x (rounded to float, as the engine holds it) on the integer grid of Q8_0's products. */
    static double[] q8IntGrid(double[] x) {
        float[] f = new float[x.length];
        for (int i = 0; i < x.length; i++) f[i] = (float) x[i];
        float[] g = new moge.tensor.Activations().set(f, 1, f.length).q8IntGrid();
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) out[i] = g[i];
        return out;
    }

    /** Max |log-softmax difference| over all positions and the vocabulary, the prompt run in chunks. */
    static double worst(LoadedModel lm, int[] tokens, double[][] ref, int chunk) {
        ModelConfig c = lm.config;
        double worst = 0;
        try (Model m = new Model(c, lm.weights, 2, chunk)) {
            KvCache cache = KvCache.forContext(c, tokens.length + 8, 1, 16);
            KvSequence seq = cache.newSequence();
            Batch b = new Batch(chunk);
            int V = c.vocabSize();
            for (int s = 0; s < tokens.length; s += chunk) {
                b.clear();
                int e = Math.min(tokens.length, s + chunk);
                for (int p = s; p < e; p++) b.add(tokens[p], p, seq, true);
                float[] logits = m.forward(b);
                for (int p = s; p < e; p++) {
                    double lseR = lse(ref[p], 0, V), lseF = lseF(logits, (p - s) * V, V);
                    for (int i = 0; i < V; i++) worst = Math.max(worst, Math.abs((ref[p][i] - lseR) - (logits[(p - s) * V + i] - lseF)));
                }
            }
        }
        return worst;
    }

    static double lse(double[] x, int off, int n) {
        double m = Double.NEGATIVE_INFINITY, s = 0;
        for (int i = 0; i < n; i++) m = Math.max(m, x[off + i]);
        for (int i = 0; i < n; i++) s += Math.exp(x[off + i] - m);
        return m + Math.log(s);
    }

    static double lseF(float[] x, int off, int n) {
        double m = Double.NEGATIVE_INFINITY, s = 0;
        for (int i = 0; i < n; i++) m = Math.max(m, x[off + i]);
        for (int i = 0; i < n; i++) s += Math.exp(x[off + i] - m);
        return m + Math.log(s);
    }
}
