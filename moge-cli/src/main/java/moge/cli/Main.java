package moge.cli;

import moge.MogeException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;

/**
 * The moge command line. Each subcommand lives in its own class; user-facing failures (MogeException)
 * print one line and exit 1, without a stack trace unless --debug is given.
 */
@Command(name = "moge", mixinStandardHelpOptions = true, version = "moge 0.1.0",
        description = "Pure-Java inference and serving for Mixture-of-Grouped-Experts models (openPangu).",
        subcommands = {
                GenerateCommand.class,
                EmbedCommand.class,
                ChatCommand.class,
                EvalCommand.class,
                InspectCommand.class,
                BenchCommand.class,
                PerplexityCommand.class,
                TokenizeCommand.class,
                ConvertCommand.class,
                RandomModelCommand.class,
                ServeCommand.class,
                WorkerCommand.class,
                MoeStatsCommand.class,
                TrainCommand.class,
                MergeCommand.class,
                CommandLine.HelpCommand.class
        })
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        // No subcommand: the main job on the shipped default model.
        DefaultRun.run(spec.commandLine().getOut(), spec.commandLine().getErr());
    }

    public static void main(String[] args) {
        System.exit(execute(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the CLI with the given streams and returns the exit code (tests call this directly). */
    public static int execute(String[] args, PrintWriter out, PrintWriter err) {
        boolean debug = false;
        for (String a : args) if (a.equals("--debug")) debug = true;
        final boolean showTrace = debug;
        CommandLine cl = new CommandLine(new Main());
        cl.setOut(out);
        cl.setErr(err);
        cl.setExecutionExceptionHandler((ex, line, parse) -> {
            Throwable root = ex;
            while (!(root instanceof MogeException) && root.getCause() != null && root.getCause() != root) root = root.getCause();
            if (root instanceof MogeException) {
                err.println("moge: " + root.getMessage());
            } else {
                err.println("moge: internal error: " + ex);
            }
            if (showTrace) ex.printStackTrace(err);
            err.flush();
            return 1;
        });
        // a mistyped option gets one line, picocli's suggestions and a pointer to --help, not the whole usage
        cl.setParameterExceptionHandler((ex, a) -> {
            CommandLine c = ex.getCommandLine();
            err.println("moge: " + ex.getMessage());
            CommandLine.UnmatchedArgumentException.printSuggestions(ex, err);
            err.println("Try '" + c.getCommandSpec().qualifiedName() + " --help' for the options.");
            err.flush();
            return c.getCommandSpec().exitCodeOnInvalidInput();
        });
        int code;
        try {
            code = cl.execute(args);
        } catch (OutOfMemoryError e) {
            err.println("moge: out of memory (raise -Xmx through MOGE_JAVA_OPTS, or use a smaller --ctx or --batch)");
            code = 1;
        }
        out.flush();
        err.flush();
        return code;
    }
}
