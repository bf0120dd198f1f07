package moge.train.merge;

import moge.MogeException;
import moge.format.DType;
import moge.model.Arch;
import moge.model.ModelConfig;
import moge.model.RouterKind;
import moge.train.Checkpoints;
import moge.train.Params;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class CheckpointMergeTest {
    @TempDir
    Path tmp;

    static ModelConfig moe(int hidden, int experts) {
        return new ModelConfig(Arch.PANGU_PRO_MOE, 50, hidden, 2, 2, 1, hidden / 2, 0, experts, 2, 2, 8, 16, false,
                new boolean[2], 1.6e7, 1e-5f, 128, false, true, true, false, RouterKind.MOGE);
    }

    private Path model(String name, ModelConfig c, long seed, String tokenizerBytes) throws Exception {
        Params p = new Params(c);
        p.init(seed, 0.5);
        Path dir = tmp.resolve(name);
        Checkpoints.writeModel(dir, p, DType.F32, 1, 2, Map.of("router_aux_loss_coef", 0.01 * seed));
        Files.writeString(dir.resolve("tokenizer.model"), tokenizerBytes);
        return dir;
    }

    @Test
    void weightedAverageOfEveryTensor() throws Exception {
        Path a = model("a", moe(16, 4), 1, "tok"), b = model("b", moe(16, 4), 2, "tok"), c = model("c", moe(16, 4), 3, "tok");
        Path out = tmp.resolve("out");
        CheckpointMerge.merge(List.of(a, b, c), new double[]{1, 1, 2}, out, DType.F32);
        Params pa = Checkpoints.readModel(a), pb = Checkpoints.readModel(b), pc = Checkpoints.readModel(c), po = Checkpoints.readModel(out);
        for (Params.Tensor t : po.all()) {
            float[] x = pa.get(t.name).w, y = pb.get(t.name).w, z = pc.get(t.name).w;
            for (int i = 0; i < t.w.length; i++) {
                assertThat(t.w[i]).isCloseTo((float) (0.25 * x[i] + 0.25 * y[i] + 0.5 * z[i]), org.assertj.core.data.Offset.offset(1e-6f));
            }
        }
        assertThat(Files.readString(out.resolve("tokenizer.model"))).isEqualTo("tok");
    }

    @Test
    void equalWeightsByDefaultAndMergingAModelWithItselfIsIdentity() throws Exception {
        Path a = model("a", moe(16, 4), 1, "tok");
        Path copy = tmp.resolve("a2");
        Files.createDirectories(copy);
        try (var s = Files.list(a)) {
            for (Path f : s.toList()) Files.copy(f, copy.resolve(f.getFileName()));
        }
        Path out = tmp.resolve("same");
        CheckpointMerge.merge(List.of(a, copy), null, out, null);
        Params pa = Checkpoints.readModel(a), po = Checkpoints.readModel(out);
        for (Params.Tensor t : pa.all()) assertThat(po.get(t.name).w).containsExactly(t.w);
        assertThat(CheckpointMerge.weights(4, null)).containsExactly(0.25, 0.25, 0.25, 0.25);
    }

    @Test
    void refusesIncompatibleCheckpointsNamingTheMismatch() throws Exception {
        Path a = model("a", moe(16, 4), 1, "tok");
        Path wide = model("wide", moe(24, 4), 1, "tok");
        Path moreExperts = model("experts", moe(16, 8), 1, "tok");
        Path otherTok = model("othertok", moe(16, 4), 1, "other");
        Path out = tmp.resolve("o");
        assertThatThrownBy(() -> CheckpointMerge.merge(List.of(a, wide), null, out, null))
                .isInstanceOf(MogeException.class).hasMessageContaining("hidden_size").hasMessageContaining("16").hasMessageContaining("24");
        assertThatThrownBy(() -> CheckpointMerge.merge(List.of(a, moreExperts), null, out, null))
                .isInstanceOf(MogeException.class).hasMessageContaining("num_experts");
        assertThatThrownBy(() -> CheckpointMerge.merge(List.of(a, otherTok), null, out, null))
                .isInstanceOf(MogeException.class).hasMessageContaining("tokenizer.model differs");
        assertThatThrownBy(() -> CheckpointMerge.merge(List.of(a), null, out, null))
                .isInstanceOf(MogeException.class).hasMessageContaining("at least two");
        assertThatThrownBy(() -> CheckpointMerge.merge(List.of(a, tmp.resolve("nope")), null, out, null))
                .isInstanceOf(MogeException.class).hasMessageContaining("nope");
        assertThatThrownBy(() -> CheckpointMerge.merge(List.of(a, a), new double[]{1}, out, null))
                .isInstanceOf(MogeException.class).hasMessageContaining("1 weights for 2");
        assertThatThrownBy(() -> CheckpointMerge.merge(List.of(a, a), new double[]{1, -1}, out, null))
                .isInstanceOf(MogeException.class).hasMessageContaining(">= 0");
        assertThatThrownBy(() -> CheckpointMerge.merge(List.of(a, otherTok), null, a, null))
                .isInstanceOf(MogeException.class);
        // a tensor missing from one input
        Path broken = model("broken", moe(16, 4), 2, "tok");
        Files.delete(broken.resolve("model.safetensors"));
        assertThatThrownBy(() -> CheckpointMerge.merge(List.of(a, broken), null, out, null)).isInstanceOf(MogeException.class);
        assertThat(out).doesNotExist();
    }
}
