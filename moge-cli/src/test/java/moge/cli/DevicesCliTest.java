package moge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** --devices and --router on the command line, and moe-stats. */
class DevicesCliTest {
    static final String MOE = BadInputTest.FIX.resolve("pangu-moe-tiny").toString();

    @TempDir
    Path tmp;

    private static JsonNode gen(String... extra) throws Exception {
        String[] base = {"generate", "--model", MOE, "--prompt-ids", "1,14,1161,300,7,900", "-n", "10", "--ignore-eos", "--json", "--batch", "4"};
        String[] all = new String[base.length + extra.length];
        System.arraycopy(base, 0, all, 0, base.length);
        System.arraycopy(extra, 0, all, base.length, extra.length);
        CliRunner r = CliRunner.run(all);
        assertThat(r.exit()).as(r.err()).isZero();
        return new ObjectMapper().readTree(r.out());
    }

    @Test
    void anyDeviceCountGivesTheSameGreedyOutput() throws Exception {
        for (String router : new String[]{"moge", "topk"}) {
            JsonNode ref = gen("--router", router);
            for (String n : new String[]{"1", "2", "4"}) {
                JsonNode got = gen("--router", router, "--devices", n);
                assertThat(got.get("generated_ids")).as(router + " devices " + n).isEqualTo(ref.get("generated_ids"));
                for (int i = 0; i < ref.get("steps").size(); i++) {
                    assertThat(got.get("steps").get(i).get("logprob").asDouble())
                            .isCloseTo(ref.get("steps").get(i).get("logprob").asDouble(), org.assertj.core.api.Assertions.within(1e-5));
                }
            }
        }
    }

    @Test
    void deviceCountThatDoesNotDivideTheGroupsIsOneLine() {
        CliRunner r = CliRunner.run("generate", "--model", MOE, "--prompt-ids", "1,2", "-n", "1", "--devices", "3");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err().strip()).isEqualTo("moge: --devices 3 does not divide the 4 expert groups of the model (use one of 1, 2, 4)");
        r = CliRunner.run("generate", "--model", BadInputTest.FIX.resolve("pangu-embedded-tiny").toString(), "--prompt-ids", "1,2", "-n", "1",
                "--devices", "2");
        assertThat(r.err().strip()).isEqualTo("moge: --devices 2: the model has no routed experts to place");
        r = CliRunner.run("generate", "--model", MOE, "--prompt-ids", "1,2", "-n", "1", "--router", "sparse");
        assertThat(r.err()).contains("unknown router 'sparse'");
    }

    @Test
    void moeStatsComparesBothRoutersAndPlots() throws Exception {
        Path png = tmp.resolve("load.png");
        CliRunner r = CliRunner.run("moe-stats", "--model", MOE, "--tokens", "600", "--prompt-len", "150", "--decode", "4", "--batch", "50",
                "--devices", "2", "--json", "--plot", png.toString());
        assertThat(r.exit()).as(r.err()).isZero();
        JsonNode n = new ObjectMapper().readTree(r.out());
        assertThat(n.get("prompt_tokens").asInt()).isEqualTo(600);
        assertThat(n.get("moge").get("imbalance_score_max").asDouble()).isZero();
        assertThat(n.get("moge").get("device_load").get(0).asLong()).isEqualTo(n.get("moge").get("device_load").get(1).asLong());
        assertThat(n.get("topk").get("imbalance_score_mean").asDouble()).isPositive();
        assertThat(n.get("topk").get("imbalanced_fraction").asDouble()).isGreaterThan(0.5);
        assertThat(n.get("topk").get("devices").asInt()).isEqualTo(2);
        byte[] head = Files.readAllBytes(png);
        assertThat(head.length).isGreaterThan(10_000);
        assertThat(new String(head, 1, 3, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("PNG");

        r = CliRunner.run("moe-stats", "--model", MOE, "--tokens", "100", "--decode", "0");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).contains("moge").contains("topk").contains("load counted per expert group");
    }
}
