package moge.thinking;

import moge.Fixtures;
import moge.chat.ChatMessage;
import moge.chat.ChatTemplate;
import moge.generate.DecodePolicy;
import moge.generate.GenerateOptions;
import moge.generate.GenerationResult;
import moge.generate.Generator;
import moge.generate.TokenListener;
import moge.model.LoadedModel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The budget on the fixture model (random weights, [unused16]=21, [unused17]=22). A random model never thinks by
 * itself, so the block is opened either by a template that ends in the opening marker or by forcing it.
 */
class ThinkingBudgetTest {
    static final int OPEN = 21, CLOSE = 22;
    static FixtureModel fx;
    static LoadedModel lm;
    static ThinkProtocol protocol;
    /** openPangu's format with the think block opened by the generation prompt. */
    static ChatTemplate opening;

    @BeforeAll
    static void load() {
        fx = new FixtureModel();
        lm = fx.lm;
        protocol = fx.protocol;
        opening = ChatTemplate.of("opening", "{% for m in messages %}[unused9]用户：{{ m.content }}[unused10]{% endfor %}"
                + "{% if add_generation_prompt %}[unused9]助手：[unused16]{% endif %}", "<s>", "[unused10]");
    }

    @AfterAll
    static void close() {
        fx.close();
    }

    static Generator generator() {
        return fx.generator();
    }

    static GenerateOptions greedy(int n) {
        return GenerateOptions.greedy(n, lm.tokenizer.eosIds()).withIgnoreEos(true);
    }

    @Test
    void budgetClosesTheTemplateOpenedBlockAfterExactlyNTokens() {
        for (int budget : new int[]{1, 5, 12}) {
            ThinkingRunner runner = new ThinkingRunner(generator(), lm.tokenizer, opening);
            ThinkingOptions t = ThinkingOptions.of(ThinkingMode.SLOW).withBudget(budget).withBudgetMessage("");
            ThinkingResult r = runner.chat(List.of(ChatMessage.user("2+2?")), t, greedy(budget + 8), ThinkingListener.NONE);
            int[] ids = r.last().generatedIds();
            assertThat(Arrays.copyOf(ids, budget)).as("budget %d", budget).doesNotContain(OPEN, CLOSE);
            assertThat(ids[budget]).isEqualTo(CLOSE);
            assertThat(r.budgetReached()).isTrue();
            // the closing marker is not reasoning
            assertThat(r.reasoningTokens()).isEqualTo(budget);
            assertThat(r.reason()).contains("thinking budget of " + budget + " tokens reached");
            assertThat(r.modeUsed()).isEqualTo("slow");
            // the split follows the ids: what came before the closing token is reasoning, the rest is answer
            String before = lm.tokenizer.decode(Arrays.copyOf(ids, budget)).strip();
            assertThat(r.reasoning()).isEqualTo(before);
            assertThat(r.content()).isNotEmpty();
        }
    }

    @Test
    void budgetMessageIsForcedBeforeTheClosingMarker() {
        ThinkingRunner runner = new ThinkingRunner(generator(), lm.tokenizer, opening);
        String msg = "\n(thinking budget reached)\n";
        int[] msgIds = lm.tokenizer.encode(msg);
        ThinkingOptions t = ThinkingOptions.of(ThinkingMode.SLOW).withBudget(4).withBudgetMessage(msg);
        ThinkingResult r = runner.chat(List.of(ChatMessage.user("2+2?")), t, greedy(4 + msgIds.length + 6), ThinkingListener.NONE);
        int[] ids = r.last().generatedIds();
        assertThat(Arrays.copyOfRange(ids, 4, 4 + msgIds.length)).containsExactly(msgIds);
        assertThat(ids[4 + msgIds.length]).isEqualTo(CLOSE);
        assertThat(r.reasoning()).endsWith("(thinking budget reached)");
        assertThat(r.reasoningTokens()).isEqualTo(4 + msgIds.length);
        assertThat(r.content()).doesNotContain("budget");
    }

    @Test
    void budgetZeroMeansNoThinkingAtAll() {
        ThinkingRunner runner = new ThinkingRunner(generator(), lm.tokenizer, opening);
        ThinkingOptions t = ThinkingOptions.of(ThinkingMode.SLOW).withBudget(0);
        ThinkingResult r = runner.chat(List.of(ChatMessage.user("2+2?")), t, greedy(6), ThinkingListener.NONE);
        assertThat(r.last().generatedIds()[0]).isEqualTo(CLOSE);
        assertThat(r.reasoning()).isEmpty();
        // an empty block is no reasoning
        assertThat(r.reasoningTokens()).isZero();
        assertThat(r.modeUsed()).isEqualTo("fast");
        assertThat(r.reason()).contains("budget 0");
        // the fast prompt was used (this template ignores the switch, but the turn carries it)
        assertThat(r.attempts().getFirst().prompt()).contains("2+2? /no_think");
    }

    @Test
    void budgetAlsoAppliesWhenTheModelOpensTheBlockItself() {
        ChatTemplate plain = ChatTemplate.load(Fixtures.model("pangu-embedded-tiny"), lm.tokenizer);
        int[] prompt = lm.tokenizer.encodePrompt(ThinkPrompt.render(plain, List.of(ChatMessage.user("hi")), ThinkingMode.SLOW, protocol));
        ThinkingBudget budget = new ThinkingBudget(protocol, false, 3, null);
        // stand in for a model that starts its answer with the opening marker
        DecodePolicy opensFirst = new DecodePolicy() {
            boolean first = true;

            public int forcedToken() {
                if (first) {
                    first = false;
                    return OPEN;
                }
                return budget.forcedToken();
            }

            public void accepted(int id, boolean forced) {
                // the budget must see the opening marker as the model's own token
                budget.accepted(id, forced && id != OPEN);
            }
        };
        GenerationResult r = generator().generate(prompt, greedy(9), TokenListener.NONE, opensFirst);
        int[] ids = r.generatedIds();
        assertThat(ids[0]).isEqualTo(OPEN);
        assertThat(ids[4]).isEqualTo(CLOSE);
        // the three tokens between the markers
        assertThat(budget.reasoningTokens()).isEqualTo(3);
        for (int i = 0; i < ids.length; i++) assertThat(budget.isAnswerToken(i)).as("token %d", i).isEqualTo(i >= 5);
        ReasoningParser.Split s = ReasoningParser.split(protocol, false, r.text());
        assertThat(s.reasoning()).isEqualTo(lm.tokenizer.decode(Arrays.copyOfRange(ids, 1, 4)).strip());
    }

    @Test
    void withoutABudgetNothingIsForced() {
        ThinkingRunner runner = new ThinkingRunner(generator(), lm.tokenizer, opening);
        ThinkingResult r = runner.chat(List.of(ChatMessage.user("2+2?")), ThinkingOptions.of(ThinkingMode.SLOW), greedy(10), ThinkingListener.NONE);
        int[] prompt = lm.tokenizer.encodePrompt(r.attempts().getFirst().prompt());
        GenerationResult plain = generator().generate(prompt, greedy(10), TokenListener.NONE);
        assertThat(r.last().generatedIds()).containsExactly(plain.generatedIds());
        assertThat(r.budgetReached()).isFalse();
        // never closed: all of it is reasoning, counted as such
        assertThat(r.content()).isEmpty();
        assertThat(r.reasoning()).isEqualTo(plain.text().strip());
        assertThat(r.reasoningTokens()).isEqualTo(10);
    }

    @Test
    void streamedDeltasAddUpToTheResult() {
        ThinkingRunner runner = new ThinkingRunner(generator(), lm.tokenizer, opening);
        StringBuilder rs = new StringBuilder(), cs = new StringBuilder();
        int[] calls = {0};
        ThinkingResult r = runner.chat(List.of(ChatMessage.user("count")), ThinkingOptions.of(ThinkingMode.SLOW).withBudget(7),
                greedy(40), (id, step, reasoning, content) -> {
                    calls[0]++;
                    assertThat(reasoning).doesNotContain("[unused");
                    assertThat(content).doesNotContain("[unused");
                    rs.append(reasoning);
                    cs.append(content);
                    return true;
                });
        assertThat(calls[0]).isGreaterThanOrEqualTo(40);
        assertThat(rs.toString()).isEqualTo(r.reasoning());
        assertThat(cs.toString()).isEqualTo(r.content());
    }
}
