package moge.cli;

import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;

import static org.assertj.core.api.Assertions.assertThat;

class ProgressTest {
    /** A clock the test moves: {@code now[0]} nanoseconds. */
    private final long[] now = {0};

    @Test
    void outsideATerminalASlowJobPrintsAPlainLineAtEachTenth() {
        StringWriter s = new StringWriter();
        Progress p = new Progress(new PrintWriter(s), "writing x", 1000, false, () -> now[0]);
        for (int i = 0; i <= 1000; i += 5) {
            now[0] += 100_000_000L; // 20 s in all
            p.update(i);
        }
        p.done();
        String[] lines = s.toString().split("\n");
        assertThat(s.toString()).doesNotContain("\r");
        assertThat(lines).hasSize(10);
        assertThat(lines[0]).startsWith("writing x [###...........................]  10%");
        assertThat(lines[9]).startsWith("writing x [##############################] 100% 20.1s");
    }

    @Test
    void outsideATerminalAShortJobPrintsOneLine() {
        StringWriter s = new StringWriter();
        Progress p = new Progress(new PrintWriter(s), "writing x", 1000, false, () -> now[0]);
        for (int i = 0; i <= 1000; i += 7) {
            now[0] += 1_000_000L;
            p.update(i);
        }
        p.done();
        assertThat(s.toString().split("\n")).hasSize(1);
        assertThat(s.toString()).startsWith("writing x [##############################] 100%");
    }

    @Test
    void onATerminalTheLineIsRedrawnInPlace() {
        StringWriter s = new StringWriter();
        Progress p = new Progress(new PrintWriter(s), "writing x", 10, true, () -> now[0]);
        p.update(0);
        p.done();
        assertThat(s.toString()).startsWith("\rwriting x [").contains("\rwriting x [##############################] 100%").endsWith("\n");
    }
}
