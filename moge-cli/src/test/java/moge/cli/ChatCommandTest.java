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

    /** What a chat on the tiny fixture prints for these input lines. */
    private static String chat(String input, boolean interactive) {
        ChatCommand c = new ChatCommand();
        new picocli.CommandLine(c).parseArgs("--model", BadInputTest.FIX.resolve("pangu-moe-tiny").toString(), "-n", "5");
        StringWriter out = new StringWriter();
        c.chat(new BufferedReader(new StringReader(input)), new PrintWriter(out, true), interactive);
        return out.toString();
    }
}
