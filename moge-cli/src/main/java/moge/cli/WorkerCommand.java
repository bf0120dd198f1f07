package moge.cli;

import moge.MogeException;
import moge.cluster.ExpertWorker;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Path;

/** Serves some expert groups of a model to coordinators (`generate`, `chat`, `serve`, `bench` with --workers). */
@Command(name = "worker", mixinStandardHelpOptions = true,
        description = "Serve expert groups of a model to coordinators over gRPC (they connect with --workers HOST:PORT).")
public final class WorkerCommand implements Runnable {
    @Option(names = {"-m", "--model"}, paramLabel = "PATH", description = "Model directory; the coordinator must use the same weights.")
    Path model;

    @Option(names = "--groups", paramLabel = "LIST", description = "Expert groups to serve, e.g. 0-3 or 0,2,4-5 (default: all).")
    String groups;

    @Option(names = {"-p", "--port"}, paramLabel = "P", description = "TCP port (default 7070; 0 = any free port, printed at start).")
    int port = 7070;

    @Option(names = "--bind", paramLabel = "ADDR", description = "Address to listen on (default 0.0.0.0: every interface).")
    String bind = "0.0.0.0";

    @Option(names = {"-t", "--threads"}, paramLabel = "N", description = "Threads computing the experts (default: all cores).")
    int threads = Runtime.getRuntime().availableProcessors();

    @Option(names = "--test-delay-ms", hidden = true, description = "Sleep this long in every request (tests of slow workers).")
    long testDelayMs;

    @Option(names = "--debug", description = "Show stack traces of errors.")
    boolean debug;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        if (threads < 1) throw new MogeException("--threads must be >= 1, got " + threads);
        if (port < 0 || port > 65535) throw new MogeException("--port must be in 0..65535, got " + port);
        Path p = model != null ? model : DefaultRun.defaultModel();
        ExpertWorker w = ExpertWorker.start(p, groups, bind, port, threads, testDelayMs);
        Thread hook = new Thread(w::close, "moge-worker-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        PrintWriter out = spec.commandLine().getOut();
        int[] g = w.groups();
        out.printf("moge worker: serving expert groups %s of %s (%s of expert weights) on %s:%d%n",
                moge.moe.Placement.formatGroups(g), p, InspectCommand.bytes(w.expertBytes()), bind, w.port());
        out.flush();
        String warning = exposureWarning(bind, w.port());
        if (warning != null) {
            spec.commandLine().getErr().println(warning);
            spec.commandLine().getErr().flush();
        }
        try {
            w.awaitTermination();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            w.close();
        }
    }

    /**
     * The worker has no authentication (as llama.cpp's rpc-server, which says so too): on any address but loopback,
     * a line telling whoever starts it, or null on loopback.
     */
    static String exposureWarning(String bind, int port) {
        boolean loopback;
        try {
            loopback = java.net.InetAddress.getByName(bind).isLoopbackAddress();
        } catch (java.net.UnknownHostException e) {
            loopback = false;
        }
        return loopback ? null : "moge worker: no authentication: anyone who can reach " + bind + ":" + port
                + " can use this worker; keep it on a private network (or --bind 127.0.0.1 for this machine only)";
    }
}
