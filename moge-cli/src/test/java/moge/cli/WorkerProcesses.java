package moge.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** `moge worker` in separate JVMs on loopback, started from the test classpath. */
final class WorkerProcesses implements AutoCloseable {
    private static final Pattern LISTENING = Pattern.compile("on 127\\.0\\.0\\.1:(\\d+)");
    private final List<Process> processes = new ArrayList<>();

    record Worker(Process process, int port) {
        String address() {
            return "127.0.0.1:" + port;
        }
    }

    Worker start(Path model, String groups, int port, String... extra) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:+UseParallelGC",
                "-XX:TieredStopAtLevel=1", "-Xmx256m", "-cp", System.getProperty("java.class.path"),
                "moge.cli.Main", "worker", "--model", model.toString(), "--groups", groups, "--port", Integer.toString(port),
                "--bind", "127.0.0.1", "--threads", "1"));
        cmd.addAll(List.of(extra));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        processes.add(p);
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        CompletableFuture<Integer> bound = CompletableFuture.supplyAsync(() -> {
            StringBuilder seen = new StringBuilder();
            try {
                for (String line; (line = r.readLine()) != null; ) {
                    Matcher m = LISTENING.matcher(line);
                    if (line.startsWith("moge worker: serving") && m.find()) return Integer.parseInt(m.group(1));
                    seen.append(line).append('\n');
                }
            } catch (IOException ignored) {
            }
            throw new IllegalStateException("worker exited before listening:\n" + seen);
        });
        try {
            int actual = bound.get(60, TimeUnit.SECONDS);
            // keep draining its output so that it never blocks on a full pipe
            Thread.ofVirtual().start(() -> {
                try {
                    while (r.readLine() != null) ;
                } catch (IOException ignored) {
                }
            });
            return new Worker(p, actual);
        } catch (Exception e) {
            p.destroyForcibly();
            throw new IllegalStateException("worker did not start", e);
        }
    }

    @Override
    public void close() {
        for (Process p : processes) p.destroyForcibly();
        for (Process p : processes) {
            try {
                p.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
