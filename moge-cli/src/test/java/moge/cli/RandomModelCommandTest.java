package moge.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

class RandomModelCommandTest {
    @Test
    void refusesToWriteOverAnExistingModelWithoutForce(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("m");
        Files.createDirectories(out);
        Files.writeString(out.resolve("config.json"), "{}");
        CliRunner r = CliRunner.run("random-model", "--preset", "moge-small", "-o", out.toString());
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).isEqualTo("moge: " + out + ": already exists (use --force to overwrite)\n");
        assertThat(Files.readString(out.resolve("config.json"))).isEqualTo("{}");
    }

    @Test
    void forceReplacesAShardedModelWithoutLeavingItsIndex(@TempDir Path tmp) {
        assertThat(CliRunner.run("random-model", "--preset", "moge-small", "--shard-mb", "4", "-o", tmp.toString()).exit()).isZero();
        assertThat(tmp.resolve("model.safetensors.index.json")).exists();
        CliRunner r = CliRunner.run("random-model", "--preset", "embedded-small", "--force", "-o", tmp.toString());
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(tmp.resolve("model.safetensors.index.json")).doesNotExist();
        CliRunner i = CliRunner.run("inspect", tmp.toString());
        assertThat(i.exit()).as(i.err()).isZero();
        assertThat(i.out()).contains("PanguEmbeddedForCausalLM");
    }

    @Test
    void writesIntoAnEmptyDirectory(@TempDir Path tmp) {
        CliRunner r = CliRunner.run("random-model", "--preset", "moge-small", "-o", tmp.toString());
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(tmp.resolve("config.json")).exists();
        assertThat(r.err()).doesNotContain("\r").contains("100%");
    }
}
