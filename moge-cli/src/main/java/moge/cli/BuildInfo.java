package moge.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** What llama-bench records about the build and the machine, read where they live (no build-time plugin). */
final class BuildInfo {
    private BuildInfo() {
    }

    /** The short commit of the checkout the launcher runs from ({@code $MOGE_HOME/.git}), or "unknown". */
    static String commit() {
        String home = System.getenv("MOGE_HOME");
        return home == null ? "unknown" : commit(Path.of(home, ".git"));
    }

    static String commit(Path git) {
        try {
            String head = Files.readString(git.resolve("HEAD")).trim();
            if (!head.startsWith("ref: ")) return shortHash(head);
            String ref = head.substring(5);
            Path loose = git.resolve(ref);
            if (Files.isRegularFile(loose)) return shortHash(Files.readString(loose).trim());
            Path packed = git.resolve("packed-refs");
            if (Files.isRegularFile(packed)) {
                for (String line : Files.readAllLines(packed)) {
                    if (line.endsWith(" " + ref)) return shortHash(line.substring(0, line.indexOf(' ')));
                }
            }
        } catch (IOException | RuntimeException e) {
            // not a git checkout (an unpacked jar, a copied tree): nothing to report
        }
        return "unknown";
    }

    private static String shortHash(String h) {
        return h.matches("[0-9a-f]{40}") ? h.substring(0, 7) : "unknown";
    }

    /** The CPU's model name from /proc/cpuinfo and the core count, or the architecture where there is none. */
    static String cpu() {
        int cpus = Runtime.getRuntime().availableProcessors();
        try {
            List<String> lines = Files.readAllLines(Path.of("/proc/cpuinfo"));
            for (String l : lines) {
                if (l.startsWith("model name")) return l.substring(l.indexOf(':') + 1).trim() + ", " + cpus + " cpus";
            }
        } catch (IOException | RuntimeException e) {
            // not Linux
        }
        return System.getProperty("os.arch") + ", " + cpus + " cpus";
    }
}
