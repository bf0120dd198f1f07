package moge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import moge.cluster.ExpertWorker;
import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * `moge serve --workers` with an expert worker on loopback: /health says 503 while the worker is down and 200
 * once it is back, found by the server's own probes (no request needs to reach the worker first).
 */
class ServeWorkerHealthTest {
    static final Path MODEL = BadInputTest.FIX.resolve("pangu-moe-tiny");
    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    record Reply(int status, String body) {
        JsonNode json() throws Exception {
            return new ObjectMapper().readTree(body);
        }
    }

    /**
     * A request that fails with 503 because its worker went away turns /health to 503 at once, long before the next
     * probe (--health-interval 60): the client that had the 503 must not read 200 there.
     */
    @Test
    void aRequestsWorkerFailureTurnsHealthTo503AtOnce() throws Exception {
        ExpertWorker worker = ExpertWorker.start(MODEL, "2-3", "127.0.0.1", 0, 1, 0);
        String addr = "127.0.0.1:" + worker.port();
        ServeCommand cmd = new ServeCommand();
        picocli.CommandLine cl = new picocli.CommandLine(cmd);
        StringWriter out = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> cl.execute("--model", MODEL.toString(), "--port", "0",
                "--ctx", "256", "--parallel", "1", "--batch", "32", "-t", "1", "--no-warmup", "--workers", addr, "--health-interval", "60"));
        try {
            String root = awaitReady(out, exit);
            assertThat(get(root + "/health").status()).isEqualTo(200); // a fresh round: it stands for 60 s
            assertThat(complete(root).status()).isEqualTo(200);
            worker.close();
            Reply refused = complete(root);
            assertThat(refused.status()).as(refused.body()).isEqualTo(503);
            Reply h = get(root + "/health");
            assertThat(h.status()).as(h.body()).isEqualTo(503);
            assertThat(h.json().path("error").path("message").asText()).startsWith("expert worker " + addr + " (groups 2-3) is unavailable");
            assertThat(h.json().path("workers").get(0).path("status").asText()).isEqualTo("down");
        } finally {
            cmd.stop.countDown();
            worker.close();
        }
        assertThat(exit.get(30, TimeUnit.SECONDS)).isZero();
    }

    /** Waits for serve's "ready" line; its API root. */
    private static String awaitReady(StringWriter out, CompletableFuture<Integer> exit) throws InterruptedException {
        Matcher m = Pattern.compile("ready; OpenAI API at (http://\\S+)/v1").matcher("");
        for (int i = 0; i < 600 && !exit.isDone(); i++) {
            m = Pattern.compile("ready; OpenAI API at (http://\\S+)/v1").matcher(out.toString());
            if (m.find()) break;
            Thread.sleep(50);
        }
        assertThat(m.hasMatch()).as(out.toString()).isTrue();
        return m.group(1);
    }

    @Test
    void healthIs503WhileTheExpertWorkerIsDownAnd200AgainWhenItIsBack() throws Exception {
        ExpertWorker worker = ExpertWorker.start(MODEL, "2-3", "127.0.0.1", 0, 1, 0);
        ExpertWorker restarted = null;
        int port = worker.port();
        String addr = "127.0.0.1:" + port;
        String gauge = "moge_worker_up{groups=\"2-3\",worker=\"" + addr + "\"} ";
        ServeCommand cmd = new ServeCommand();
        picocli.CommandLine cl = new picocli.CommandLine(cmd);
        StringWriter out = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> cl.execute("--model", MODEL.toString(), "--port", "0",
                "--ctx", "256", "--parallel", "1", "--batch", "32", "-t", "1", "--no-warmup", "--workers", addr));
        try {
            String root = awaitReady(out, exit);

            Reply h = get(root + "/health");
            assertThat(h.status()).as(h.body()).isEqualTo(200);
            assertThat(h.json().path("status").asText()).isEqualTo("ok");
            assertThat(h.json().path("running").isInt()).isTrue();
            assertThat(h.json().path("workers").toString()).isEqualTo("[{\"address\":\"" + addr + "\",\"groups\":\"2-3\",\"status\":\"up\"}]");
            assertThat(complete(root).status()).isEqualTo(200);
            assertThat(get(root + "/metrics").body()).contains(gauge + "1.0");

            worker.close();
            long t0 = System.nanoTime();
            h = poll(root + "/health", r -> r.status() != 200);
            // a probe at most every 2 s with a 1 s deadline: well within 8 s on a busy machine
            assertThat((System.nanoTime() - t0) / 1e9).isLessThan(8);
            assertThat(h.status()).isEqualTo(503);
            JsonNode err = h.json().path("error");
            // "(connection refused)" as a rule; a probe that met the shutdown itself says how the connection ended
            assertThat(err.path("message").asText()).startsWith("expert worker " + addr + " (groups 2-3) is unavailable (");
            assertThat(err.path("type").asText()).isEqualTo("server_error");
            assertThat(err.path("code").asText()).isEqualTo("unavailable");
            assertThat(h.json().has("status")).isFalse();
            assertThat(h.json().path("workers").get(0).path("status").asText()).isEqualTo("down");
            assertThat(h.body()).doesNotContain("Exception").doesNotContain("\tat ");
            assertThat(get(root + "/metrics").body()).contains(gauge + "0.0");
            Reply refused = complete(root);
            assertThat(refused.status()).isEqualTo(503);
            assertThat(refused.json().path("error").path("message").asText()).startsWith("expert worker " + addr + " (groups 2-3) is unavailable");

            restarted = ExpertWorker.start(MODEL, "2-3", "127.0.0.1", port, 1, 0);
            // neither /health nor a request: the server's background probe alone must find it back
            t0 = System.nanoTime();
            poll(root + "/metrics", r -> r.body().contains(gauge + "1.0"));
            assertThat((System.nanoTime() - t0) / 1e9).isLessThan(8);
            h = get(root + "/health");
            assertThat(h.status()).as(h.body()).isEqualTo(200);
            assertThat(h.json().path("workers").get(0).path("status").asText()).isEqualTo("up");
            assertThat(complete(root).status()).isEqualTo(200);
        } finally {
            cmd.stop.countDown();
            worker.close();
            if (restarted != null) restarted.close();
        }
        assertThat(exit.get(30, TimeUnit.SECONDS)).isZero();
    }

    private Reply get(String url) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString());
        return new Reply(r.statusCode(), r.body());
    }

    private Reply complete(String root) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(root + "/v1/completions")).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"the cat\",\"max_tokens\":3,\"temperature\":0}")).build(),
                HttpResponse.BodyHandlers.ofString());
        return new Reply(r.statusCode(), r.body());
    }

    /** GETs {@code url} every 100 ms until {@code done} holds, for at most 20 s. */
    private Reply poll(String url, Predicate<Reply> done) throws Exception {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        Reply r = get(url);
        while (!done.test(r)) {
            assertThat(System.nanoTime()).as("still " + r.status() + " " + r.body()).isLessThan(until);
            Thread.sleep(100);
            r = get(url);
        }
        return r;
    }
}
