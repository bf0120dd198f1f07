package moge.cli;

import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;

import static org.assertj.core.api.Assertions.assertThat;

class ProgressTest {
    @Test
    void outsideATerminalEveryTenthIsAPlainLine() {
        StringWriter s = new StringWriter();
        Progress p = new Progress(new PrintWriter(s), "writing x", 1000, false);
        for (int i = 0; i <= 1000; i += 7) p.update(i);
        p.done();
        String[] lines = s.toString().split("\n");
        assertThat(s.toString()).doesNotContain("\r");
        assertThat(lines).hasSize(11);
        assertThat(lines[0]).startsWith("writing x [..............................]   0%");
        assertThat(lines[10]).startsWith("writing x [##############################] 100%");
    }

    @Test
    void onATerminalTheLineIsRedrawnInPlace() {
        StringWriter s = new StringWriter();
        Progress p = new Progress(new PrintWriter(s), "writing x", 10, true);
        p.update(0);
        p.done();
        assertThat(s.toString()).startsWith("\rwriting x [").contains("\rwriting x [##############################] 100%").endsWith("\n");
    }
}
