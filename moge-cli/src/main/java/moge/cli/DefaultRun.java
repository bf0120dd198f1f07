package moge.cli;

import moge.MogeException;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;

/** What `./moge` does without arguments: chat with the demo model shipped in the repository. */
final class DefaultRun {
    private DefaultRun() {
    }

    static Path defaultModel() {
        String home = System.getenv("MOGE_HOME");
        Path root = home != null ? Path.of(home) : Path.of("");
        Path p = root.resolve("models/demo").toAbsolutePath().normalize();
        if (!Files.isDirectory(p)) throw new MogeException(p + ": the shipped demo model is missing; pass --model");
        return p;
    }

    static void run(PrintWriter out, PrintWriter err) {
        ChatCommand chat = new ChatCommand();
        CommandLine cl = new CommandLine(chat);
        cl.setOut(out);
        cl.setErr(err);
        cl.parseArgs();
        chat.spec = cl.getCommandSpec();
        chat.run();
    }
}
