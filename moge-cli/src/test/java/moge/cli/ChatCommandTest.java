package moge.cli;

import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.PrintWriter;
import java.io.StringReader;
import java.io.StringWriter;

import static org.assertj.core.api.Assertions.assertThat;

class ChatCommandTest {
    @Test
    void pipedInputAnswersEachLineAndStopsAtEnd() {
        String out = chat("first question\n\nsecond question\n/reset\nthird\n", false);
        String[] lines = out.split("\n", -1);
        // three answers (one line each, the blank line is skipped) and the reset notice
        assertThat(out).contains("(conversation cleared)");
        assertThat(lines.length).isGreaterThanOrEqualTo(4);
    }

    @Test
    void aTypedNoThinkSwitchIsAFastTurnInTheFooter() {
        assertThat(chat("What is 2+3? /no_think\n", true)).contains("[fast: ").doesNotContain("[slow: ");
    }

    @Test
    void aLongConversationDropsOldTurnsBeforeAnswersRunOutOfRoom() {
        // 40 positions hold two short turns; the third and later ones used to get what was left: a token or none
        String out = chat("one two three\nfour five six\nseven eight nine\nten eleven twelve\n", true, "--ctx", "40", "--think", "fast");
        java.util.List<String> footers = out.lines().filter(l -> l.strip().startsWith("[fast: ")).toList();
        assertThat(footers).hasSize(4).allSatisfy(f -> assertThat(f).contains("[fast: 5 tokens"));
        // a message longer than the whole context is refused in a line on stderr; the chat goes on (it ended with exit 1)
        String longLine = "word ".repeat(60);
        String after = chat(longLine + "\none two three\n", true, "--ctx", "40", "--think", "fast");
        assertThat(after.lines().filter(l -> l.strip().startsWith("[fast: ")).toList()).hasSize(1);
    }

    /** What a chat on the tiny fixture prints for these input lines. */
    private static String chat(String input, boolean interactive, String... extra) {
        ChatCommand c = new ChatCommand();
        java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("--model", BadInputTest.FIX.resolve("pangu-moe-tiny").toString(), "-n", "5"));
        args.addAll(java.util.List.of(extra));
        new picocli.CommandLine(c).parseArgs(args.toArray(String[]::new));
        StringWriter out = new StringWriter();
        c.chat(new BufferedReader(new StringReader(input)), new PrintWriter(out, true), interactive);
        return out.toString();
    }
}
