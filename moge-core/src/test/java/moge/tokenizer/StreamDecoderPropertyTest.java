package moge.tokenizer;


import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class StreamDecoderPropertyTest {
    private static final SentencePieceTokenizer TOK = TokenizerFixtures.tokenizer();
    private static final SentencePieceTokenizer RULES = SentencePieceOracleTest.rulesTokenizer();

    @Test
    void pushesPlusFlushEqualDecode() {
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < 1000; i++) assertStreamEqualsDecode(TOK, idSequence(r));
    }

    @Test
    void pushesPlusFlushEqualDecodeWithoutByteFallback() {
        SplittableRandom r = new SplittableRandom(2);
        for (int i = 0; i < 300; i++) {
            int[] ids = new int[r.nextInt(31)];
            for (int j = 0; j < ids.length; j++) ids[j] = r.nextInt(RULES.vocabSize());
            assertStreamEqualsDecode(RULES, ids);
        }
    }

    @Test
    void neverEmitsHalfACharacter() {
        SplittableRandom r = new SplittableRandom(3);
        for (int i = 0; i < 500; i++) neverEmitsHalfACharacter(text(r));
    }

    /** Text that went through byte fallback streams back without any half character showing up as U+FFFD. */
    private static void neverEmitsHalfACharacter(String text) {
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

    /** Rich in byte pieces (39..294) and special tokens (0..38), with a few ids outside the vocabulary. */
    private static int[] idSequence(SplittableRandom r) {
        Integer[] starts = utf8Starts();
        int[] ids = new int[r.nextInt(41)];
        for (int j = 0; j < ids.length; j++) {
            int k = r.nextInt(13);
            if (k < 5) ids[j] = 39 + r.nextInt(256);
            else if (k < 6) ids[j] = r.nextInt(39);
            else if (k < 9) ids[j] = 295 + r.nextInt(985);
            else if (k < 12) ids[j] = starts[r.nextInt(starts.length)];
            else ids[j] = new int[]{-1, 1280, 99999}[r.nextInt(3)];
        }
        return ids;
    }

    private static String text(SplittableRandom r) {
        String[] fixed = {"a", "b", " ", "你", "系", "统", "龘", "😀", "🍕", "é", "\n", "\t", "[unused9]"};
        List<String> parts = new ArrayList<>();
        int n = r.nextInt(31);
        for (int j = 0; j < n; j++) {
            parts.add(r.nextBoolean() ? String.valueOf((char) ('\u4e00' + r.nextInt(0x4fff - 0x4e00 + 1))) : fixed[r.nextInt(fixed.length)]);
        }
        return String.join("", parts);
    }

    /** Lead and continuation bytes of multi-byte UTF-8, so that complete and broken characters both occur. */
    private static Integer[] utf8Starts() {
        int[] bytes = {0xE4, 0xBD, 0xA0, 0xF0, 0x9F, 0x98, 0x80, 0xC3, 0xA9, 0xED, 0xA0, 0xC0, 0xFF};
        Integer[] ids = new Integer[bytes.length];
        for (int i = 0; i < bytes.length; i++) ids[i] = TOK.tokenId(BytePieces.name(bytes[i])).orElseThrow();
        return ids;
    }
}
