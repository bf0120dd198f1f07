package moge.thinking;

import moge.MogeException;
import moge.chat.ChatMessage;
import moge.chat.ChatTemplate;
import moge.generate.GenerateOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class CascadeTest {
    static final Confidence.Thresholds T = new Confidence.Thresholds(-0.5, -2.0);

    static Confidence conf(double... lp) {
        return Confidence.of(lp, lp.length);
    }

    @Test
    void scoresMeanAndMinimum() {
        Confidence c = conf(-0.1, -0.3, -0.2);
        assertThat(c.tokens()).isEqualTo(3);
        assertThat(c.meanLogprob()).isCloseTo(-0.2, within(1e-12));
        assertThat(c.minLogprob()).isEqualTo(-0.3);
        assertThat(Confidence.of(new double[]{-1, -9}, 1).minLogprob()).isEqualTo(-1);
    }

    @Test
    void decisionsOnSyntheticLogprobs() {
        // sure of every token
        assertThat(conf(-0.01, -0.05, -0.2).confident(T)).isTrue();
        // one doubtful digit sinks it although the mean is fine
        assertThat(conf(-0.01, -0.01, -0.01, -0.01, -2.5).confident(T)).isFalse();
        // uniformly hesitant: no single bad token but a low mean
        assertThat(conf(-0.9, -1.1, -0.8).confident(T)).isFalse();
        // exactly at the thresholds counts as confident
        assertThat(conf(-0.5, -0.5).confident(new Confidence.Thresholds(-0.5, -0.5))).isTrue();
        // no answer at all is never confident
        assertThat(conf().confident(T)).isFalse();
        assertThat(conf().explain(T)).contains("empty");
        assertThat(conf(-0.01, -3).explain(T)).isEqualTo("mean logprob -1.505 < -0.500, min logprob -3.000 < -2.000");
        assertThat(conf(-0.1).explain(T)).isEqualTo("mean logprob -0.100 >= -0.500, min logprob -0.100 >= -2.000");
    }

    @Test
    void thresholdsAreLogprobs() {
        assertThatThrownBy(() -> new Confidence.Thresholds(0.5, -1)).isInstanceOf(MogeException.class);
        assertThatThrownBy(() -> new Confidence.Thresholds(-1, Double.NaN)).isInstanceOf(MogeException.class);
    }

    // ---- the runner on the fixture model ----

    static FixtureModel fx;

    @BeforeAll
    static void load() {
        fx = new FixtureModel();
    }

    @AfterAll
    static void close() {
        fx.close();
    }

    static ThinkingRunner runner() {
        return fx.runner(ChatTemplate.load(moge.Fixtures.model("pangu-embedded-tiny"), fx.lm.tokenizer));
    }

    /** EOS as the stop id; random weights rarely produce it, so short caps end answers by length. */
    static GenerateOptions opts(int n) {
        return GenerateOptions.greedy(n, fx.lm.tokenizer.eosIds());
    }

    record Event(int id, String reasoning, String content) {
    }

    @Test
    void confidentFastAnswerIsKeptAndReplayed() {
        List<Event> events = new ArrayList<>();
        List<String> escalations = new ArrayList<>();
        ThinkingListener l = new ThinkingListener() {
            public boolean onToken(int id, moge.generate.Step step, String reasoning, String content) {
                events.add(new Event(id, reasoning, content));
                return true;
            }

            public void onEscalation(String reason) {
                escalations.add(reason);
            }
        };
        // thresholds every answer clears; the answer must also end before the token limit, so stop on its own 5th token
        ThinkingOptions t = ThinkingOptions.of(ThinkingMode.CASCADE).withCascade(new Confidence.Thresholds(-1e9, -1e9));
        ThinkingResult probe = runner().chat(List.of(ChatMessage.user("hello")), t.withMode(ThinkingMode.FAST), opts(5), ThinkingListener.NONE);
        int fifth = probe.last().generatedIds()[4];
        GenerateOptions o = GenerateOptions.greedy(20, new int[]{fifth});
        ThinkingResult r = runner().chat(List.of(ChatMessage.user("hello")), t, o, l);
        assertThat(r.attempts()).hasSize(1);
        assertThat(r.escalated()).isFalse();
        assertThat(r.modeUsed()).isEqualTo("fast");
        assertThat(r.reason()).startsWith("confident: mean logprob");
        assertThat(r.confidence().tokens()).isEqualTo(4);
        assertThat(escalations).isEmpty();
        assertThat(events.stream().filter(e -> e.id >= 0).map(Event::id).toList())
                .containsExactlyElementsOf(java.util.Arrays.stream(r.last().generatedIds()).boxed().toList());
        StringBuilder c = new StringBuilder();
        events.forEach(e -> c.append(e.content));
        assertThat(c.toString()).isEqualTo(r.content());
        assertThat(r.attempts().getFirst().prompt()).contains("hello /no_think");
    }

    @Test
    void doubtfulFastAnswerIsAnsweredAgainSlowly() {
        List<String> escalations = new ArrayList<>();
        List<Integer> streamed = new ArrayList<>();
        ThinkingListener l = new ThinkingListener() {
            public boolean onToken(int id, moge.generate.Step step, String reasoning, String content) {
                if (id >= 0) streamed.add(id);
                return true;
            }

            public void onEscalation(String reason) {
                escalations.add(reason);
            }
        };
        // a mean of 0 is out of reach for a random model: always unsure
        ThinkingOptions t = ThinkingOptions.of(ThinkingMode.CASCADE).withCascade(new Confidence.Thresholds(0, -1e9));
        ThinkingResult r = runner().chat(List.of(ChatMessage.user("hello")), t, opts(6), l);
        assertThat(r.attempts()).hasSize(2);
        assertThat(r.attempts().get(0).mode()).isEqualTo(ThinkingMode.FAST);
        assertThat(r.attempts().get(1).mode()).isEqualTo(ThinkingMode.SLOW);
        assertThat(r.attempts().get(1).prompt()).doesNotContain("/no_think");
        assertThat(r.escalated()).isTrue();
        assertThat(r.modeUsed()).isEqualTo("slow");
        assertThat(r.reason()).startsWith("unsure (").endsWith("answered again in slow mode");
        assertThat(escalations).hasSize(1);
        // only the slow attempt reached the listener
        assertThat(streamed).containsExactlyElementsOf(java.util.Arrays.stream(r.last().generatedIds()).boxed().toList());
        assertThat(r.totalGeneratedTokens()).isEqualTo(r.attempts().get(0).result().generatedIds().length + streamed.size());
        assertThat(r.confidence()).isNotNull();
    }

    @Test
    void fastAnswerCutByTheTokenLimitEscalates() {
        ThinkingOptions t = ThinkingOptions.of(ThinkingMode.CASCADE).withCascade(new Confidence.Thresholds(-1e9, -1e9));
        ThinkingResult r = runner().chat(List.of(ChatMessage.user("hello")), t, opts(3), ThinkingListener.NONE);
        assertThat(r.attempts()).hasSize(2);
        assertThat(r.reason()).contains("token limit");
    }

    @Test
    void cascadeWithBudgetZeroStaysFast() {
        ThinkingOptions t = ThinkingOptions.of(ThinkingMode.CASCADE).withBudget(0).withCascade(new Confidence.Thresholds(0, 0));
        ThinkingResult r = runner().chat(List.of(ChatMessage.user("hello")), t, opts(3), ThinkingListener.NONE);
        assertThat(r.attempts()).hasSize(1);
        assertThat(r.modeUsed()).isEqualTo("fast");
    }

    @Test
    void autoModeReportsWhatTheModelChose() {
        ThinkingResult r = runner().chat(List.of(ChatMessage.user("hello")), ThinkingOptions.of(ThinkingMode.AUTO), opts(4), ThinkingListener.NONE);
        assertThat(r.attempts().getFirst().prompt()).contains("hello /auto_think");
        // a random model writes no think block
        assertThat(r.modeUsed()).isEqualTo("fast");
        assertThat(r.reason()).contains("answer directly");
    }
}
