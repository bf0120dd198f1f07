package moge.cli;

import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

class ServeCommandTest {
    @Test
    void servesUntilStopped() throws Exception {
        ServeCommand cmd = new ServeCommand();
        picocli.CommandLine cl = new picocli.CommandLine(cmd);
        StringWriter out = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        String model = BadInputTest.FIX.resolve("pangu-moe-tiny").toString();
        CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() ->
                cl.execute("--model", model, "--port", "0", "--ctx", "256", "--parallel", "2", "--batch", "32", "--alias", "tiny", "-t", "1"));
        Matcher m = null;
        for (int i = 0; i < 600; i++) {
            m = Pattern.compile("ready; OpenAI API at (http://\\S+)").matcher(out.toString());
            if (m.find() || exit.isDone()) break;
            Thread.sleep(50);
        }
        assertThat(m).isNotNull();
        assertThat(m.find(0)).as(out.toString()).isTrue();
        String base = m.group(1);
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(base + "/models")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).contains("\"id\":\"tiny\"");
        HttpResponse<String> metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(base.replace("/v1", "/metrics"))).build(),
                HttpResponse.BodyHandlers.ofString());
        // expert load per group (one device) is exported next to the server's own meters
        assertThat(metrics.body()).contains("moge_moe_device_load_total{device=\"0\"}", "moge_moe_imbalance_score_mean");
        cmd.stop.countDown();
        assertThat(exit.get(30, TimeUnit.SECONDS)).isZero();
    }

    @Test
    void servesWithSpeculation() throws Exception {
        ServeCommand cmd = new ServeCommand();
        picocli.CommandLine cl = new picocli.CommandLine(cmd);
        StringWriter out = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        String model = BadInputTest.FIX.resolve("pangu-moe-tiny").toString();
        CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() ->
                cl.execute("--model", model, "--port", "0", "--ctx", "256", "--parallel", "2", "--batch", "32", "-t", "1",
                        "--draft-model", "self:q8_0", "--draft-max", "3", "--draft-fixed"));
        Matcher m = null;
        for (int i = 0; i < 600; i++) {
            m = Pattern.compile("ready; OpenAI API at (http://\\S+)").matcher(out.toString());
            if (m.find() || exit.isDone()) break;
            Thread.sleep(50);
        }
        try {
            assertThat(m.find(0)).as(out.toString()).isTrue();
            assertThat(out.toString()).contains("speculative decoding: self:q8_0");
            String base = m.group(1);
            HttpClient http = HttpClient.newHttpClient();
            String body = "{\"prompt\":\"the cat sat on the mat, the cat sat on the mat, the cat\",\"max_tokens\":24,\"temperature\":0,\"ignore_eos\":true}";
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/completions")).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            assertThat(r.body()).contains("\"draft_n\"");
            HttpResponse<String> metrics = http.send(HttpRequest.newBuilder(URI.create(base.replace("/v1", "/metrics"))).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(metrics.body()).containsPattern("moge_spec_drafted_tokens_total [1-9]");
        } finally {
            cmd.stop.countDown();
        }
        assertThat(exit.get(30, TimeUnit.SECONDS)).isZero();
    }

    @Test
    void badOptionsFailBeforeLoading() {
        CliRunner r = CliRunner.run("serve", "--model", "/nonexistent", "--parallel", "0");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("--parallel must be >= 1");
        r = CliRunner.run("serve", "--model", "/nonexistent", "--port", "70000");
        assertThat(r.err()).contains("--port must be in 0..65535");
        r = CliRunner.run("serve", "--model", "/nonexistent", "--health-interval", "0");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("--health-interval must be between 0.1 and 3600 seconds, got 0.0");
        r = CliRunner.run("serve", "--model", "/nonexistent", "--port", "0");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("/nonexistent: no such model").doesNotContain("Exception");
        assertThat(r.out()).isEmpty();
        r = CliRunner.run("serve", "--model", "/nonexistent", "--spec", "ngram", "--draft-max", "0");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("--draft-min").doesNotContain("Exception");
        // a draft that cannot be there fails before the target loads (no "loading" line), in one line
        r = CliRunner.run("serve", "--model", BadInputTest.FIX.resolve("pangu-moe-tiny").toString(), "--port", "0", "--spec", "draft");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("--spec draft needs --draft-model").doesNotContain("Exception");
        assertThat(r.out()).isEmpty();
        r = CliRunner.run("serve", "--model", BadInputTest.FIX.resolve("pangu-moe-tiny").toString(), "--port", "0",
                "--draft-model", "/nonexistent/draft");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("/nonexistent/draft: no such file or directory").doesNotContain("Exception");
        assertThat(r.out()).isEmpty();
    }

    @Test
    void aModelThatCannotServeNeverSaysListening() {
        // the model loads, but 1 KV block cannot hold a sequence: the error comes after loading, exit 1
        CliRunner r = CliRunner.run("serve", "--model", BadInputTest.FIX.resolve("pangu-moe-tiny").toString(), "--port", "0",
                "--ctx", "256", "--kv-blocks", "1");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err().strip()).startsWith("moge: ").contains("KV cache of 1 blocks").doesNotContain("\n");
        assertThat(r.out()).doesNotContain("listening").doesNotContain("OpenAI API").contains("loading", "503");
    }

    @Test
    void aPortInUseIsOneLine() throws Exception {
        java.io.PrintStream stderr = System.err;
        java.io.ByteArrayOutputStream logged = new java.io.ByteArrayOutputStream();
        try (java.net.ServerSocket taken = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            // Javalin logs through slf4j-simple straight to System.err, past the CLI's writers
            System.setErr(new java.io.PrintStream(logged, true, java.nio.charset.StandardCharsets.UTF_8));
            CliRunner r = CliRunner.run("serve", "--model", BadInputTest.FIX.resolve("pangu-moe-tiny").toString(),
                    "--port", String.valueOf(taken.getLocalPort()));
            assertThat(r.exit()).isEqualTo(1);
            assertThat(r.err().strip()).startsWith("moge: cannot listen on 127.0.0.1:" + taken.getLocalPort()).doesNotContain("\n");
            assertThat(r.out()).isEmpty();
        } finally {
            System.setErr(stderr);
        }
        assertThat(logged.toString(java.nio.charset.StandardCharsets.UTF_8)).doesNotContain("Failed to start");
    }
}
