package moge.tokenizer;

import moge.MogeException;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SentencePieceTokenizerTest {
    private final SentencePieceTokenizer tok = TokenizerFixtures.tokenizer();

    private int id(String piece) {
        return tok.tokenId(piece).orElseThrow();
    }

    private int[] bytesOf(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        int[] ids = new int[b.length];
        for (int i = 0; i < b.length; i++) ids[i] = id(BytePieces.name(b[i] & 0xff));
        return ids;
    }

    @Test
    void specialTokensAreMatchedAtomicallyAndEachSegmentGetsItsOwnPrefix() {
        assertThat(tok.encode("a[unused9]b")).containsExactly(id("▁a"), id("[unused9]"), id("▁b"));
        // longest match: [unused10] wins over its prefix [unused1]
        assertThat(tok.encode("[unused1][unused10]")).containsExactly(id("[unused1]"), id("[unused10]"));
        assertThat(tok.encode("[unused9][unused10]")).containsExactly(14, 15);
        // spaces next to a special token are ordinary text (the config's lstrip/rstrip are false)
        assertThat(tok.encode("a [unused9] b")).containsExactly(id("▁a"), id("▁"), 14, id("▁"), id("▁b"));
        // an incomplete special token is just text
        assertThat(tok.encode("[unused")).doesNotContain(14, 15);
        assertThat(tok.encode("<s>")).containsExactly(1);
    }

    @Test
    void stripFlagsOfAddedTokensSwallowNeighbouringWhitespace() {
        SentencePieceModelFile m = SentencePieceModelFile.read(TokenizerFixtures.MOE_DIR.resolve("tokenizer.model"));
        SentencePieceTokenizer stripping = new SentencePieceTokenizer(m.pieces(), m.scores(), m.types(),
                SentencePieceTokenizer.Settings.of(m), tok.special(),
                List.of(new SentencePieceTokenizer.AddedToken(14, "[unused9]", true, true)), null);
        assertThat(stripping.encode("a \t[unused9]\u00a0 b")).containsExactly(id("▁a"), 14, id("▁b"));
        assertThat(stripping.encode(" [unused9] ")).containsExactly(14);
    }

    @Test
    void charactersOutsideTheVocabularyFallBackToUtf8Bytes() {
        assertThat(tok.tokenId("😀")).isEmpty();
        assertThat(tok.encode("😀")).startsWith(id("▁")).endsWith(bytesOf("😀"));
        assertThat(tok.encode("龘")).containsExactly(concat(new int[]{id("▁")}, bytesOf("龘")));
        // CJK that is in the vocabulary stays a piece
        assertThat(tok.encode("系统")).containsExactly(id("▁"), id("系"), id("统"));
        assertThat(tok.decode(tok.encode("I ❤ 🍕 and 龘!"))).isEqualTo("I ❤ 🍕 and 龘!");
        // a newline has no piece of its own here either
        assertThat(tok.encode("a\nb")).containsSubsequence(id("<0x0A>"));
    }

    @Test
    void decodeDropsOnlyTheDummyPrefixOfEachRun() {
        int[] ids = {id("▁the"), id("[unused16]"), id("▁think"), id("[unused17]"), id("▁the")};
        assertThat(tok.decode(ids)).isEqualTo("the[unused16]think[unused17]the");
        assertThat(tok.decode(new int[]{id("▁"), id("▁the")})).isEqualTo(" the");
        assertThat(tok.decode(new int[]{1, id("▁the")})).isEqualTo("<s>the");
        // invalid UTF-8: one U+FFFD per bad byte, like SentencePiece (Python's 'replace' would give one for E4 BD)
        assertThat(tok.decode(new int[]{id("<0xE4>"), id("<0xBD>"), id("▁a")})).isEqualTo("\uFFFD\uFFFD a");
        assertThat(tok.decode(new int[]{id("<0xE4>"), id("<0xBD>"), id("<0xA0>")})).isEqualTo("你");
    }

    @Test
    void idsOutsideTheVocabularyDecodeToNothing() {
        assertThat(tok.decode(new int[]{id("▁a"), 5000, -1, id("▁b")})).isEqualTo("a b");
        assertThatThrownBy(() -> tok.piece(5000)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void vocabularyLookups() {
        assertThat(tok.vocabSize()).isEqualTo(1280);
        assertThat(tok.piece(15)).isEqualTo("[unused10]");
        assertThat(tok.tokenId("[unused10]")).hasValue(15);
        assertThat(tok.tokenId("nope")).isEmpty();
        assertThat(tok.pieceType(1)).isEqualTo(PieceType.CONTROL);
        assertThat(tok.addedTokens()).hasSize(39);
        assertThat(tok.encodePrompt("hi")).startsWith(1);
    }

    @Test
    void arrayConstructorMatchesTheHfLoaderOnChatText() {
        SentencePieceModelFile m = SentencePieceModelFile.read(TokenizerFixtures.MOE_DIR.resolve("tokenizer.model"));
        // as GGUF would give it: CONTROL/USER_DEFINED/UNKNOWN pieces become the special tokens
        SentencePieceTokenizer fromArrays = new SentencePieceTokenizer(m.pieces(), m.scores(), m.types(),
                true, true, new SpecialTokens(1, 15, 0, 0, true));
        String chat = "[unused9]系统：[unused10][unused9]用户：Tell me  a joke\t/no_think[unused10][unused9]助手：";
        assertThat(fromArrays.encodePrompt(chat)).containsExactly(tok.encodePrompt(chat));
        assertThat(fromArrays.decode(tok.encode(chat))).isEqualTo(tok.decode(tok.encode(chat)));
    }

    @Test
    void bpeTiesGoToTheLeftmostPair() {
        String[] pieces = {"<unk>", "a", "b", "ab", "ba"};
        int[] types = {PieceType.UNKNOWN, 1, 1, 1, 1};
        SentencePieceTokenizer t = toy(pieces, new float[]{0, -5, -5, -1, -1}, types);
        assertThat(t.encode("aba")).containsExactly(3, 1);
        SentencePieceTokenizer preferBa = toy(pieces, new float[]{0, -5, -5, -1, -0.5f}, types);
        assertThat(preferBa.encode("aba")).containsExactly(1, 4);
    }

    @Test
    void unusedPiecesAreSplitBackIntoTheirParts() {
        String[] pieces = {"<unk>", "a", "b", "c", "ab", "abc"};
        int[] types = {PieceType.UNKNOWN, 1, 1, 1, 1, PieceType.UNUSED};
        SentencePieceTokenizer t = toy(pieces, new float[]{0, -5, -5, -5, -2, -1}, types);
        assertThat(t.encode("abc")).containsExactly(4, 3);
    }

    @Test
    void withoutByteFallbackARunOfUnknownCharactersIsOneUnk() {
        String[] pieces = {"<unk>", "a", "b"};
        SentencePieceTokenizer t = toy(pieces, new float[]{0, -1, -1}, new int[]{PieceType.UNKNOWN, 1, 1});
        assertThat(t.encode("a☃☃b☃")).containsExactly(1, 0, 2, 0);
        assertThat(t.decode(new int[]{1, 0, 2})).isEqualTo("a<unk>b"); // <unk> is a special token by default
    }

    @Test
    void mismatchedArraysAreRejected() {
        assertThatThrownBy(() -> new SentencePieceTokenizer(new String[]{"a", "b"}, new float[1], null, true, true,
                new SpecialTokens(-1, -1, -1, -1, false))).isInstanceOf(MogeException.class).hasMessageContaining("2 pieces");
    }

    @Test
    void longInputsEncodeQuickly() {
        Random rnd = new Random(1);
        String[] words = {"the", "quick", "brown", "fox", "世界", "😀", "ask", "龘", "[unused9]", "a\tb", "  "};
        StringBuilder sb = new StringBuilder();
        while (sb.length() < 200_000) sb.append(words[rnd.nextInt(words.length)]).append(' ');
        String text = "x" + sb;
        long t0 = System.nanoTime();
        int[] ids = tok.encode(text);
        long t1 = System.nanoTime();
        String back = tok.decode(ids);
        long t2 = System.nanoTime();
        System.out.printf("encode 200k chars -> %d ids in %d ms, decode in %d ms%n", ids.length, (t1 - t0) / 1_000_000, (t2 - t1) / 1_000_000);
        // lossless: the dummy prefix each segment gets is dropped again by decoding each run on its own
        assertThat(back).isEqualTo(text);

        String same = "x".repeat(200_000);
        assertThat(tok.decode(tok.encode(same))).isEqualTo(same);
    }

    private static SentencePieceTokenizer toy(String[] pieces, float[] scores, int[] types) {
        return new SentencePieceTokenizer(pieces, scores, types,
                new SentencePieceTokenizer.Settings(false, false, true, false, null, " \u2047 "),
                new SpecialTokens(-1, -1, -1, 0, false), null, null);
    }

    private static int[] concat(int[] a, int[] b) {
        int[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
