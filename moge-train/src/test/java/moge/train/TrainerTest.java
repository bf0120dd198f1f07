package moge.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.MogeException;
import moge.generate.GenerateOptions;
import moge.generate.Generator;
import moge.generate.TokenListener;
import moge.model.KvCache;
import moge.model.LoadedModel;
import moge.model.Model;
import moge.model.ModelLoader;
import moge.train.data.HeldOut;
import moge.train.vocab.Vocabulary;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Whole runs of a tiny configuration: output layout, logging, loading, and bit-exact resume. */
class TrainerTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    static Vocabulary vocab;

    @TempDir
    Path tmp;

    @BeforeAll
    static void buildVocabulary() {
        vocab = Trainer.vocabulary(768);
    }

    static ObjectNode tinyConfig() {
        ObjectNode j = TrainConfig.preset("smoke");
        ObjectNode t = (ObjectNode) j.get("train");
        t.put("batch_tokens", 400);
        t.put("max_seq_len", 256);
        t.put("log_every", 2);
        t.put("checkpoint_every", 6);
        t.put("dtype", "f32");
        var st = j.putArray("stages");
        st.addObject().put("name", "general").put("steps", 3).put("lr", 0.003).put("warmup", 1);
        st.addObject().put("name", "reasoning").put("steps", 3);
        st.addObject().put("name", "annealing").put("steps", 2);
        ObjectNode sft = st.addObject().put("name", "sft").put("steps", 4).put("lr", 0.001).put("warmup", 1);
        sft.putArray("snapshot_at").add(0.5);
        return j;
    }

    private Trainer trainer(TrainConfig c, Path out, StringWriter log, boolean json) {
        return new Trainer(c, out, 2, new PrintWriter(log), json).withVocabulary(vocab);
    }

    @Test
    void runWritesALoadableOpenPanguModelWithLogPlotAndHeldOutSet() throws Exception {
        TrainConfig c = TrainConfig.parse(tinyConfig(), "test");
        Path out = tmp.resolve("m");
        StringWriter log = new StringWriter();
        Trainer.Result r = trainer(c, out, log, true).run(false, false);
        assertThat(r.steps()).isEqualTo(12);
        assertThat(r.snapshots()).hasSize(1);
        assertThat(Files.exists(out.resolve(Checkpoints.STATE_DIR))).isFalse();
        for (String f : List.of("config.json", "generation_config.json", "model.safetensors", "tokenizer.model", "tokenizer_config.json",
                "special_tokens_map.json", "training.png", "train_log.jsonl", "train_config.json", "eval/heldout.jsonl")) {
            assertThat(out.resolve(f)).as(f).exists();
        }
        byte[] png = Files.readAllBytes(out.resolve("training.png"));
        assertThat(png).startsWith((byte) 0x89, (byte) 'P', (byte) 'N', (byte) 'G');
        assertThat(Files.readAllLines(out.resolve("eval/heldout.jsonl"))).hasSize(HeldOut.problems(Trainer.HELD_OUT_PER_CLASS).size());
        // --json: one object per logged step with the documented fields
        List<String> lines = log.toString().lines().toList();
        assertThat(lines).isNotEmpty();
        for (String l : lines) {
            JsonNode n = JSON.readTree(l);
            assertThat(n.has("step") && n.has("loss") && n.has("lr") && n.has("imbalance_score")).as(l).isTrue();
            assertThat(n.get("imbalance_score").asDouble()).as("MoGE balances groups by construction").isZero();
        }
        JsonNode cfg = JSON.readTree(out.resolve("config.json").toFile());
        assertThat(cfg.path("architectures").get(0).asText()).isEqualTo("PanguProMoEForCausalLM");
        assertThat(cfg.path("router_aux_loss_coef").asDouble()).isEqualTo(0.01);
        assertThat(cfg.path("eos_token_id").asInt()).isEqualTo(vocab.id("[unused10]"));
        try (LoadedModel lm = ModelLoader.load(out); Model m = new Model(lm.config, lm.weights, 1, 64)) {
            assertThat(lm.tokenizer).isNotNull();
            assertThat(lm.tokenizer.special().eos()).isEqualTo(vocab.id("[unused10]"));
            Generator g = new Generator(m, lm.tokenizer, KvCache.forContext(lm.config, 128, 1, 16).newSequence(), 128);
            int[] prompt = lm.tokenizer.encodePrompt(lm.chatTemplate.render(List.of(moge.chat.ChatMessage.user("12+34=?")), true));
            var res = g.generate(prompt, GenerateOptions.greedy(8, lm.tokenizer.eosIds()), TokenListener.NONE);
            assertThat(res.generatedIds()).isNotEmpty();
        }
        // the snapshot is a complete model too
        try (LoadedModel snap = ModelLoader.load(r.snapshots().getFirst())) {
            assertThat(snap.tokenizer).isNotNull();
        }
    }

    @Test
    void resumedRunEndsBitIdenticalToAnUninterruptedOne() throws Exception {
        TrainConfig c = TrainConfig.parse(tinyConfig(), "test");
        Path a = tmp.resolve("a"), b = tmp.resolve("b");
        trainer(c, a, new StringWriter(), false).run(false, false);
        Trainer.Result cut = trainer(c, b, new StringWriter(), false).stopAfter(8).run(false, false);
        assertThat(cut.steps()).isEqualTo(8);
        assertThat(b.resolve(Checkpoints.STATE_DIR + "/state.json")).exists();
        assertThatThrownBy(() -> trainer(c, b, new StringWriter(), false).run(false, false))
                .isInstanceOf(MogeException.class).hasMessageContaining("--resume");
        TrainConfig other = c.withSeed(99);
        assertThatThrownBy(() -> trainer(other, b, new StringWriter(), false).run(true, false))
                .isInstanceOf(MogeException.class).hasMessageContaining("different configuration");
        StringWriter log = new StringWriter();
        trainer(c, b, log, false).run(true, false);
        assertThat(log.toString()).contains("resuming at step 6");
        Params pa = Checkpoints.readModel(a), pb = Checkpoints.readModel(b);
        for (Params.Tensor t : pa.all()) assertThat(pb.get(t.name).w).as(t.name).containsExactly(t.w);
        // the log was cut back to the checkpoint and continued: same steps as the uninterrupted run
        assertThat(stepsOf(b)).isEqualTo(stepsOf(a));
    }

    @Test
    void sameSeedSameModelAcrossThreadCounts() throws Exception {
        TrainConfig c = TrainConfig.parse(tinyConfig(), "test").withTotalSteps(6);
        Path a = tmp.resolve("t1"), b = tmp.resolve("t2");
        new Trainer(c, a, 1, null, false).withVocabulary(vocab).run(false, false);
        new Trainer(c, b, 2, null, false).withVocabulary(vocab).run(false, false);
        Params pa = Checkpoints.readModel(a), pb = Checkpoints.readModel(b);
        for (Params.Tensor t : pa.all()) assertThat(pb.get(t.name).w).as(t.name).containsExactly(t.w);
    }

    private static List<Integer> stepsOf(Path dir) throws Exception {
        return Files.readAllLines(dir.resolve("train_log.jsonl")).stream().map(l -> {
            try {
                return JSON.readTree(l).path("step").asInt();
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        }).toList();
    }
}
