package moge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringReader;
import java.io.StringWriter;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

class ThinkingCliTest {
    static final String MODEL = BadInputTest.FIX.resolve("pangu-moe-tiny").toString();
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    static JsonNode json(CliRunner r) throws IOException {
        assertThat(r.exit()).as(r.err()).isZero();
        return JSON.readTree(r.out());
    }

    @Test
    void generateChatJsonCarriesReasoningContentAndThinkingInfo() throws IOException {
        JsonNode n = json(CliRunner.run("generate", "--model", MODEL, "--chat", "--prompt", "hi", "--think", "fast", "-n", "6", "--json"));
        assertThat(n.get("thinking").get("mode").asText()).isEqualTo("fast");
        assertThat(n.get("thinking").get("mode_used").asText()).isEqualTo("fast");
        assertThat(n.get("thinking").get("reason").asText()).isEqualTo("requested");
        assertThat(n.get("content").asText()).isEqualTo(n.get("text").asText().strip());
        assertThat(n.get("reasoning").asText()).isEmpty();
        assertThat(n.get("usage").get("completion_tokens").asInt()).isEqualTo(n.get("generated_ids").size());
        assertThat(n.get("usage").get("completion_tokens_details").get("reasoning_tokens").asInt()).isZero();

        // the switch reached the prompt the model saw
        JsonNode slow = json(CliRunner.run("generate", "--model", MODEL, "--chat", "--prompt", "hi", "-n", "1", "--json"));
        assertThat(n.get("prompt_ids").size()).isGreaterThan(slow.get("prompt_ids").size());
        assertThat(slow.get("thinking").get("mode").asText()).isEqualTo("slow");
    }

    /**
     * A random model never opens a think block itself: a copy of the fixture whose generation prompt opens it
     * (as Qwen3-style templates do) makes it "think", and the budget closes the block so that an answer follows.
     */
    @Test
    void generateChatJsonTextIsTheAnswerAndTheReasoningStandsApart() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("opening"));
        try (var files = Files.list(Path.of(MODEL))) {
            for (Path f : files.toList()) Files.copy(f, dir.resolve(f.getFileName()));
        }
        ObjectNode cfg = (ObjectNode) JSON.readTree(dir.resolve("tokenizer_config.json").toFile());
        String template = cfg.get("chat_template").asText().replace("'[unused9]助手：' }}{% endif %}", "'[unused9]助手：[unused16]' }}{% endif %}");
        assertThat(template).endsWith("[unused16]' }}{% endif %}");
        cfg.put("chat_template", template);
        JSON.writeValue(dir.resolve("tokenizer_config.json").toFile(), cfg);

        JsonNode n = json(CliRunner.run("generate", "--model", dir.toString(), "--chat", "--prompt", "hi", "--thinking-budget", "3",
                "-n", "32", "--ignore-eos", "--json"));
        assertThat(n.get("thinking").get("budget_reached").asBoolean()).isTrue();
        assertThat(n.get("reasoning").asText()).isNotEmpty().endsWith("(thinking budget reached)");
        assertThat(n.get("text").asText()).isNotEmpty().isEqualTo(n.get("content").asText())
                .doesNotContain("[unused16]", "[unused17]", "(thinking budget reached)");

        // a raw completion of the same model is left as it was: the whole continuation, markers left out
        JsonNode raw = json(CliRunner.run("generate", "--model", dir.toString(), "--prompt", "hi", "-n", "4", "--json"));
        assertThat(raw.has("reasoning")).isFalse();
        assertThat(raw.get("text").asText()).isNotEmpty();
    }

    @Test
    void budgetZeroAndCascadeOnTheCommandLine() throws IOException {
        JsonNode zero = json(CliRunner.run("generate", "--model", MODEL, "--chat", "--prompt", "hi", "--thinking-budget", "0", "-n", "4", "--json"));
        assertThat(zero.get("thinking").get("mode_used").asText()).isEqualTo("fast");
        assertThat(zero.get("thinking").get("budget").asInt()).isZero();
        // llama.cpp's --reasoning-budget: 0 is no thinking, -1 no limit
        JsonNode llama = json(CliRunner.run("generate", "--model", MODEL, "--chat", "--prompt", "hi", "--reasoning-budget", "0", "-n", "4", "--json"));
        assertThat(llama.get("generated_ids")).isEqualTo(zero.get("generated_ids"));
        assertThat(llama.get("thinking").get("budget").asInt()).isZero();
        JsonNode unlimited = json(CliRunner.run("generate", "--model", MODEL, "--chat", "--prompt", "hi", "--reasoning-budget", "-1", "-n", "4", "--json"));
        assertThat(unlimited.get("thinking").has("budget")).isFalse();
        JsonNode c = json(CliRunner.run("generate", "--model", MODEL, "--chat", "--prompt", "hi", "--think", "cascade",
                "--cascade-mean", "0", "-n", "4", "--json"));
        assertThat(c.get("thinking").get("mode_used").asText()).isEqualTo("slow");
        assertThat(c.get("thinking").get("attempts").asInt()).isEqualTo(2);
        assertThat(c.get("thinking").get("confidence").get("tokens").asInt()).isPositive();
        assertThat(c.get("usage").get("completion_tokens").asInt()).isGreaterThan(c.get("generated_ids").size());
    }

    @Test
    void thinkingFlagsNeedAChatPromptAndValidValues() {
        CliRunner r = CliRunner.run("generate", "--model", MODEL, "--prompt", "hi", "--think", "fast");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("need --chat");
        r = CliRunner.run("generate", "--model", MODEL, "--chat", "--prompt", "hi", "--think", "deep");
        assertThat(r.err()).contains("moge: --think: thinking mode must be slow, fast, auto or cascade, got 'deep'");
        r = CliRunner.run("generate", "--model", MODEL, "--chat", "--prompt", "hi", "--thinking-budget", "-2");
        assertThat(r.err()).contains("--thinking-budget must be >= 0");
        r = CliRunner.run("chat", "--model", MODEL, "--think", "cascade", "--cascade-min", "1");
        assertThat(r.err()).contains("cascade thresholds");
    }

    @Test
    void reasoningIsDimmedOnATerminalPlainOtherwiseOrHidden() {
        StringWriter s = new StringWriter();
        ReasoningPrinter p = new ReasoningPrinter(new PrintWriter(s), true, false);
        p.onToken(1, null, "let me ", "");
        p.onToken(2, null, "think", "");
        p.onToken(3, null, "", "42");
        p.finish();
        assertThat(s.toString()).isEqualTo("\u001b[2mlet me think\u001b[0m\n\n42");

        s = new StringWriter();
        p = new ReasoningPrinter(new PrintWriter(s), false, false);
        p.onToken(1, null, "hmm", "");
        p.onToken(3, null, "", "42");
        p.finish();
        assertThat(s.toString()).isEqualTo("hmm\n\n42");

        s = new StringWriter();
        p = new ReasoningPrinter(new PrintWriter(s), true, true);
        p.onToken(1, null, "hmm", "");
        p.onToken(3, null, "", "42");
        p.finish();
        assertThat(s.toString()).isEqualTo("42");
    }

    @Test
    void pipedChatInEveryMode() {
        for (String mode : new String[]{"slow", "fast", "auto", "cascade"}) {
            ChatCommand c = new ChatCommand();
            new picocli.CommandLine(c).parseArgs("--model", MODEL, "-n", "4", "--think", mode, "--hide-reasoning");
            StringWriter out = new StringWriter();
            c.chat(new BufferedReader(new StringReader("one\ntwo\n")), new PrintWriter(out, true), false);
            assertThat(out.toString().split("\n", -1).length).as(mode).isGreaterThanOrEqualTo(2);
            assertThat(out.toString()).doesNotContain("\u001b[");
        }
    }

    @Test
    void evalOnATinyTaskFile() throws IOException, URISyntaxException {
        Path tasks = Path.of(getClass().getResource("/tiny-tasks.jsonl").toURI());
        Path png = tmp.resolve("modes.png");
        JsonNode n = json(CliRunner.run("eval", "--model", MODEL, "--tasks", tasks.toString(), "--think", "all", "-n", "4",
                "--plot", png.toString(), "--json"));
        JsonNode results = n.get("results");
        assertThat(results).hasSize(4);
        assertThat(results.get(0).get("mode").asText()).isEqualTo("slow");
        for (JsonNode r : results) {
            assertThat(r.get("n").asInt()).isEqualTo(4);
            assertThat(r.get("accuracy").asDouble()).isBetween(0.0, 1.0);
            assertThat(r.get("mean_tokens").asDouble()).isBetween(1.0, 8.0);
            assertThat(r.get("mean_latency_ms").asDouble()).isPositive();
            assertThat(r.get("per_difficulty").get("easy").get("n").asInt()).isEqualTo(2);
            assertThat(r.get("per_difficulty").get("hard").get("n").asInt()).isEqualTo(2);
        }
        BufferedImage img = ImageIO.read(png.toFile());
        assertThat(img.getWidth()).isEqualTo(720);
        assertThat(img.getHeight()).isEqualTo(480);

        CliRunner text = CliRunner.run("eval", "--model", MODEL, "--tasks", tasks.toString(), "--think", "fast", "-n", "2", "--no-plot");
        assertThat(text.exit()).as(text.err()).isZero();
        assertThat(text.out()).startsWith("mode").contains("fast").contains("easy").contains("hard");
        assertThat(text.out().lines().count()).isEqualTo(2);
    }

    @Test
    void evalWithoutATaskSetSaysWhatToPass() {
        CliRunner r = CliRunner.run("eval", "--model", MODEL, "--no-plot");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("no held-out task set").contains("--tasks");
    }
}
