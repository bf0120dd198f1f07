package moge.train;

import moge.format.DType;
import moge.format.HfCheckpointWriter;
import moge.model.Arch;
import moge.model.Batch;
import moge.model.KvCache;
import moge.model.KvSequence;
import moge.model.LoadedModel;
import moge.model.Model;
import moge.model.ModelConfig;
import moge.model.ModelLoader;
import moge.model.RouterKind;
import moge.tensor.Parallel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** The training forward and moge-core's inference Model give the same logits on the same weights. */
class InferenceAgreementTest {
    private static final Parallel TEAM = new Parallel(2);

    @TempDir
    Path tmp;

    @AfterAll
    static void close() {
        TEAM.close();
    }

    static ModelConfig config(String name) {
        return switch (name) {
            case "moge" -> new ModelConfig(Arch.PANGU_PRO_MOE, 211, 64, 3, 4, 2, 16, 0, 8, 4, 4, 24, 48, false,
                    new boolean[3], 1.6e7, 1e-5f, 256, false, true, true, false, RouterKind.MOGE);
            case "moge-dense-layer" -> GradientCheckTest.moe();
            case "moge-k1" -> GradientCheckTest.mogeK1();
            default -> new ModelConfig(Arch.PANGU_EMBEDDED, 157, 48, 2, 6, 2, 8, 72, 0, 0, 0, 0, 0, false,
                    new boolean[2], 4e6, 1e-5f, 256, true, true, true, false, null);
        };
    }

    @ParameterizedTest
    @ValueSource(strings = {"moge", "moge-dense-layer", "moge-k1", "embedded-tied"})
    void logitsMatchTheInferenceModel(String name) throws Exception {
        ModelConfig c = config(name);
        Params p = GradientCheckTest.randomParams(c, name.hashCode());
        Path dir = tmp.resolve(name);
        HfCheckpointWriter.write(dir, c, p, DType.F32, Long.MAX_VALUE, 1, 2, null);
        SplittableRandom r = new SplittableRandom(11);
        int[][] seqs = new int[3][];
        for (int s = 0; s < seqs.length; s++) {
            seqs[s] = new int[5 + 9 * s];
            for (int i = 0; i < seqs[s].length; i++) seqs[s][i] = r.nextInt(c.vocabSize());
        }
        TokenBatch b = TokenBatch.of(seqs, null);
        float[] train = new TrainModel(p, TEAM, 0, 64).logits(b).clone();
        int V = c.vocabSize();
        double worst = 0;
        try (LoadedModel lm = ModelLoader.load(dir); Model m = new Model(lm.config, lm.weights, 2, 32)) {
            for (int s = 0; s < seqs.length; s++) {
                KvSequence seq = KvCache.forContext(lm.config, 64, 1, 16).newSequence();
                Batch bb = new Batch(32);
                for (int i = 0; i < seqs[s].length; i++) bb.add(seqs[s][i], i, seq, true);
                float[] inf = m.forward(bb);
                for (int i = 0; i < seqs[s].length; i++) {
                    int row = b.seqStart[s] + i;
                    for (int v = 0; v < V; v++) worst = Math.max(worst, Math.abs(inf[i * V + v] - train[row * V + v]));
                }
            }
        }
        assertThat(worst).as(name).isLessThan(1e-4);
    }
}
