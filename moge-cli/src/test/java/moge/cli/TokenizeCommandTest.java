package moge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** `moge tokenize`: the ids generate sees for the same text, llama-tokenize's line format, the chat form, bad input. */
class TokenizeCommandTest {
    static final String MODEL = BadInputTest.FIX.resolve("pangu-embedded-tiny").toString();

    @TempDir
    Path tmp;

    private static List<Integer> ids(JsonNode arr) {
        List<Integer> out = new ArrayList<>();
        arr.forEach(n -> out.add(n.asInt()));
        return out;
    }

    @Test
    void theIdsAreThePromptGenerateRunsAndEachLineNamesItsPiece() throws Exception {
        String text = "Hello! I am a tiny MoGE model.";
        CliRunner t = CliRunner.run("tokenize", "-m", MODEL, "-p", text, "--json");
        assertThat(t.exit()).as(t.err()).isZero();
        JsonNode j = new ObjectMapper().readTree(t.out());
        CliRunner g = CliRunner.run("generate", "-m", MODEL, "-p", text, "-n", "1", "--json");
        assertThat(ids(j.get("ids"))).isEqualTo(ids(new ObjectMapper().readTree(g.out()).get("prompt_ids")));
        assertThat(j.get("count").asInt()).isEqualTo(j.get("ids").size()).isGreaterThan(3);
        StringBuilder joined = new StringBuilder();
        for (int i = 1; i < j.get("pieces").size(); i++) joined.append(j.get("pieces").get(i).asText());
        assertThat(joined.toString()).isEqualTo(" " + text); // each piece keeps its leading space, SentencePiece's dummy prefix too

        CliRunner lines = CliRunner.run("tokenize", "-m", MODEL, "-p", text, "--show-count");
        List<String> ls = lines.out().lines().toList();
        assertThat(ls).hasSize(j.get("count").asInt() + 1);
        assertThat(ls.getFirst()).matches(String.format("%6d -> '.*'", j.get("ids").get(0).asInt()));
        assertThat(ls.getLast()).isEqualTo("Total number of tokens: " + j.get("count").asInt());

        CliRunner plain = CliRunner.run("tokenize", "-m", MODEL, "-f", Files.writeString(tmp.resolve("t.txt"), text).toString(), "--ids", "--no-bos");
        assertThat(plain.out().strip()).isEqualTo(ids(j.get("ids")).subList(1, j.get("ids").size()).toString());
    }

    @Test
    void aChatTurnIsTokenizedAsGenerateChatSendsIt() throws Exception {
        CliRunner t = CliRunner.run("tokenize", "-m", MODEL, "-p", "What is 2+2?", "--chat", "--system", "Be brief.", "--json");
        assertThat(t.exit()).as(t.err()).isZero();
        CliRunner g = CliRunner.run("generate", "-m", MODEL, "-p", "What is 2+2?", "--chat", "--system", "Be brief.", "-n", "1", "--json");
        assertThat(ids(new ObjectMapper().readTree(t.out()).get("ids"))).isEqualTo(ids(new ObjectMapper().readTree(g.out()).get("prompt_ids")));
    }

    @Test
    void badInputFailsInOneLine() {
        assertThat(CliRunner.run("tokenize", "-m", MODEL).err()).isEqualTo("moge: give exactly one of --prompt or --file\n");
        assertThat(CliRunner.run("tokenize", "-m", MODEL, "-p", "x", "--system", "s").err()).isEqualTo("moge: --system needs --chat\n");
        assertThat(CliRunner.run("tokenize", "-m", tmp.resolve("none").toString(), "-p", "x").err()).contains("no such model");
    }
}
