package moge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** `moge generate --json` end to end on every shared fixture: same prompt ids, ids, text and log-probs. */
class GenerateFixtureCliTest {
    static Stream<Path> expected() throws IOException {
        return Files.list(BadInputTest.FIX.resolve("expected")).filter(p -> p.toString().endsWith(".json")).sorted();
    }

    @org.junit.jupiter.api.io.TempDir
    Path tmp;

    @ParameterizedTest(name = "{0}")
    @MethodSource("expected")
    void cliReproducesFixture(Path file) throws IOException {
        check(file, false);
        // a text prompt read from a file (llama-cli's -f) is the same prompt
        if ("text".equals(new ObjectMapper().readTree(file.toFile()).get("prompt").get("mode").asText())) check(file, true);
    }

    private void check(Path file, boolean fromFile) throws IOException {
        ObjectMapper om = new ObjectMapper();
        JsonNode exp = om.readTree(file.toFile());
        JsonNode prompt = exp.get("prompt");
        List<String> args = new ArrayList<>(List.of("generate", "--model", BadInputTest.FIX.resolve(exp.get("model_dir").asText()).toString(),
                "--json", "--ignore-eos", "-n", String.valueOf(exp.get("generated_ids").size())));
        switch (prompt.get("mode").asText()) {
            case "chat" -> {
                args.addAll(List.of("--chat", "--prompt", prompt.get("user").asText()));
                if (prompt.has("system")) args.addAll(List.of("--system", prompt.get("system").asText()));
            }
            case "text" -> {
                if (fromFile) {
                    Path f = Files.writeString(tmp.resolve("prompt.txt"), prompt.get("text").asText());
                    args.addAll(List.of("-f", f.toString()));
                } else {
                    args.addAll(List.of("--prompt", prompt.get("text").asText()));
                }
            }
            default -> {
                StringBuilder ids = new StringBuilder();
                for (JsonNode id : exp.get("prompt_ids")) ids.append(ids.isEmpty() ? "" : ",").append(id.asInt());
                args.addAll(List.of("--prompt-ids", ids.toString()));
            }
        }
        CliRunner r = CliRunner.run(args.toArray(String[]::new));
        assertThat(r.exit()).as(r.err()).isZero();
        JsonNode got = om.readTree(r.out());
        assertThat(got.get("prompt_ids")).isEqualTo(exp.get("prompt_ids"));
        assertThat(got.get("generated_ids")).isEqualTo(exp.get("generated_ids"));
        assertThat(got.get("text").asText()).isEqualTo(FixtureText.expected(exp));
        for (int i = 0; i < exp.get("steps").size(); i++) {
            JsonNode e = exp.get("steps").get(i), g = got.get("steps").get(i);
            assertThat(g.get("pos").asInt()).isEqualTo(e.get("pos").asInt());
            for (int j = 0; j < 5; j++) {
                assertThat(g.get("top").get(j).get(0).asInt()).isEqualTo(e.get("top").get(j).get(0).asInt());
                assertThat(g.get("top").get(j).get(1).asDouble()).isCloseTo(e.get("top").get(j).get(1).asDouble(), within(1e-3));
            }
        }
    }

    @org.junit.jupiter.api.Test
    void aPromptFileThatIsMissingOrGivenWithAnotherPromptFailsInOneLine() {
        String model = BadInputTest.FIX.resolve("pangu-embedded-tiny").toString();
        CliRunner missing = CliRunner.run("generate", "-m", model, "-f", tmp.resolve("nope.txt").toString());
        assertThat(missing.exit()).isEqualTo(1);
        assertThat(missing.err()).startsWith("moge: ").contains("nope.txt").hasLineCount(1);
        CliRunner both = CliRunner.run("generate", "-m", model, "-f", tmp.resolve("nope.txt").toString(), "-p", "hi");
        assertThat(both.err()).isEqualTo("moge: give exactly one of --prompt, --file or --prompt-ids\n");
    }
}
