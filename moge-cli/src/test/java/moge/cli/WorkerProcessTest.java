package moge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import moge.format.DType;
import moge.model.ModelConfig;
import moge.model.TestModels;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Two `moge worker` processes on loopback serving the expert groups of an F32 model: `generate --workers`
 * must print what a single process prints; a worker killed mid-request fails the request with one line
 * within the deadline; a worker of another model is refused.
 */
class WorkerProcessTest {
    @TempDir
    static Path tmp;
    static Path model, other;
    static final ModelConfig CONFIG = TestModels.moge(300, 64, 3, 4, 2, 16, 16, 8, 8, 24, 32,
            new boolean[]{true, false, false}, 40, false, 10000.0);
    static final String PROMPT = "5,17,99,3,250,7,41,8,120,66,1,2";

    WorkerProcesses workers = new WorkerProcesses();

    @BeforeAll
    static void models() {
        model = TestModels.write(tmp.resolve("f32"), CONFIG, DType.F32, 31);
        other = TestModels.write(tmp.resolve("other"), CONFIG, DType.F32, 32);
    }

    @AfterEach
    void stop() {
        workers.close();
    }

    private static JsonNode json(CliRunner r) throws Exception {
        assertThat(r.exit()).as(r.err()).isZero();
        return new ObjectMapper().readTree(r.out());
    }

    private static CliRunner generate(String... extra) {
        boolean hasN = java.util.Arrays.asList(extra).contains("-n");
        String[] base = {"generate", "--model", model.toString(), "--prompt-ids", PROMPT, "-n", hasN ? "" : "12", "--ignore-eos", "--json",
                "--prompt-logprobs", "--threads", "1"};
        if (hasN) base = java.util.Arrays.stream(base).filter(s -> !s.equals("-n") && !s.isEmpty()).toArray(String[]::new);
        String[] all = new String[base.length + extra.length];
        System.arraycopy(base, 0, all, 0, base.length);
        System.arraycopy(extra, 0, all, base.length, extra.length);
        return CliRunner.run(all);
    }

    private static void assertSameOutput(JsonNode got, JsonNode ref, double tol) {
        assertThat(got.get("generated_ids")).isEqualTo(ref.get("generated_ids"));
        for (String k : new String[]{"steps", "prompt_steps"}) {
            JsonNode a = got.get(k), b = ref.get(k);
            assertThat(a.size()).isEqualTo(b.size());
            for (int i = 0; i < a.size(); i++) {
                assertThat(a.get(i).get("logprob").asDouble()).as(k + " " + i).isCloseTo(b.get(i).get("logprob").asDouble(),
                        org.assertj.core.api.Assertions.within(tol));
                JsonNode ta = a.get(i).get("top"), tb = b.get(i).get("top");
                for (int j = 0; j < ta.size(); j++) {
                    assertThat(ta.get(j).get(0).asInt()).isEqualTo(tb.get(j).get(0).asInt());
                    assertThat(ta.get(j).get(1).asDouble()).isCloseTo(tb.get(j).get(1).asDouble(), org.assertj.core.api.Assertions.within(tol));
                }
            }
        }
    }

    @Test
    void aWorkerOnEveryInterfaceSaysItHasNoAuthentication() {
        // the default --bind is 0.0.0.0; nothing said so, and nothing checks who calls
        assertThat(WorkerCommand.exposureWarning("0.0.0.0", 7070)).contains("no authentication").contains("0.0.0.0:7070")
                .contains("--bind 127.0.0.1");
        assertThat(WorkerCommand.exposureWarning("127.0.0.1", 7070)).isNull();
        assertThat(WorkerCommand.exposureWarning("::1", 7070)).isNull();
    }

    @Test
    void twoWorkerProcessesGiveTheSingleProcessOutput() throws Exception {
        var a = workers.start(model, "0-3", 0);
        var b = workers.start(model, "4-7", 0);
        JsonNode ref = json(generate());
        JsonNode got = json(generate("--workers", a.address() + "," + b.address()));
        assertSameOutput(got, ref, 1e-5);
        // one worker, the other half of the groups on this machine; bf16 activations stay close
        JsonNode half = json(generate("--workers", b.address()));
        assertSameOutput(half, ref, 1e-5);
        JsonNode bf16 = json(generate("--workers", a.address() + "," + b.address(), "--transport", "bf16"));
        assertThat(bf16.get("steps").get(0).get("logprob").asDouble()).isCloseTo(ref.get("steps").get(0).get("logprob").asDouble(),
                org.assertj.core.api.Assertions.within(0.05));
    }

    @Test
    void workerKilledMidRequestFailsItWithOneLineWithinTheDeadline() throws Exception {
        var a = workers.start(model, "0-3", 0);
        var b = workers.start(model, "4-7", 0, "--test-delay-ms", "200");
        CompletableFuture<CliRunner> run = CompletableFuture.supplyAsync(() -> generate("--workers", a.address() + "," + b.address(),
                "-n", "64", "--worker-timeout", "30"));
        Thread.sleep(4000); // connected and in the middle of its calls: 64 tokens x 2 MoE layers x 200 ms
        assertThat(run).isNotDone();
        long t0 = System.nanoTime();
        b.process().destroyForcibly();
        CliRunner r = run.get(30, TimeUnit.SECONDS);
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertThat(seconds).isLessThan(9); // the lost connection is noticed at once, long before the 30 s deadline
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.out()).isEmpty();
        String err = r.err().strip();
        assertThat(err.lines().count()).as(err).isEqualTo(1);
        assertThat(err).startsWith("moge: expert worker " + b.address() + " (groups 4-7) is unavailable");
        // back on the same port: a new request is served again
        var b2 = workers.start(model, "4-7", b.port());
        assertThat(b2.port()).isEqualTo(b.port());
        assertSameOutput(json(generate("--workers", a.address() + "," + b2.address())), json(generate()), 1e-5);
    }

    @Test
    void slowDownAndForeignWorkersAreClearErrors() throws Exception {
        var slow = workers.start(model, "0-7", 0, "--test-delay-ms", "3000");
        long t0 = System.nanoTime();
        CliRunner r = generate("--workers", slow.address(), "--worker-timeout", "1");
        assertThat((System.nanoTime() - t0) / 1e9).isLessThan(5); // 1 s deadline plus slack on a shared machine
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err().strip()).isEqualTo("moge: expert worker " + slow.address() + " (groups 0-7) did not answer within 1 s (--worker-timeout)");

        var foreign = workers.start(other, "0-3", 0);
        r = generate("--workers", foreign.address());
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("serves a different model than f32").contains("checksum of the expert weights of groups 0-3 differs");

        int port;
        try (var s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        r = generate("--workers", "127.0.0.1:" + port);
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err().strip()).startsWith("moge: cannot connect to expert worker 127.0.0.1:" + port).contains("unavailable");

        r = generate("--workers", slow.address(), "--devices", "2");
        assertThat(r.err()).contains("--devices and --workers cannot be combined");
        r = generate("--workers", slow.address(), "--transport", "fp8");
        assertThat(r.err()).contains("--transport: unknown activation format 'fp8'");
    }
}
