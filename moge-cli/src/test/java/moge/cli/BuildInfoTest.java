package moge.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

class BuildInfoTest {
    private static final String HASH = "0123456789abcdef0123456789abcdef01234567";

    @Test
    void commitFromALooseRefAPackedRefOrADetachedHead(@TempDir Path git) throws Exception {
        assertThat(BuildInfo.commit(git)).isEqualTo("unknown");
        Files.writeString(git.resolve("HEAD"), "ref: refs/heads/main\n");
        Files.writeString(git.resolve("packed-refs"), "# pack-refs with: peeled\n" + HASH + " refs/heads/main\n");
        assertThat(BuildInfo.commit(git)).isEqualTo("0123456");
        Files.createDirectories(git.resolve("refs/heads"));
        Files.writeString(git.resolve("refs/heads/main"), "fedcba9876543210fedcba9876543210fedcba98\n");
        assertThat(BuildInfo.commit(git)).isEqualTo("fedcba9");
        Files.writeString(git.resolve("HEAD"), HASH + "\n");
        assertThat(BuildInfo.commit(git)).isEqualTo("0123456");
        Files.writeString(git.resolve("HEAD"), "garbage\n");
        assertThat(BuildInfo.commit(git)).isEqualTo("unknown");
    }

    @Test
    void cpuNamesTheCoreCount() {
        assertThat(BuildInfo.cpu()).endsWith(", " + Runtime.getRuntime().availableProcessors() + " cpus");
    }
}
