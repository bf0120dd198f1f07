package moge.cli;

import moge.MogeException;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;

/** What `./moge` does without arguments: the main job on the model shipped in the repository. */
final class DefaultRun {
    private DefaultRun() {
    }

    static Path defaultModel() {
        String home = System.getenv("MOGE_HOME");
        Path root = home != null ? Path.of(home) : Path.of("");
        Path p = root.resolve("models/demo");
        if (!Files.isDirectory(p)) throw new MogeException(p + ": the shipped demo model is missing; pass --model");
        return p;
    }

    static void run(PrintWriter out, PrintWriter err) {
        throw new MogeException("the default run is not available yet");
    }
}
