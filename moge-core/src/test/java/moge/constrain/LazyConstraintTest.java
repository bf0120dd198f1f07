package moge.constrain;

import moge.thinking.ThinkProtocol;
import org.junit.jupiter.api.Test;

import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A lazy constraint (an "auto" tool call's): free text, think block included, until the trigger token; the JSON
 * from there until it is whole and closed; free again after the close, and a second trigger starts afresh.
 */
class LazyConstraintTest {
    static final int OPEN = 5, CLOSE = 6, EOS = 7, SPACE = 8, TRIGGER = 9, TRIGGER_CLOSE = 10, X = 11, V = 12;
    static final byte[][] TOKENS = {"{".getBytes(), "}".getBytes(), "\"a\"".getBytes(), ":".getBytes(), "1".getBytes(), null, null, null,
            " ".getBytes(), null, null, "x".getBytes()};
    static final TokenMask MASK = new TokenMask(new JsonMatcher(Schema.ANY_OBJECT), new TokenVocab(TOKENS, V));
    static final int[] ALL = IntStream.range(0, V).toArray();

    static int[] allowed(OutputConstraint.Tracker t, int[] history, int len) {
        float[] logits = new float[V];
        t.apply(logits, V, history, len);
        return IntStream.range(0, V).filter(i -> logits[i] != Float.NEGATIVE_INFINITY).toArray();
    }

    @Test
    void freeUntilTheTriggerThenTheJsonUntilItsClose() {
        OutputConstraint c = new OutputConstraint(MASK, -1, -1, TRIGGER, TRIGGER_CLOSE);
        assertThat(c.lazy()).isTrue();
        OutputConstraint.Tracker t = c.track(1, new int[]{EOS});
        int[] h = {100, X, SPACE, TRIGGER, 0, 2, 3, 4, 1, TRIGGER_CLOSE, X, TRIGGER, 0};
        assertThat(allowed(t, h, 1)).as("the first token: anything, text that is no JSON and the end included").containsExactly(ALL);
        assertThat(allowed(t, h, 3)).as("free text before the trigger").containsExactly(ALL);
        assertThat(t.inCall(h, 3)).isFalse();
        assertThat(allowed(t, h, 4)).as("after the trigger: the JSON's start").containsExactly(0, SPACE);
        assertThat(t.inCall(h, 4)).isTrue();
        assertThat(allowed(t, h, 6)).containsExactly(3);
        assertThat(allowed(t, h, 9)).as("whole: the close, an end or white space").containsExactly(EOS, SPACE, TRIGGER_CLOSE);
        assertThat(t.finished(h, 9)).as("a call never finishes the output by itself").isFalse();
        assertThat(allowed(t, h, 10)).as("closed: free again").containsExactly(ALL);
        assertThat(t.inCall(h, 10)).isFalse();
        assertThat(allowed(t, h, 12)).as("a second call starts afresh").containsExactly(0, SPACE);
        assertThat(allowed(t, h, 13)).containsExactly(1, 2, SPACE);
        assertThat(t.valid(h, 13)).isTrue();

        // a token the mask forbids, forced in (a rejected draft's history): only the close or an end is left
        int[] broken = {100, TRIGGER, X};
        assertThat(t.valid(broken, 3)).isFalse();
        assertThat(allowed(t, broken, 3)).containsExactly(EOS, TRIGGER_CLOSE);
        assertThat(allowed(t, h, 4)).as("and forgotten when the history changes back").containsExactly(0, SPACE);
    }

    @Test
    void theThinkBlockIsFreeAndATriggerInsideItIsNoCall() {
        OutputConstraint c = OutputConstraint.lazy(MASK, protocol(), TRIGGER, TRIGGER_CLOSE);
        OutputConstraint.Tracker t = c.track(1, new int[]{EOS});
        int[] h = {100, OPEN, TRIGGER, X, CLOSE, X, TRIGGER, 0};
        assertThat(allowed(t, h, 1)).as("before the block: free, unlike a plain constraint's").containsExactly(ALL);
        assertThat(allowed(t, h, 3)).as("a trigger inside the block starts nothing; the end stays allowed, as without tools")
                .containsExactly(ALL);
        assertThat(t.inCall(h, 4)).isFalse();
        assertThat(allowed(t, h, 5)).as("the answer after the block: free").containsExactly(ALL);
        assertThat(allowed(t, h, 7)).as("the trigger in the answer starts the JSON").containsExactly(0, SPACE);
        assertThat(allowed(t, h, 8)).containsExactly(1, 2, SPACE);

        int[] direct = {100, TRIGGER, 0};
        assertThat(allowed(t, direct, 2)).as("an answer that starts with the call, no block").containsExactly(0, SPACE);
    }

    /** A protocol whose think markers are OPEN and CLOSE. */
    static ThinkProtocol protocol() {
        return new ThinkProtocol("<think>", "</think>", OPEN, CLOSE, null, null);
    }
}
