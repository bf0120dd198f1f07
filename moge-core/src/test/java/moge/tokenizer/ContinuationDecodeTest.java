package moge.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** Generated text that continues a prompt (raw completions): the prompt's text plus it reads as the whole text. */
class ContinuationDecodeTest {
    private static final SentencePieceTokenizer TOK = TokenizerFixtures.tokenizer();
    private static final String[] WORDS = {"a", "tiny", "model", "of", "the", "MoGE", "family", "你好", "12", "+", "7", "=?", "\n"};

    @Test
    void promptTextPlusContinuationIsTheWholeText() {
        SplittableRandom r = new SplittableRandom(7);
        int checked = 0;
        for (int i = 0; i < 300; i++) {
            String text = sentence(r);
            int[] ids = TOK.encode(text);
            if (ids.length < 2) continue;
            String whole = TOK.decode(ids);
            int k = 1 + r.nextInt(ids.length - 1);
            String prompt = TOK.decode(Arrays.copyOf(ids, k));
            String rest = stream(TOK.newStreamDecoder(TextMode.CONTINUATION), Arrays.copyOfRange(ids, k, ids.length));
            assertThat(prompt + rest).as("split of %s at %d", Arrays.toString(ids), k).isEqualTo(whole);
            checked++;
        }
        assertThat(checked).isGreaterThan(200);
    }

    @Test
    void aReplyDropsTheLeadingSpaceAContinuationKeepsIt() {
        int[] ids = TOK.encode("a tiny model"); // the dummy prefix makes the first piece "▁a"
        assertThat(TOK.piece(ids[0])).startsWith("▁");
        assertThat(stream(TOK.newStreamDecoder(TextMode.CHAT), ids)).isEqualTo("a tiny model");
        assertThat(stream(TOK.newStreamDecoder(TextMode.CONTINUATION), ids)).isEqualTo(" a tiny model");
    }

    @Test
    void specialTokensAreLeftOutOfAContinuationUnlessAskedFor() {
        int open = TOK.tokenId("[unused16]").orElseThrow(), close = TOK.tokenId("[unused17]").orElseThrow();
        int end = TOK.tokenId("[unused10]").orElseThrow();
        int[] a = TOK.encode("one"), b = TOK.encode("two");
        int[] ids = concat(new int[]{open}, a, new int[]{close}, b, new int[]{end});
        assertThat(stream(TOK.newStreamDecoder(TextMode.CONTINUATION), ids)).isEqualTo(" one two");
        assertThat(stream(TOK.newStreamDecoder(TextMode.CONTINUATION_WITH_SPECIAL), ids))
                .isEqualTo("[unused16] one[unused17] two[unused10]");
        // a chat reply keeps the markers for the reasoning split, each run's leading space dropped as Hugging Face does
        assertThat(stream(TOK.newStreamDecoder(TextMode.CHAT), ids)).isEqualTo(TOK.decode(ids));
    }

    private static String sentence(SplittableRandom r) {
        StringBuilder sb = new StringBuilder();
        int n = 1 + r.nextInt(8);
        for (int i = 0; i < n; i++) {
            if (i > 0 && r.nextInt(4) > 0) sb.append(' ');
            sb.append(WORDS[r.nextInt(WORDS.length)]);
        }
        return sb.toString();
    }

    private static String stream(StreamDecoder d, int[] ids) {
        StringBuilder sb = new StringBuilder();
        for (int id : ids) sb.append(d.push(id));
        return sb.append(d.flush()).toString();
    }

    private static int[] concat(int[]... parts) {
        return Arrays.stream(parts).flatMapToInt(Arrays::stream).toArray();
    }
}
