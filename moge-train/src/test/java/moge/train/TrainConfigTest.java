package moge.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.MogeException;
import moge.model.Arch;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TrainConfigTest {
    @Test
    void presetsParse() {
        for (String p : TrainConfig.PRESETS) {
            TrainConfig c = TrainConfig.parse(TrainConfig.preset(p), p);
            assertThat(c.totalSteps()).isPositive();
            assertThat(c.model().vocabSize()).isEqualTo(768);
        }
        TrainConfig demo = TrainConfig.parse(TrainConfig.preset("demo"), "demo");
        assertThat(demo.model().arch()).isEqualTo(Arch.PANGU_PRO_MOE);
        assertThat(demo.model().expertGroups()).isEqualTo(demo.model().expertsPerTok());
        assertThat(TrainConfig.parse(TrainConfig.preset("draft"), "draft").model().arch()).isEqualTo(Arch.PANGU_EMBEDDED);
        assertThatThrownBy(() -> TrainConfig.preset("huge")).isInstanceOf(MogeException.class).hasMessageContaining("demo");
    }

    @Test
    void overridesMergeKeyByKeyAndStepsScale() throws Exception {
        ObjectNode over = (ObjectNode) new ObjectMapper().readTree("{\"model\": {\"hidden_size\": 64}, \"train\": {\"seed\": 7}}");
        TrainConfig c = TrainConfig.parse(TrainConfig.merge(TrainConfig.preset("demo"), over), "x");
        assertThat(c.model().hidden()).isEqualTo(64);
        assertThat(c.model().layers()).isEqualTo(4);
        assertThat(c.settings().seed()).isEqualTo(7);
        TrainConfig half = c.withTotalSteps(c.totalSteps() / 2);
        assertThat(half.totalSteps()).isEqualTo(c.totalSteps() / 2);
        for (int total = 4; total <= 300; total++) {
            TrainConfig t = c.withTotalSteps(total);
            assertThat(t.totalSteps()).as("--steps %d", total).isEqualTo(total);
            assertThat(t.stages()).allSatisfy(st -> assertThat(st.steps()).isPositive());
        }
        assertThatThrownBy(() -> c.withTotalSteps(3)).isInstanceOf(MogeException.class).hasMessageContaining("one per stage");
        assertThat(half.stages().stream().map(TrainConfig.Stage::name).toList()).containsExactly("general", "reasoning", "annealing", "sft");
        assertThat(half.withSeed(3).resolvedJson().path("train").path("seed").asLong()).isEqualTo(3);
    }

    @Test
    void scheduleWarmsUpDecaysAndRestartsForSft() {
        TrainConfig c = TrainConfig.parse(TrainConfig.preset("demo"), "demo");
        LrSchedule lr = new LrSchedule(c.stages());
        List<TrainConfig.Stage> st = c.stages();
        int pre = st.get(0).steps() + st.get(1).steps() + st.get(2).steps();
        assertThat(lr.lr(0)).isLessThan(lr.lr(st.get(0).warmup()));
        assertThat(lr.lr(st.get(0).warmup())).isCloseTo(st.get(0).lr(), org.assertj.core.data.Offset.offset(1e-4));
        assertThat(lr.lr(pre - 1)).isCloseTo(st.get(0).lr() * st.get(0).minLrRatio(), org.assertj.core.data.Offset.offset(1e-4));
        assertThat(lr.lr(pre)).isLessThan(lr.lr(pre + st.get(3).warmup()));
        assertThat(lr.lr(pre + st.get(3).warmup())).isCloseTo(st.get(3).lr(), org.assertj.core.data.Offset.offset(1e-5));
    }

    @Test
    void badConfigsFailWithOneClearLine() throws Exception {
        ObjectMapper om = new ObjectMapper();
        ObjectNode noStages = TrainConfig.preset("smoke");
        noStages.remove("stages");
        assertThatThrownBy(() -> TrainConfig.parse(noStages, "f.json")).isInstanceOf(MogeException.class).hasMessageContaining("stages");
        ObjectNode badData = TrainConfig.merge(TrainConfig.preset("smoke"),
                (ObjectNode) om.readTree("{\"stages\": [{\"name\": \"x\", \"data\": \"poems\", \"steps\": 3, \"lr\": 0.001}]}"));
        assertThatThrownBy(() -> TrainConfig.parse(badData, "f.json")).isInstanceOf(MogeException.class).hasMessageContaining("poems");
        ObjectNode badModel = TrainConfig.merge(TrainConfig.preset("smoke"),
                (ObjectNode) om.readTree("{\"model\": {\"num_experts\": 5}}"));
        assertThatThrownBy(() -> TrainConfig.parse(badModel, "f.json")).isInstanceOf(MogeException.class).hasMessageContaining("num_experts");
        ObjectNode badBatch = TrainConfig.merge(TrainConfig.preset("smoke"), (ObjectNode) om.readTree("{\"train\": {\"batch_tokens\": 0}}"));
        assertThatThrownBy(() -> TrainConfig.parse(badBatch, "f.json")).isInstanceOf(MogeException.class).hasMessageContaining("batch_tokens");
        assertThatThrownBy(() -> TrainConfig.parse(TrainConfig.preset("smoke"), "s").withTotalSteps(0)).isInstanceOf(MogeException.class);
    }

    @Test
    void aBrokenConfigFileSaysWhereWithoutTheParsersInternals(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) throws Exception {
        java.nio.file.Path f = tmp.resolve("train.json");
        java.nio.file.Files.writeString(f, "{\"model\": {\n  \"hidden_size\": 32,\n");
        // was: "(Unexpected end-of-input: ... [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, ..."
        assertThatThrownBy(() -> TrainConfig.readFile(f)).isInstanceOf(MogeException.class)
                .hasMessageStartingWith(f + ": cannot parse JSON (line 3, column ")
                .hasMessageContaining("end-of-input").hasMessageNotContaining("Source").hasMessageNotContaining("REDACTED");
    }
}
