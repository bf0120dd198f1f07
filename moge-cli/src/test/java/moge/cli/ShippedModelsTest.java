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
 * thinks, and mostly fails without thinking) and the draft shares its tokenizer. Slow enough to matter, so
 * only a slice of the held-out set runs here; the full table is in the README.
 */
class ShippedModelsTest {
    static final Path MODELS = BadInputTest.FIX.getParent().getParent().resolve("models");

    @Test
    void demoSolvesHeldOutProblemsWhenItThinks() throws IOException {
        Path demo = MODELS.resolve("demo");
        Path tasks = Files.createTempFile("heldout", ".jsonl");
        // 12 of the hardest class (4-digit additions) and 12 easy ones
        List<String> lines = Files.readAllLines(demo.resolve("eval/heldout.jsonl"));
        List<String> big = lines.stream().filter(l -> l.contains("\"add_big\"")).limit(12).toList();
        List<String> small = lines.stream().filter(l -> l.contains("\"add_small\"")).limit(12).toList();
        Files.write(tasks, java.util.stream.Stream.concat(big.stream(), small.stream()).toList());
        try {
            JsonNode r = ThinkingCliTest.json(CliRunner.run("eval", "--model", demo.toString(), "--tasks", tasks.toString(),
                    "--think", "slow", "--json", "-t", "1", "--no-plot"));
            JsonNode slow = r.get("results").get(0);
            assertThat(slow.get("mode").asText()).isEqualTo("slow");
            assertThat(slow.get("accuracy").asDouble()).as(slow.toString()).isGreaterThanOrEqualTo(0.8);
            assertThat(slow.get("mean_reasoning_tokens").asDouble()).isGreaterThan(40);
            JsonNode fast = ThinkingCliTest.json(CliRunner.run("eval", "--model", demo.toString(), "--tasks", tasks.toString(),
                    "--think", "fast", "--json", "-t", "1", "--no-plot")).get("results").get(0);
            assertThat(fast.get("accuracy").asDouble()).isLessThan(slow.get("accuracy").asDouble() - 0.3);
            assertThat(fast.get("mean_tokens").asDouble()).isLessThan(20);
        } finally {
            Files.deleteIfExists(tasks);
        }
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
