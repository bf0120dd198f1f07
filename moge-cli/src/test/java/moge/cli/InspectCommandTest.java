package moge.cli;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class InspectCommandTest {
    @Test
    void namesTheArchitectureBothWaysAndTheExpertGroups() {
        CliRunner r = CliRunner.run("inspect", BadInputTest.FIX.resolve("pangu-moe-tiny").toString());
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).contains("architecture: PanguProMoEForCausalLM (GGUF pangu-pro-moe)")
                .contains("experts:      16 routed in 4 groups of 4, 4 active per token (1 per group)");
    }
}
