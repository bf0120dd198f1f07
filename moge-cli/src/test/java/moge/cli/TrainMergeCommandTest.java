package moge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** `moge train --preset smoke`, then every other command loads the result; `moge merge` merges or refuses clearly. */
class TrainMergeCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @Test
    void smokeTrainingThenGenerateAndMerge() throws Exception {
        Path out = tmp.resolve("smoke");
        CliRunner r = CliRunner.run("train", "--preset", "smoke", "--steps", "16", "--seed", "3", "--out", out.toString(), "--json");
        assertThat(r.exit()).as(r.err()).isZero();
        List<String> lines = r.out().lines().toList();
        assertThat(lines).hasSizeGreaterThan(2);
        for (String l : lines.subList(0, lines.size() - 1)) {
            JsonNode n = JSON.readTree(l);
            for (String k : List.of("step", "loss", "lr", "imbalance_score")) assertThat(n.has(k)).as(k + " in " + l).isTrue();
        }
        JsonNode done = JSON.readTree(lines.getLast());
        assertThat(done.path("done").asBoolean()).isTrue();
        assertThat(done.path("eval").size()).isEqualTo(18); // 3 modes x (5 classes + all)
        assertThat(out.resolve("training.png")).exists();
        assertThat(out.resolve("eval/results.md")).exists();

        CliRunner g = CliRunner.run("generate", "-m", out.toString(), "--chat", "-p", "12+34=?", "-n", "6");
        assertThat(g.exit()).as(g.err()).isZero();
        CliRunner i = CliRunner.run("inspect", out.toString());
        assertThat(i.exit()).as(i.err()).isZero();
        assertThat(i.out()).contains("PanguProMoEForCausalLM");

        Path snap;
        try (var s = Files.list(out.resolve("snapshots"))) {
            snap = s.findFirst().orElseThrow();
        }
        Path merged = tmp.resolve("merged");
        CliRunner m = CliRunner.run("merge", snap.toString(), out.toString(), "--weights", "1,3", "-o", merged.toString());
        assertThat(m.exit()).as(m.err()).isZero();
        assertThat(m.out()).contains("0.25").contains("0.75");
        assertThat(CliRunner.run("generate", "-m", merged.toString(), "--chat", "-p", "hello", "-n", "4").exit()).isZero();

        // refusals: one clear line, exit 1
        Path other = tmp.resolve("other");
        CliRunner t2 = CliRunner.run("train", "--preset", "draft", "--steps", "4", "--out", other.toString(), "--no-eval");
        assertThat(t2.exit()).as(t2.err()).isZero();
        CliRunner bad = CliRunner.run("merge", out.toString(), other.toString(), "-o", tmp.resolve("x").toString());
        assertThat(bad.exit()).isEqualTo(1);
        assertThat(bad.err()).startsWith("moge: cannot merge").contains("differs");
        assertThat(bad.err().lines().count()).isEqualTo(1);
        CliRunner one = CliRunner.run("merge", out.toString(), "-o", tmp.resolve("y").toString());
        assertThat(one.exit()).isNotZero();

        // an existing model is not overwritten without --force (it was, and its old shard index then broke the merge)
        Path victim = tmp.resolve("victim");
        SpecCliTest.copyModel(BadInputTest.FIX.resolve("pangu-moe-tiny"), victim);
        CliRunner refused = CliRunner.run("merge", snap.toString(), out.toString(), "-o", victim.toString());
        assertThat(refused.exit()).isEqualTo(1);
        assertThat(refused.err()).contains("already exists (use --force");
        assertThat(CliRunner.run("generate", "-m", victim.toString(), "--prompt-ids", "1,2", "-n", "2").exit()).isZero();
        CliRunner forced = CliRunner.run("merge", snap.toString(), out.toString(), "-o", victim.toString(), "--force");
        assertThat(forced.exit()).as(forced.err()).isZero();
        CliRunner g2 = CliRunner.run("generate", "-m", victim.toString(), "--chat", "-p", "hello", "-n", "4");
        assertThat(g2.exit()).as(g2.err()).isZero();
    }

    @Test
    void resumeNeedsOnlyTheOutputDirectory() {
        // README: `moge train --out /tmp/demo --resume` continues a run without repeating its flags
        Path out = tmp.resolve("kept");
        CliRunner first = CliRunner.run("train", "--preset", "smoke", "--steps", "4", "--seed", "5", "--out", out.toString(),
                "--no-eval", "--keep-state");
        assertThat(first.exit()).as(first.err()).isZero();
        CliRunner again = CliRunner.run("train", "--out", out.toString(), "--resume", "--no-eval");
        assertThat(again.exit()).as(again.err()).isZero();
        assertThat(again.out()).contains("resuming at step 4 of 4").contains("seed 5");

        CliRunner none = CliRunner.run("train", "--out", tmp.resolve("never").toString(), "--resume");
        assertThat(none.exit()).isEqualTo(1);
        assertThat(none.err()).contains("no unfinished run to resume").contains("--preset");
    }

    @Test
    void trainNeedsAPresetOrConfig() throws Exception {
        CliRunner r = CliRunner.run("train", "--out", tmp.resolve("z").toString());
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("--preset");
        CliRunner p = CliRunner.run("train", "--preset", "gigantic", "--out", tmp.resolve("z").toString());
        assertThat(p.exit()).isEqualTo(1);
        assertThat(p.err()).contains("unknown preset");
        Path file = tmp.resolve("a-file");
        java.nio.file.Files.writeString(file, "x");
        CliRunner f = CliRunner.run("train", "--preset", "smoke", "--out", file.toString());
        assertThat(f.exit()).isEqualTo(1);
        assertThat(f.err()).isEqualTo("moge: " + file + ": is a file; --out names the model directory to write\n");
        Path under = file.resolve("sub");
        CliRunner u = CliRunner.run("train", "--preset", "smoke", "--out", under.toString());
        assertThat(u.exit()).isEqualTo(1);
        assertThat(u.err()).isEqualTo("moge: " + under + ": Not a directory (" + under + ")\n");
        CliRunner d = CliRunner.run("merge", file.toString(), file.toString(), "-o", under.toString(), "--debug");
        assertThat(d.exit()).isEqualTo(1);
        assertThat(d.err()).contains("not a model directory").contains("\tat moge.");
    }
}
