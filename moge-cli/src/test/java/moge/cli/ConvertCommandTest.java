package moge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** `moge convert` end to end: the converted file generates the fixture's text prompt exactly; bad options fail in one line. */
class ConvertCommandTest {
    @TempDir
    Path tmp;

    @Test
    void convertedFileGeneratesTheFixture() throws IOException {
        Path out = tmp.resolve("e.gguf");
        CliRunner c = CliRunner.run("convert", BadInputTest.FIX.resolve("pangu-embedded-tiny").toString(), "--type", "bf16", "-o", out.toString());
        assertThat(c.exit()).as(c.err()).isZero();
        assertThat(c.out()).contains("pangu-embedded, 42 tensors");
        assertThat(c.err()).contains("converting pangu-embedded-tiny [").contains("100%");
        JsonNode exp = new ObjectMapper().readTree(BadInputTest.FIX.resolve("expected/pangu-embedded-tiny.text.json").toFile());
        CliRunner g = CliRunner.run("generate", "--model", out.toString(), "--json", "--ignore-eos", "-n", "16",
                "--prompt", exp.get("prompt").get("text").asText());
        assertThat(g.exit()).as(g.err()).isZero();
        JsonNode got = new ObjectMapper().readTree(g.out());
        assertThat(got.get("prompt_ids")).isEqualTo(exp.get("prompt_ids"));
        assertThat(got.get("generated_ids")).isEqualTo(exp.get("generated_ids"));
        assertThat(got.get("text").asText()).isEqualTo(FixtureText.expected(exp));

        CliRunner again = CliRunner.run("convert", BadInputTest.FIX.resolve("pangu-embedded-tiny").toString(), "-o", out.toString());
        assertThat(again.exit()).isEqualTo(1);
        assertThat(again.err()).isEqualTo("moge: " + out + ": already exists (use --force to overwrite)\n");
    }

    @Test
    void badOptionsFailInOneLine() {
        CliRunner t = CliRunner.run("convert", BadInputTest.FIX.resolve("pangu-moe-tiny").toString(), "--type", "iq2_xxs", "-o",
                tmp.resolve("x.gguf").toString());
        assertThat(t.exit()).isEqualTo(1);
        assertThat(t.err()).isEqualTo("moge: --type: expected f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k, q4_k_m, q5_k_m, q3_k, q3_k_m, q2_k, q2_k_m, iq4_nl or iq4_xs, got iq2_xxs\n");
        CliRunner d = CliRunner.run("convert", tmp.resolve("missing").toString(), "-o", tmp.resolve("x.gguf").toString());
        assertThat(d.exit()).isEqualTo(1);
        assertThat(d.err()).startsWith("moge: ").contains("not a model directory");
        assertThat(Files.exists(tmp.resolve("x.gguf"))).isFalse();
    }

    @Test
    void theInputIsCheckedFirstAndNeverOverwritten() throws Exception {
        Path notModel = Files.createDirectories(tmp.resolve("empty"));
        Path existing = Files.writeString(tmp.resolve("old.gguf"), "x");
        CliRunner both = CliRunner.run("convert", notModel.toString(), "-o", existing.toString());
        assertThat(both.err()).isEqualTo("moge: " + notModel + ": not a model directory (no config.json)\n");
        CliRunner noDir = CliRunner.run("convert", BadInputTest.FIX.resolve("pangu-embedded-tiny").toString(), "-o", tmp.resolve("no/x.gguf").toString());
        assertThat(noDir.exit()).isEqualTo(1);
        assertThat(noDir.err()).contains("the directory " + tmp.resolve("no") + " does not exist");
        Path copy = Files.createDirectories(tmp.resolve("m"));
        try (var files = Files.list(BadInputTest.FIX.resolve("pangu-embedded-tiny"))) {
            for (Path f : files.toList()) Files.copy(f, copy.resolve(f.getFileName()));
        }
        Path weights = copy.resolve("model.safetensors");
        long size = Files.size(weights);
        CliRunner over = CliRunner.run("convert", copy.toString(), "--force", "-o", weights.toString());
        assertThat(over.exit()).isEqualTo(1);
        assertThat(over.err()).contains("is a file of the checkpoint being converted");
        assertThat(Files.size(weights)).isEqualTo(size);
    }
}
