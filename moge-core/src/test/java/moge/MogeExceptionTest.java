package moge;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;

import static org.assertj.core.api.Assertions.assertThat;

/** File errors read as words: `moge train --out /proc/foo` used to print "moge: /proc/foo: /proc/foo". */
class MogeExceptionTest {
    @Test
    void fileErrorsSayWhatWentWrong() {
        assertThat(MogeException.io("/proc/foo", new NoSuchFileException("/proc/foo")).getMessage())
                .isEqualTo("/proc/foo: no such file or directory (/proc/foo)");
        assertThat(MogeException.io("/tmp/f/sub", new FileSystemException("/tmp/f/sub", null, "Not a directory")).getMessage())
                .isEqualTo("/tmp/f/sub: Not a directory (/tmp/f/sub)");
        assertThat(MogeException.io("out", new IOException("disk full")).getMessage()).isEqualTo("out: disk full");
    }
}
