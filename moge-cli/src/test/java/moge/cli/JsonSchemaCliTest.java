package moge.cli;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** `generate -j` (llama.cpp's --json-schema) on the demo model, which never writes JSON by itself: inline and from a file, chat and raw. */
class JsonSchemaCliTest {
    static final String DEMO = ShippedModelsTest.MODELS.resolve("demo").toString();
    static final String SCHEMA = "{\"type\":\"object\",\"properties\":{\"sum\":{\"type\":\"integer\"},\"sure\":{\"type\":\"boolean\"}},"
            + "\"required\":[\"sum\",\"sure\"],\"additionalProperties\":false}";
    static final ObjectMapper STRICT = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    @TempDir
    Path tmp;

    private static JsonNode answer(CliRunner r) throws Exception {
        assertThat(r.exit()).as(r.err()).isZero();
        JsonNode v = STRICT.readTree(STRICT.readTree(r.out()).get("text").asText());
        assertThat(v.get("sum").isIntegralNumber()).as(v.toString()).isTrue();
        assertThat(v.get("sure").isBoolean()).as(v.toString()).isTrue();
        assertThat(v.size()).isEqualTo(2);
        return v;
    }

    @Test
    void theAnswerIsJsonThatTheSchemaAccepts() throws Exception {
        answer(CliRunner.run("generate", "-m", DEMO, "--chat", "-p", "What is 12+7?", "-j", SCHEMA, "-n", "300", "--json"));
        Path file = Files.writeString(tmp.resolve("schema.json"), SCHEMA);
        JsonNode sampled = answer(CliRunner.run("generate", "-m", DEMO, "-p", "What is 3+4?", "--json-schema", file.toString(), "-n", "300",
                "--temperature", "1.0", "--seed", "3", "--json"));
        assertThat(sampled).isNotNull();
    }

    @Test
    void aSchemaOutsideTheSubsetOrNotJsonFailsInOneLine() {
        CliRunner pattern = CliRunner.run("generate", "-m", DEMO, "-p", "x", "-j", "{\"type\":\"string\",\"pattern\":\"a+\"}");
        assertThat(pattern.exit()).isEqualTo(1);
        assertThat(pattern.err()).startsWith("moge: --json-schema: ").contains("pattern").hasLineCount(1);
        CliRunner broken = CliRunner.run("generate", "-m", DEMO, "-p", "x", "-j", "{\"type\":");
        assertThat(broken.err()).startsWith("moge: --json-schema: not JSON").hasLineCount(1);
    }
}
