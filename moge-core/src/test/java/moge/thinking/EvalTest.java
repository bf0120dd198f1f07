package moge.thinking;

import moge.MogeException;
import moge.chat.ChatMessage;
import moge.chat.ChatTemplate;
import moge.generate.GenerateOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class EvalTest {
    @TempDir
    Path dir;

    Path write(String... lines) throws IOException {
        Path f = dir.resolve("tasks.jsonl");
        Files.write(f, List.of(lines));
        return f;
    }

    @Test
    void loadsTasksWithAliases() throws IOException {
        Path f = write("{\"prompt\": \"1+1\", \"answer\": \"2\", \"difficulty\": \"easy\"}", "",
                "{\"id\": \"q7\", \"system\": \"Be brief.\", \"prompt\": \"98*76\", \"expected\": 7448, \"class\": \"hard\"}",
                "{\"prompt\": \"x\", \"answer\": \"y\"}");
        List<EvalTask> tasks = EvalTask.load(f);
        assertThat(tasks).containsExactly(new EvalTask("1", null, "1+1", "2", "easy", "easy"),
                new EvalTask("q7", "Be brief.", "98*76", "7448", "hard", "hard"), new EvalTask("3", null, "x", "y", "all", "all"));
        // the demo model's held-out format: class and difficulty both given
        Path heldout = write("{\"id\":\"add_big-0\",\"class\":\"add_big\",\"difficulty\":\"hard\",\"prompt\":\"3919+8765=?\",\"expected\":\"12684\"}");
        assertThat(EvalTask.load(heldout)).containsExactly(new EvalTask("add_big-0", null, "3919+8765=?", "12684", "hard", "add_big"));
    }

    @Test
    void badTaskFilesNameTheLine() throws IOException {
        Path f = write("{\"prompt\": \"1+1\", \"answer\": \"2\"}", "{\"prompt\": \"2+2\"}");
        assertThatThrownBy(() -> EvalTask.load(f)).isInstanceOf(MogeException.class).hasMessageContaining("tasks.jsonl:2")
                .hasMessageContaining("'answer'");
        Path g = write("[1, 2]");
        assertThatThrownBy(() -> EvalTask.load(g)).isInstanceOf(MogeException.class).hasMessageContaining(":1: not a JSON object");
        Path h = write("{\"prompt\": {\"a\": 1}, \"answer\": \"2\"}");
        assertThatThrownBy(() -> EvalTask.load(h)).hasMessageContaining("'prompt' must be a string");
        Path e = write("");
        assertThatThrownBy(() -> EvalTask.load(e)).hasMessageContaining("no tasks");
        assertThatThrownBy(() -> EvalTask.load(dir.resolve("missing.jsonl"))).isInstanceOf(MogeException.class)
                .hasMessageContaining("missing.jsonl");
    }

    @Test
    void answersAreComparedAfterNormalisation() {
        assertThat(AnswerCheck.matches(" 42. ", "42")).isTrue();
        assertThat(AnswerCheck.matches("42.0", "42")).isTrue();
        assertThat(AnswerCheck.matches("１２３", "123")).isTrue();
        assertThat(AnswerCheck.matches("7,448", "7448")).isTrue();
        assertThat(AnswerCheck.matches("\"Paris\"", "paris")).isTrue();
        assertThat(AnswerCheck.matches("New   York", "new york")).isTrue();
        assertThat(AnswerCheck.matches("答案。", "答案")).isTrue();
        assertThat(AnswerCheck.matches("43", "42")).isFalse();
        assertThat(AnswerCheck.matches("42 apples", "42")).isFalse();
        assertThat(AnswerCheck.matches("", "0")).isFalse();
        assertThat(AnswerCheck.matches("-5", "-5.00")).isTrue();
        assertThat(AnswerCheck.matches("1,2", "12")).isFalse();
    }

    @Test
    void scoresATinyTaskFileOnTheFixtureModel() throws IOException {
        try (FixtureModel fx = new FixtureModel()) {
            ChatTemplate template = ChatTemplate.load(moge.Fixtures.model("pangu-embedded-tiny"), fx.lm.tokenizer);
            GenerateOptions o = GenerateOptions.greedy(6, fx.lm.tokenizer.eosIds());
            ThinkingOptions fast = ThinkingOptions.of(ThinkingMode.FAST);
            // what the random model answers in fast mode becomes the expected answer of two of the three tasks
            String a = fx.runner(template).chat(List.of(ChatMessage.user("alpha")), fast, o, ThinkingListener.NONE).content();
            String b = fx.runner(template).chat(List.of(ChatMessage.user("beta")), fast, o, ThinkingListener.NONE).content();
            assertThat(a).isNotBlank();
            Path f = write(
                    "{\"prompt\": \"alpha\", \"answer\": " + json(a) + ", \"difficulty\": \"easy\", \"class\": \"a\"}",
                    "{\"prompt\": \"beta\", \"answer\": \"certainly not this\", \"difficulty\": \"hard\", \"class\": \"b\"}",
                    "{\"prompt\": \"beta\", \"answer\": " + json(b) + ", \"difficulty\": \"hard\", \"class\": \"b\"}");
            List<ThinkingEval.Item> seen = new java.util.ArrayList<>();
            ThinkingEval.ModeResult r = ThinkingEval.run(fx.runner(template), EvalTask.load(f), fast, o, seen::add);
            assertThat(seen).hasSize(3);
            assertThat(r.overall().n()).isEqualTo(3);
            assertThat(r.overall().correct()).isEqualTo(2);
            assertThat(r.overall().accuracy()).isEqualTo(2 / 3.0);
            assertThat(r.perDifficulty().keySet()).containsExactly("easy", "hard");
            assertThat(r.perDifficulty().get("easy").accuracy()).isEqualTo(1.0);
            assertThat(r.perDifficulty().get("hard").accuracy()).isEqualTo(0.5);
            assertThat(r.perClass().keySet()).containsExactly("a", "b");
            assertThat(r.perClass().get("b").n()).isEqualTo(2);
            assertThat(r.overall().meanTokens()).isBetween(1.0, 6.0);
            assertThat(r.overall().meanLatencyMs()).isPositive();
            assertThat(r.overall().modeUsed()).containsEntry("fast", 3);

            // a cascade that always escalates pays for both attempts
            ThinkingOptions cascade = ThinkingOptions.of(ThinkingMode.CASCADE).withCascade(new Confidence.Thresholds(0, 0));
            ThinkingEval.ModeResult c = ThinkingEval.run(fx.runner(template), EvalTask.load(f), cascade, o, null);
            assertThat(c.overall().escalations()).isEqualTo(3);
            assertThat(c.overall().modeUsed()).containsEntry("slow", 3);
            assertThat(c.overall().meanTokens()).isGreaterThan(r.overall().meanTokens());
        }
    }

    static String json(String s) {
        return new com.fasterxml.jackson.databind.ObjectMapper().valueToTree(s).toString();
    }
}
