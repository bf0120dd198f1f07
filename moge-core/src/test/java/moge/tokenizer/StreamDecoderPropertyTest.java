package moge.tokenizer;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class StreamDecoderPropertyTest {
    private static final SentencePieceTokenizer TOK = TokenizerFixtures.tokenizer();
    private static final SentencePieceTokenizer RULES = SentencePieceOracleTest.rulesTokenizer();

    @Property(tries = 1000)
    void pushesPlusFlushEqualDecode(@ForAll("idSequences") List<Integer> ids) {
        assertStreamEqualsDecode(TOK, ids.stream().mapToInt(Integer::intValue).toArray());
    }

    @Property(tries = 300)
    void pushesPlusFlushEqualDecodeWithoutByteFallback(@ForAll("rulesIds") List<Integer> ids) {
        assertStreamEqualsDecode(RULES, ids.stream().mapToInt(Integer::intValue).toArray());
    }

    /** Text that went through byte fallback streams back without any half character showing up as U+FFFD. */
    @Property(tries = 500)
    void neverEmitsHalfACharacter(@ForAll("texts") String text) {
        int[] ids = TOK.encode(text);
        StreamDecoder d = TOK.newStreamDecoder();
        StringBuilder all = new StringBuilder();
        for (int id : ids) {
            String piece = d.push(id);
            assertThat(piece).doesNotContain("\uFFFD");
            assertNoSplitSurrogate(piece);
            all.append(piece);
        }
        all.append(d.flush());
        assertThat(all.toString()).isEqualTo(TOK.decode(ids));
    }

    private static void assertStreamEqualsDecode(SentencePieceTokenizer tok, int[] ids) {
        StreamDecoder d = tok.newStreamDecoder();
        StringBuilder all = new StringBuilder();
        for (int id : ids) {
            String piece = d.push(id);
            assertNoSplitSurrogate(piece);
            all.append(piece);
        }
        String tail = d.flush();
        assertNoSplitSurrogate(tail);
        all.append(tail);
        assertThat(all.toString()).isEqualTo(tok.decode(ids));
    }

    private static void assertNoSplitSurrogate(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c)) {
                assertThat(i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))).as("paired surrogate in %s", s).isTrue();
                i++;
            } else {
                assertThat(Character.isLowSurrogate(c)).as("lone low surrogate in %s", s).isFalse();
            }
        }
    }

    @Provide
    Arbitrary<List<Integer>> idSequences() {
        // rich in byte pieces (39..294) and special tokens (0..38), with a few ids outside the vocabulary
        Arbitrary<Integer> id = Arbitraries.frequencyOf(
                Tuple.of(5, Arbitraries.integers().between(39, 294)),
                Tuple.of(1, Arbitraries.integers().between(0, 38)),
                Tuple.of(3, Arbitraries.integers().between(295, 1279)),
                Tuple.of(3, Arbitraries.of(utf8Starts())),
                Tuple.of(1, Arbitraries.of(-1, 1280, 99999)));
        return id.list().ofMaxSize(40);
    }

    @Provide
    Arbitrary<List<Integer>> rulesIds() {
        return Arbitraries.integers().between(0, RULES.vocabSize() - 1).list().ofMaxSize(30);
    }

    @Provide
    Arbitrary<String> texts() {
        Arbitrary<String> cjk = Arbitraries.chars().range('\u4e00', '\u4fff').map(String::valueOf);
        Arbitrary<String> fixed = Arbitraries.of("a", "b", " ", "你", "系", "统", "龘", "😀", "🍕", "é", "\n", "\t", "[unused9]");
        return Arbitraries.oneOf(cjk, fixed).list().ofMaxSize(30).map(parts -> String.join("", parts));
    }

    /** Lead and continuation bytes of multi-byte UTF-8, so that complete and broken characters both occur. */
    private static Integer[] utf8Starts() {
        int[] bytes = {0xE4, 0xBD, 0xA0, 0xF0, 0x9F, 0x98, 0x80, 0xC3, 0xA9, 0xED, 0xA0, 0xC0, 0xFF};
        Integer[] ids = new Integer[bytes.length];
        for (int i = 0; i < bytes.length; i++) ids[i] = TOK.tokenId(BytePieces.name(bytes[i])).orElseThrow();
        return ids;
    }
}
