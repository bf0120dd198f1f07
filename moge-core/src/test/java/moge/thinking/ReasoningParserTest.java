package moge.thinking;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

class ReasoningParserTest {
    static final ThinkProtocol PANGU = new ThinkProtocol("[unused16]", "[unused17]", 21, 22, " /no_think", " /auto_think");
    static final ThinkProtocol THINK = new ThinkProtocol("<think>", "</think>", 7, 8, " /no_think", null);

    static ReasoningParser.Split split(ThinkProtocol p, String text) {
        return ReasoningParser.split(p, false, text);
    }

    /** Feeds the pieces one by one and concatenates the deltas, finish included. */
    static String[] stream(ThinkProtocol p, boolean opened, List<String> pieces) {
        ReasoningParser parser = new ReasoningParser(p, opened);
        StringBuilder r = new StringBuilder(), c = new StringBuilder();
        for (String s : pieces) {
            ReasoningParser.Delta d = parser.push(s);
            r.append(d.reasoning());
            c.append(d.content());
        }
        ReasoningParser.Delta d = parser.finish();
        r.append(d.reasoning());
        c.append(d.content());
        assertThat(parser.reasoning()).isEqualTo(r.toString());
        assertThat(parser.content()).isEqualTo(c.toString());
        return new String[]{r.toString(), c.toString()};
    }

    @Test
    void pangusOwnOutputShape() {
        ReasoningParser.Split s = split(PANGU, " [unused16] 12+30: 2+0=2, 1+3=4 → 42 [unused17] 42");
        assertThat(s.reasoning()).isEqualTo("12+30: 2+0=2, 1+3=4 → 42");
        assertThat(s.content()).isEqualTo("42");
        assertThat(s.opened()).isTrue();
        assertThat(s.closed()).isTrue();
    }

    @Test
    void emptyBlockOfFastMode() {
        ReasoningParser.Split s = split(PANGU, "[unused16][unused17]The answer is 7.");
        assertThat(s.reasoning()).isEmpty();
        assertThat(s.content()).isEqualTo("The answer is 7.");
    }

    @Test
    void noMarkersIsAllAnswer() {
        assertThat(split(PANGU, "  just an answer\n").content()).isEqualTo("just an answer\n");
        assertThat(split(PANGU, "just an answer").reasoning()).isEmpty();
        assertThat(split(ThinkProtocol.NONE, "x [unused16] y [unused17] z").content()).isEqualTo("x [unused16] y [unused17] z");
    }

    @Test
    void theAnswerKeepsItsTrailingWhitespaceAsAStopStringLeftIt() {
        ReasoningParser.Split s = split(PANGU, "[unused16] who am I [unused17] I am a ");
        assertThat(s.reasoning()).isEqualTo("who am I");
        assertThat(s.content()).isEqualTo("I am a ");
    }

    @Test
    void missingClosingMarkerKeepsEverythingInTheReasoning() {
        ReasoningParser.Split s = split(PANGU, "[unused16]step 1, step 2, and then");
        assertThat(s.reasoning()).isEqualTo("step 1, step 2, and then");
        assertThat(s.content()).isEmpty();
        assertThat(s.opened()).isTrue();
        assertThat(s.closed()).isFalse();
    }

    @Test
    void templateOpenedBlock() {
        ReasoningParser.Split s = ReasoningParser.split(THINK, true, "let me see\n</think>\n\nyes");
        assertThat(s.reasoning()).isEqualTo("let me see");
        assertThat(s.content()).isEqualTo("yes");
        assertThat(THINK.promptOpensReasoning("<|im_start|>assistant\n<think>\n")).isTrue();
        assertThat(THINK.promptOpensReasoning("<|im_start|>assistant\n<think>\n\n</think>\n\n")).isFalse();
        assertThat(THINK.promptOpensReasoning("<think>x</think> hi <|im_start|>assistant\n")).isFalse();
    }

    @Test
    void strayClosingMarkerIsDroppedAndLaterMarkersArePlainText() {
        assertThat(split(PANGU, "[unused17] done").content()).isEqualTo("done");
        ReasoningParser.Split s = split(PANGU, "[unused16]a[unused17]b [unused16]c[unused17]");
        assertThat(s.reasoning()).isEqualTo("a");
        assertThat(s.content()).isEqualTo("b [unused16]c[unused17]");
    }

    @Test
    void blockAfterSomeAnswerText() {
        ReasoningParser.Split s = split(PANGU, "Sure. [unused16]think[unused17] 5");
        assertThat(s.reasoning()).isEqualTo("think");
        assertThat(s.content()).isEqualTo("Sure. 5");
    }

    @Test
    void partialMarkerTextThatIsNotAMarkerStaysText() {
        ReasoningParser.Split s = split(PANGU, "[unused16]see [unused1] and [unused17[unused17]x [unu");
        assertThat(s.reasoning()).isEqualTo("see [unused1] and [unused17");
        assertThat(s.content()).isEqualTo("x [unu");
        assertThat(split(PANGU, "[unu").content()).isEqualTo("[unu");
        assertThat(split(PANGU, "[unused16]abc[unu").reasoning()).isEqualTo("abc[unu");
    }

    static final String[] CASES = {
            " [unused16] 12+30: 2+0=2, 1+3=4 → 42 [unused17] 42",
            "[unused16][unused17]The answer is 7.",
            "[unused16]\nfirst\n\n second \n[unused17]\n\nanswer  line\n  two\n",
            "[unused16]no end in sight",
            "plain answer with [unu in it",
            "Sure. [unused16]think[unused17] 5",
            "[unused17] stray",
            "[unused16]a[unused17]b [unused16]c[unused17]",
            "[[[unused16]][[unused17]]]",
            "   ",
            "",
            "中文[unused16]推理 [unused17]答案",
    };

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})
    void splitAtEveryPositionMatchesWholeText(int which) {
        String text = CASES[which];
        for (ThinkProtocol p : new ThinkProtocol[]{PANGU, ThinkProtocol.NONE}) {
            for (boolean opened : new boolean[]{false, true}) {
                ReasoningParser.Split whole = ReasoningParser.split(p, opened, text);
                for (int i = 0; i <= text.length(); i++) {
                    for (int j = i; j <= text.length(); j++) {
                        String[] got = stream(p, opened, List.of(text.substring(0, i), text.substring(i, j), text.substring(j)));
                        assertThat(got).as("%s cut at %d,%d opened=%s", text, i, j, opened)
                                .containsExactly(whole.reasoning(), whole.content());
                    }
                }
            }
        }
    }

    @Test
    void randomChunkingsOfRandomTextsMatchWholeText() {
        SplittableRandom rnd = new SplittableRandom(7);
        String[] atoms = {"[unused16]", "[unused17]", "[unu", "sed1", "6]", "7]", "[", "]", " ", "\n", "a", "42", "思", "<think>", "</think>"};
        for (int iter = 0; iter < 3000; iter++) {
            StringBuilder sb = new StringBuilder();
            int len = rnd.nextInt(12);
            for (int k = 0; k < len; k++) sb.append(atoms[rnd.nextInt(atoms.length)]);
            String text = sb.toString();
            ThinkProtocol p = rnd.nextBoolean() ? PANGU : THINK;
            boolean opened = rnd.nextInt(4) == 0;
            ReasoningParser.Split whole = ReasoningParser.split(p, opened, text);
            List<String> pieces = new ArrayList<>();
            int at = 0;
            while (at < text.length()) {
                int n = 1 + rnd.nextInt(Math.min(6, text.length() - at));
                pieces.add(text.substring(at, at + n));
                at += n;
            }
            assertThat(stream(p, opened, pieces)).as("'%s' in %s", text, pieces).containsExactly(whole.reasoning(), whole.content());
            // the parts never contain the whitespace they are trimmed of
            assertThat(whole.reasoning()).isEqualTo(whole.reasoning().strip());
            assertThat(whole.content()).isEqualTo(whole.content().stripLeading());
        }
    }

    @Test
    void nothingIsEmittedBeforeItIsCertain() {
        ReasoningParser p = new ReasoningParser(PANGU, false);
        assertThat(p.push(" [unu").isEmpty()).isTrue();
        assertThat(p.push("sed16]").isEmpty()).isTrue();
        assertThat(p.inReasoning()).isTrue();
        assertThat(p.push("carry the one ").reasoning()).isEqualTo("carry the one");
        assertThat(p.push("[unused1").isEmpty()).isTrue();
        ReasoningParser.Delta d = p.push("7] 4");
        assertThat(d.reasoning()).isEmpty();
        assertThat(d.content()).isEqualTo("4");
        assertThat(p.push("2\n").content()).isEqualTo("2\n");
        assertThat(p.finish().isEmpty()).isTrue();
        assertThat(p.content()).isEqualTo("42\n");
    }

    @Test
    void markerIdsCountEvenWhenTheDecoderHidesThem() {
        ReasoningParser p = new ReasoningParser(PANGU, false);
        p.pushToken(21, "");
        p.pushToken(5, "x");
        p.pushToken(22, "");
        p.pushToken(6, "y");
        p.finish();
        assertThat(p.result()).isEqualTo(new ReasoningParser.Split("x", "y", true, true));
    }
}
