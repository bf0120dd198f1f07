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
        ChatCommand c = new ChatCommand();
        picocli.CommandLine cl = new picocli.CommandLine(c);
        cl.parseArgs("--model", BadInputTest.FIX.resolve("pangu-moe-tiny").toString(), "-n", "5");
        StringWriter out = new StringWriter();
        c.chat(new BufferedReader(new StringReader("first question\n\nsecond question\n/reset\nthird\n")), new PrintWriter(out, true), false);
        String[] lines = out.toString().split("\n", -1);
        // three answers (one line each, the blank line is skipped) and the reset notice
        assertThat(out.toString()).contains("(conversation cleared)");
        assertThat(lines.length).isGreaterThanOrEqualTo(4);
    }
}
