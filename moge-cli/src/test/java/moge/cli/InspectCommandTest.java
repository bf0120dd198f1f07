package moge.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

class InspectCommandTest {
    @TempDir
    Path tmp;

    @Test
    void namesTheArchitectureBothWaysAndTheExpertGroups() {
        CliRunner r = CliRunner.run("inspect", BadInputTest.FIX.resolve("pangu-moe-tiny").toString());
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).contains("architecture: PanguProMoEForCausalLM (GGUF pangu-pro-moe)")
                .contains("experts:      16 routed in 4 groups of 4, 4 active per token (1 per group)")
                .doesNotContain("gguf:");
    }

    @Test
    void aGgufFileShowsItsHeader() {
        Path out = tmp.resolve("m.gguf");
        assertThat(CliRunner.run("convert", BadInputTest.FIX.resolve("pangu-moe-tiny").toString(), "--type", "q8_0", "-o", out.toString()).exit())
                .isZero();
        CliRunner r = CliRunner.run("inspect", out.toString());
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).containsPattern("gguf: +v3, \\d+ metadata keys, \\d+ tensors, name [^,]+, file type Q8_0 \\(7\\), [0-9.]+ (KiB|MiB)");
    }
}
