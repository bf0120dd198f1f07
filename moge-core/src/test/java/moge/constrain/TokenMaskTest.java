package moge.constrain;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

class TokenMaskTest {
    /** Random tokens over JSON's bytes and some UTF-8, with every single byte present (as byte fallback has). */
    static byte[][] randomVocab(int size, long seed) {
        Random r = new Random(seed);
        byte[] alphabet = "{}[]\":,. \n-0123456789eEabcnrtuflsx\\".getBytes(StandardCharsets.UTF_8);
        byte[] utf8 = "é€😀".getBytes(StandardCharsets.UTF_8);
        byte[][] v = new byte[size][];
        for (int i = 0; i < 256 && i < size; i++) v[i] = new byte[]{(byte) i};
        for (int i = 256; i < size; i++) {
            byte[] t = new byte[1 + r.nextInt(6)];
            for (int k = 0; k < t.length; k++) t[k] = r.nextInt(10) == 0 ? utf8[r.nextInt(utf8.length)] : alphabet[r.nextInt(alphabet.length)];
            v[i] = t;
        }
        v[size - 1] = null; // a special token: never allowed
        return v;
    }

    @Test
    void trieWalkEqualsCheckingEveryToken() {
        byte[][] tokens = randomVocab(3000, 7);
        TokenVocab vocab = new TokenVocab(tokens, 3008);
        JsonMatcher m = new JsonMatcher(SchemaCompiler.compile(JsonMatcherTest.json(JsonMatcherTest.PERSON)));
        TokenMask mask = new TokenMask(m, vocab);
        String[] prefixes = {"", "{", "{\"", "{\"na", "{\"name\":\"A", "{\"name\":\"A\",\"age\":1", "{\"name\":\"A\",\"age\":1,\"tags\":[\"a",
                "{\"name\":\"A\",\"age\":1,\"kind\":\"person\"}", "{\"name\":\"" + "é".repeat(5)};
        for (String p : prefixes) {
            MatchState s = m.advance(m.start(), p.getBytes(StandardCharsets.UTF_8));
            assertThat(s).as(p).isNotNull();
            long[] bits = mask.allowed(s);
            int allowed = 0;
            for (int id = 0; id < 3008; id++) {
                boolean expect = id < tokens.length && tokens[id] != null && m.advance(s, tokens[id]) != null;
                assertThat((bits[id >>> 6] >>> id & 1) == 1).as("token %d %s after %s", id,
                        id < tokens.length && tokens[id] != null ? Arrays.toString(tokens[id]) : "-", p).isEqualTo(expect);
                if (expect) allowed++;
            }
            assertThat(allowed).as("something is allowed after %s", p).isPositive();
        }
        assertThat(mask.stats()[1]).isEqualTo(prefixes.length);
        mask.allowed(m.start());
        assertThat(mask.stats()[0]).as("a repeated state is a cache hit").isEqualTo(1);
    }

    @Test
    void trackerFollowsRejectedSpeculationAndTheThinkBlock() {
        byte[][] tokens = {"{".getBytes(), "}".getBytes(), "\"a\"".getBytes(), ":".getBytes(), "1".getBytes(), null, null, null, " ".getBytes()};
        int open = 5, close = 6, eos = 7;
        TokenMask mask = new TokenMask(new JsonMatcher(Schema.ANY_OBJECT), new TokenVocab(tokens, 9));
        OutputConstraint c = new OutputConstraint(mask, open, close);
        OutputConstraint.Tracker t = c.track(2, new int[]{eos});
        int[] h = {100, 101, 0, 2, 3, 4, 1, 0, 0};
        // before anything: a JSON start, white space or the think block's opening
        assertThat(allowed(t, h, 2)).containsExactly(0, open, 8);
        assertThat(allowed(t, h, 3)).containsExactly(1, 2, 8);
        assertThat(allowed(t, h, 6)).as("the number may go on").containsExactly(1, 4, 8);
        assertThat(allowed(t, h, 7)).as("complete: the end or white space").containsExactly(eos, 8);
        assertThat(t.finished(h, 7)).isFalse();
        // a rejected speculative token (3 instead of 4 at position 5) is forgotten
        int[] g = {100, 101, 0, 2, 3, 3};
        assertThat(allowed(t, g, 6)).as("broken (a forced token): only the end is left").containsExactly(eos);
        assertThat(t.valid(g, 6)).isFalse();
        assertThat(allowed(t, h, 6)).containsExactly(1, 4, 8);
        assertThat(t.valid(h, 7)).isTrue();

        int[] think = {100, 101, open, 1, 3, close, 0, 1, 8};
        assertThat(allowed(t, think, 3)).as("inside the think block: anything but the end (the JSON is still to come)")
                .containsExactly(0, 1, 2, 3, 4, open, close, 8);
        assertThat(allowed(t, think, 6)).as("after it: JSON from the start").containsExactly(0, 8);
        assertThat(t.finished(think, 8)).isFalse();
        assertThat(t.finished(think, 9)).as("after the value's white space, only the end").isTrue();
        assertThat(allowed(t, think, 9)).containsExactly(eos);

        // a template that opens the block itself: the reply starts inside it
        OutputConstraint.Tracker inside = c.track(3, new int[]{eos});
        int[] opened = {100, open, 101, 1, close, 0};
        assertThat(allowed(inside, opened, 3)).hasSize(8).doesNotContain(eos);
        assertThat(allowed(inside, opened, 5)).containsExactly(0, 8);
    }

    static int[] allowed(OutputConstraint.Tracker t, int[] history, int len) {
        float[] logits = new float[9];
        t.apply(logits, 9, history, len);
        return java.util.stream.IntStream.range(0, 9).filter(i -> logits[i] != Float.NEGATIVE_INFINITY).toArray();
    }
}
