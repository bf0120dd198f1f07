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
        return allowed(t, V, history, len);
    }

    static int[] allowed(OutputConstraint.Tracker t, int vocab, int[] history, int len) {
        float[] logits = new float[vocab];
        t.apply(logits, vocab, history, len);
        return IntStream.range(0, vocab).filter(i -> logits[i] != Float.NEGATIVE_INFINITY).toArray();
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

    // markers that are texts: a vocabulary without them as tokens (a template's <tool_call> in a plain BPE one)
    static final byte[][] TEXT_TOKENS = {"{".getBytes(), "}".getBytes(), "\"a\"".getBytes(), ":".getBytes(), "1".getBytes(), null, null, null,
            " ".getBytes(), null, null, "x".getBytes(), "<".getBytes(), "tc".getBytes(), ">".getBytes(), ">{".getBytes(), "</".getBytes(),
            "tc>".getBytes(), "</tc>".getBytes(), "x<t".getBytes(), "c>\n".getBytes(), "<<".getBytes(), "</tc> <tc>{".getBytes()};
    static final int LT = 12, TC = 13, GT = 14, GT_BRACE = 15, LT_SLASH = 16, TC_GT = 17, CLOSE_TAG = 18, X_LT_T = 19, C_GT_NL = 20,
            LT_LT = 21, CLOSE_OPEN = 22, TV = 23;
    static final TokenMask TEXT_MASK = new TokenMask(new JsonMatcher(Schema.ANY_OBJECT), new TokenVocab(TEXT_TOKENS, TV));
    static final int[] ALL_TEXT = IntStream.range(0, TV).toArray();

    static int[] allowedText(OutputConstraint.Tracker t, int[] history, int len) {
        return allowed(t, TV, history, len);
    }

    @Test
    void textMarkersSpreadOverTokensTriggerAndCloseTheCall() {
        OutputConstraint c = OutputConstraint.lazy(TEXT_MASK, null, "<tc>", "</tc>");
        assertThat(c.lazy()).isTrue();
        OutputConstraint.Tracker t = c.track(1, new int[]{EOS});
        int[] h = {100, X, LT, TC, GT, 0, 2, 3, 4, 1, LT_SLASH, TC_GT, X};
        assertThat(allowedText(t, h, 3)).as("part of the trigger is still free text").containsExactly(ALL_TEXT);
        assertThat(t.inCall(h, 4)).isFalse();
        assertThat(allowedText(t, h, 5)).as("the trigger written: the JSON's start").containsExactly(0, SPACE);
        assertThat(t.inCall(h, 5)).isTrue();
        assertThat(allowedText(t, h, 7)).containsExactly(3);
        assertThat(allowedText(t, h, 10)).as("whole: an end, white space, or the tokens that spell the close on")
                .containsExactly(EOS, SPACE, LT, LT_SLASH, CLOSE_TAG, CLOSE_OPEN);
        assertThat(allowedText(t, h, 11)).as("half the close: only its rest, or an end").containsExactly(EOS, TC, TC_GT);
        assertThat(t.inCall(h, 11)).isTrue();
        assertThat(t.valid(h, 11)).isTrue();
        assertThat(allowedText(t, h, 12)).as("closed: free again").containsExactly(ALL_TEXT);
        assertThat(t.inCall(h, 12)).isFalse();
        assertThat(t.finished(h, 12)).isFalse();
    }

    @Test
    void aTokenMayHoldTheTriggersEndAndTheJsonsStart() {
        OutputConstraint.Tracker t = OutputConstraint.lazy(TEXT_MASK, null, "<tc>", "</tc>").track(1, new int[]{EOS});
        int[] brace = {100, LT, TC, GT_BRACE};
        assertThat(allowedText(t, brace, 4)).as("'{' came with the trigger's '>'").containsExactly(1, 2, SPACE);
        int[] newline = {100, X_LT_T, C_GT_NL};
        assertThat(t.inCall(newline, 3)).isTrue();
        assertThat(allowedText(t, newline, 3)).as("white space after the trigger, inside the JSON").containsExactly(0, SPACE);
        int[] overlap = {100, LT_LT, TC_GT};
        assertThat(allowedText(t, overlap, 3)).as("'<<tc>' ends with the trigger").containsExactly(0, SPACE);
        int[] again = {100, LT, TC, GT, 0, 1, CLOSE_OPEN};
        assertThat(allowedText(t, again, 7)).as("a close, free text and the next trigger in one token").containsExactly(1, 2, SPACE);
        assertThat(t.inCall(again, 7)).isTrue();
        int[] special = {100, LT, 9, TC, GT};
        assertThat(allowedText(t, special, 5)).as("a special token breaks the trigger's text").containsExactly(ALL_TEXT);
        int[] broken = {100, LT, TC, GT, X};
        assertThat(t.valid(broken, 5)).isFalse();
        assertThat(allowedText(t, broken, 5)).as("a forced token broke the JSON: the close or an end")
                .containsExactly(EOS, LT, LT_SLASH, CLOSE_TAG, CLOSE_OPEN);
        int[] closedBroken = {100, LT, TC, GT, X, CLOSE_TAG};
        assertThat(t.inCall(closedBroken, 6)).isFalse();
    }

    @Test
    void aTextTriggerInsideTheThinkBlockStartsNothing() {
        OutputConstraint.Tracker t = OutputConstraint.lazy(TEXT_MASK, protocol(), "<tc>", "</tc>").track(1, new int[]{EOS});
        int[] h = {100, OPEN, LT, TC, GT, CLOSE, LT, TC, GT};
        assertThat(allowedText(t, h, 5)).as("in the block").containsExactly(ALL_TEXT);
        assertThat(t.inCall(h, 5)).isFalse();
        assertThat(allowedText(t, h, 7)).as("the close of the block forgets the trigger's part before it").containsExactly(ALL_TEXT);
        assertThat(allowedText(t, h, 9)).containsExactly(0, SPACE);
        int[] split = {100, OPEN, LT, CLOSE, TC, GT};
        assertThat(t.inCall(split, 6)).as("a trigger begun in the block and ended after it is none").isFalse();
    }

    @Test
    void extendCountsTheTriggersBytesTheTextEndsWith() {
        byte[] m = "abac".getBytes();
        int k = 0;
        int[] expected = {1, 2, 3, 2, 3, 4};
        byte[] text = "ababac".getBytes();
        for (int i = 0; i < text.length; i++) assertThat(k = OutputConstraint.extend(m, k, text[i])).as("after %d bytes", i + 1).isEqualTo(expected[i]);
        assertThat(OutputConstraint.extend(m, 3, (byte) 'x')).isZero();
    }

    /** A protocol whose think markers are OPEN and CLOSE. */
    static ThinkProtocol protocol() {
        return new ThinkProtocol("<think>", "</think>", OPEN, CLOSE, null, null);
    }
}
