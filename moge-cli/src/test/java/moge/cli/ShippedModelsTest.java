package moge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The models shipped in models/: the demo really is trained (it solves held-out problems it never saw when it
 * thinks, fails the hard ones without thinking, answers the easy ones at once, and in auto mode chooses
 * which is which) and the draft shares its tokenizer. Slow enough to matter, so
 * only a slice of the held-out set runs here; the full table is in the README.
 */
class ShippedModelsTest {
    static final Path MODELS = BadInputTest.FIX.getParent().getParent().resolve("models");

    @Test
    void demoSolvesHeldOutProblemsWhenItThinksAndAnswersEasyOnesAtOnce() throws IOException {
        Path demo = MODELS.resolve("demo");
        Path tasks = Files.createTempFile("heldout", ".jsonl");
        // 12 of the hardest class (4-digit additions) and 12 easy ones (n+0, n*1, ...)
        List<String> lines = Files.readAllLines(demo.resolve("eval/heldout.jsonl"));
        List<String> big = lines.stream().filter(l -> l.contains("\"add_big\"")).limit(12).toList();
        List<String> easy = lines.stream().filter(l -> l.contains("\"identity\"")).limit(12).toList();
        Files.write(tasks, java.util.stream.Stream.concat(big.stream(), easy.stream()).toList());
        try {
            JsonNode slow = eval(demo, tasks, "slow");
            assertThat(slow.get("accuracy").asDouble()).as(slow.toString()).isGreaterThanOrEqualTo(0.8);
            assertThat(slow.get("per_class").get("add_big").get("accuracy").asDouble()).isGreaterThanOrEqualTo(0.8);
            assertThat(slow.get("mean_reasoning_tokens").asDouble()).isGreaterThan(40);
            JsonNode fast = eval(demo, tasks, "fast");
            assertThat(fast.get("per_class").get("add_big").get("accuracy").asDouble()).as(fast.toString()).isLessThan(0.3);
            assertThat(fast.get("per_class").get("identity").get("accuracy").asDouble()).as(fast.toString()).isGreaterThanOrEqualTo(0.9);
            assertThat(fast.get("mean_tokens").asDouble()).isLessThan(20);
            // auto: the model answers the easy ones at once and thinks on the hard ones
            JsonNode auto = eval(demo, tasks, "auto");
            assertThat(auto.get("per_class").get("identity").get("mean_tokens").asDouble()).as(auto.toString()).isLessThan(20);
            assertThat(auto.get("per_class").get("add_big").get("mean_reasoning_tokens").asDouble()).isGreaterThan(40);
            assertThat(auto.get("accuracy").asDouble()).isGreaterThanOrEqualTo(0.8);
        } finally {
            Files.deleteIfExists(tasks);
        }
    }

    private static JsonNode eval(Path model, Path tasks, String mode) throws IOException {
        JsonNode r = ThinkingCliTest.json(CliRunner.run("eval", "--model", model.toString(), "--tasks", tasks.toString(),
                "--think", mode, "--json", "-t", "1", "--no-plot")).get("results").get(0);
        assertThat(r.get("mode").asText()).isEqualTo(mode);
        return r;
    }

    @Test
    void draftSharesTheDemoTokenizerAndIsSmaller() throws IOException {
        Path demo = MODELS.resolve("demo"), draft = MODELS.resolve("draft");
        assertThat(Files.readAllBytes(draft.resolve("tokenizer.model"))).isEqualTo(Files.readAllBytes(demo.resolve("tokenizer.model")));
        assertThat(Files.size(draft.resolve("model.safetensors"))).isLessThan(Files.size(demo.resolve("model.safetensors")) / 4);
        long total;
        try (var s = Files.walk(MODELS)) {
            total = s.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
        }
        assertThat(total).as("models/ stays small").isLessThan(40L << 20);
        // the demo drafts with models/draft by default and stays exact under greedy decoding
        JsonNode plain = ThinkingCliTest.json(CliRunner.run("generate", "--model", demo.toString(), "--chat", "--prompt", "What is 4721+388?",
                "-n", "60", "--json"));
        JsonNode spec = ThinkingCliTest.json(CliRunner.run("generate", "--model", demo.toString(), "--chat", "--prompt", "What is 4721+388?",
                "-n", "60", "--json", "--spec", "draft"));
        assertThat(spec.get("generated_ids")).isEqualTo(plain.get("generated_ids"));
        assertThat(spec.get("speculation").get("drafted").asInt()).isPositive();
    }
}
