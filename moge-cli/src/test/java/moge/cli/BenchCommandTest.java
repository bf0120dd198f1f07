package moge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** `moge bench`: llama-bench records in JSON and rows in the table, on a GGUF file and an HF directory; bad options fail in one line. */
class BenchCommandTest {
    @TempDir
    Path tmp;

    @Test
    void jsonHasLlamaBenchFieldsForEachTest() throws Exception {
        Path gguf = tmp.resolve("m.gguf");
        CliRunner c = CliRunner.run("convert", BadInputTest.FIX.resolve("pangu-moe-tiny").toString(), "--type", "q8_0", "-o", gguf.toString());
        assertThat(c.exit()).as(c.err()).isZero();
        CliRunner b = CliRunner.run("bench", "--warmup", "0", "-m", gguf.toString(), "-p", "9", "-n", "5", "-r", "2", "-t", "2", "--bandwidth-mib", "8", "--json");
        assertThat(b.exit()).as(b.err()).isZero();
        JsonNode arr = new ObjectMapper().readTree(b.out());
        assertThat(arr.size()).isEqualTo(2);
        JsonNode pp = arr.get(0), tg = arr.get(1);
        for (JsonNode r : arr) {
            for (String f : new String[]{"model_filename", "model_type", "model_size", "model_n_params", "n_threads", "n_prompt", "n_gen",
                    "avg_ns", "stddev_ns", "avg_ts", "stddev_ts", "samples_ns", "samples_ts", "bandwidth_bytes_per_s"}) {
                assertThat(r.has(f)).as(f).isTrue();
            }
            assertThat(r.get("model_filename").asText()).isEqualTo("m.gguf");
            assertThat(r.get("n_threads").asInt()).isEqualTo(2);
            assertThat(r.get("samples_ts").size()).isEqualTo(2);
            assertThat(r.get("avg_ts").asDouble()).isPositive();
            assertThat(r.get("model_type").asText()).startsWith("pangu-pro-moe").endsWith("Q8_0");
        }
        assertThat(pp.get("test").asText()).isEqualTo("pp9");
        assertThat(pp.get("n_prompt").asInt()).isEqualTo(9);
        assertThat(pp.get("n_gen").asInt()).isZero();
        assertThat(tg.get("test").asText()).isEqualTo("tg5");
        assertThat(tg.get("n_gen").asInt()).isEqualTo(5);
        // the decode record relates its speed to the bandwidth ceiling
        double ceiling = tg.get("bandwidth_bytes_per_s").asDouble() / tg.get("weight_bytes_per_token").asDouble();
        assertThat(tg.get("bandwidth_fraction").asDouble()).isCloseTo(tg.get("avg_ts").asDouble() / ceiling, org.assertj.core.data.Offset.offset(1e-9));
    }

    /**
     * The model column ends in llama.cpp's name for the file type: Q4_K_M is mostly Q4_K, but says Medium. The
     * fixture's rows (96, 160) are not whole 256-value blocks, so its K matrices fall back to Q5_0 or Q5_1 (and Q8_0).
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource({"q4_k_m, Q4_K - Medium, Q5_0", "q5_k_m, Q5_K - Medium, Q5_1"})
    void modelTypeNamesTheFileTypeAsLlamaBenchDoes(String type, String name, String fallback) throws Exception {
        Path gguf = tmp.resolve("m.gguf");
        CliRunner c = CliRunner.run("convert", BadInputTest.FIX.resolve("pangu-embedded-tiny").toString(), "--type", type, "-o", gguf.toString());
        assertThat(c.exit()).as(c.err()).isZero();
        CliRunner b = CliRunner.run("bench", "--warmup", "0", "-m", gguf.toString(), "-p", "0", "-n", "2", "-r", "1", "-t", "1",
                "--bandwidth-mib", "0", "--json");
        assertThat(b.exit()).as(b.err()).isZero();
        JsonNode r = new ObjectMapper().readTree(b.out()).get(0);
        assertThat(r.get("model_type").asText()).startsWith("pangu-embedded ").endsWith(" " + name);
        CliRunner i = CliRunner.run("inspect", gguf.toString());
        assertThat(i.exit()).as(i.err()).isZero();
        assertThat(i.out()).contains("file type " + name).containsPattern("dtype " + fallback + " +\\d+ tensors");
    }

    @Test
    void tableRowsOnAHuggingFaceDirectory() {
        CliRunner b = CliRunner.run("bench", "--warmup", "0", "-m", BadInputTest.FIX.resolve("pangu-embedded-tiny").toString(), "-p", "4", "-n", "3", "-r", "1",
                "-t", "1", "--bandwidth-mib", "0");
        assertThat(b.exit()).as(b.err()).isZero();
        assertThat(b.out()).contains("| model | size | params | backend | threads | test | t/s |")
                .contains("| pp4 |").contains("| tg3 |").contains("pangu-embedded");
    }

    /** --spec adds a test that alternates plain and speculative runs; its record says how much it gained and why. */
    @Test
    void speculativeRecordHasSpeedupAndAcceptance() throws Exception {
        CliRunner b = CliRunner.run("bench", "--warmup", "0", "-m", BadInputTest.FIX.resolve("pangu-embedded-tiny").toString(), "-p", "0", "-n", "24", "-r", "2",
                "-t", "1", "--bandwidth-mib", "0", "--json", "--spec", "ngram", "--ngram-min", "1", "--draft-fixed");
        assertThat(b.exit()).as(b.err()).isZero();
        JsonNode arr = new ObjectMapper().readTree(b.out());
        assertThat(arr.size()).isEqualTo(2);
        assertThat(arr.get(0).get("test").asText()).isEqualTo("tg24");
        JsonNode s = arr.get(1);
        assertThat(s.get("test").asText()).isEqualTo("tg24+ngram");
        assertThat(s.get("spec_source").asText()).isEqualTo("ngram");
        assertThat(s.get("n_gen").asInt()).isEqualTo(24);
        assertThat(s.get("n_prompt").asInt()).isGreaterThan(50);
        assertThat(s.get("samples_ts").size()).isEqualTo(2);
        assertThat(s.get("plain_samples_ts").size()).isEqualTo(2);
        assertThat(s.get("avg_ts").asDouble()).isPositive();
        assertThat(s.get("plain_ts").asDouble()).isPositive();
        assertThat(s.get("speedup").asDouble()).isPositive();
        assertThat(s.get("speedup_total").asDouble())
                .isCloseTo(s.get("spec_ts").asDouble() / s.get("plain_ts").asDouble(), org.assertj.core.data.Offset.offset(1e-9));
        assertThat(s.get("drafted").asInt()).isPositive();
        assertThat(s.get("acceptance_rate").asDouble()).isBetween(0.0, 1.0)
                .isCloseTo(s.get("accepted").asDouble() / s.get("drafted").asDouble(), org.assertj.core.data.Offset.offset(1e-9));
        assertThat(s.get("mean_accepted").asDouble()).isBetween(0.0, s.get("mean_draft").asDouble());
        assertThat(s.get("mean_draft").asDouble()).isBetween(1.0, 8.0);
        assertThat(s.get("max_draft").asInt()).isBetween(1, 8);
        assertThat(s.get("identical").asBoolean()).as("greedy speculative output is the plain output").isTrue();
    }

    @Test
    void speculativeSummaryUnderTheTable() {
        CliRunner b = CliRunner.run("bench", "--warmup", "0", "-m", BadInputTest.FIX.resolve("pangu-moe-tiny").toString(), "-p", "0", "-n", "12", "-r", "1",
                "-t", "1", "--bandwidth-mib", "0", "--draft-model", "self:q8_0", "--draft-max", "3");
        assertThat(b.exit()).as(b.err()).isZero();
        assertThat(b.out()).contains("| tg12 |", "| tg12+self:q8_0 |", "tg12+self:q8_0: plain ", "speedup", "acceptance", "mean accepted")
                .doesNotContain("WARNING");
        CliRunner bad = CliRunner.run("bench", "--warmup", "0", "-m", BadInputTest.FIX.resolve("pangu-moe-tiny").toString(), "-n", "0", "--spec", "ngram");
        assertThat(bad.exit()).isEqualTo(1);
        assertThat(bad.err()).isEqualTo("moge: --spec needs -n > 0 (the tokens each speculative test run generates)\n");
    }

    /** Issue 4: bench records carry the expert load of their timed runs, per device; MoGE is balanced by construction. */
    @Test
    void moeRecordsCarryTheImbalanceScoreAndLoadPerDevice() throws Exception {
        String fix = BadInputTest.FIX.resolve("pangu-moe-tiny").toString();
        for (String router : new String[]{"moge", "topk"}) {
            CliRunner b = CliRunner.run("bench", "--warmup", "0", "-m", fix, "-p", "16", "-n", "6", "-r", "2", "-t", "2", "--bandwidth-mib", "0",
                    "--devices", "2", "--router", router, "--json");
            assertThat(b.exit()).as(b.err()).isZero();
            JsonNode arr = new ObjectMapper().readTree(b.out());
            for (JsonNode r : arr) {
                assertThat(r.get("router").asText()).isEqualTo(router);
                assertThat(r.get("devices").asInt()).isEqualTo(2);
                assertThat(r.get("device_load").size()).isEqualTo(2);
                long total = 0;
                for (JsonNode v : r.get("device_load")) total += v.asLong();
                assertThat(total).isPositive();
                assertThat(r.get("imbalance_score_max").asDouble()).isGreaterThanOrEqualTo(r.get("imbalance_score_mean").asDouble());
                if (router.equals("moge")) assertThat(r.get("imbalance_score_max").asDouble()).isZero();
            }
        }
        CliRunner t = CliRunner.run("bench", "--warmup", "0", "-m", fix, "-p", "8", "-n", "2", "-r", "1", "--bandwidth-mib", "0", "--devices", "2");
        assertThat(t.out()).contains("expert load: imbalance score mean 0.000, max 0.000");
    }

    /** --parallel B decodes B sequences together: its records count every sequence's tokens and say how many ran. */
    @Test
    void parallelDecodeRecordsCountEverySequence() throws Exception {
        CliRunner b = CliRunner.run("bench", "--warmup", "0", "-m", BadInputTest.FIX.resolve("pangu-moe-tiny").toString(), "-p", "0", "-n", "6", "-r", "2",
                "-t", "2", "--parallel", "3,5", "--bandwidth-mib", "8", "--json");
        assertThat(b.exit()).as(b.err()).isZero();
        JsonNode arr = new ObjectMapper().readTree(b.out());
        assertThat(arr.size()).isEqualTo(3);
        assertThat(arr.get(0).get("test").asText()).isEqualTo("tg6");
        assertThat(arr.get(0).has("n_parallel")).isFalse();
        assertThat(arr.get(0).has("bandwidth_fraction")).isTrue();
        int[] bs = {3, 5};
        for (int i = 0; i < bs.length; i++) {
            JsonNode r = arr.get(i + 1);
            assertThat(r.get("test").asText()).isEqualTo("tg6x" + bs[i]);
            assertThat(r.get("n_parallel").asInt()).isEqualTo(bs[i]);
            assertThat(r.get("n_gen").asInt()).isEqualTo(6);
            assertThat(r.get("device_load").size()).isPositive();
            // aggregate rate: every sequence's tokens over the wall time of the run
            for (int k = 0; k < 2; k++) {
                double ts = r.get("samples_ts").get(k).asDouble(), ns = r.get("samples_ns").get(k).asDouble();
                assertThat(ts).isCloseTo(6.0 * bs[i] / (ns / 1e9), org.assertj.core.data.Percentage.withPercentage(1e-6));
            }
            // the bandwidth ceiling bounds one sequence's decode, not a batch's
            assertThat(r.has("bandwidth_fraction")).isFalse();
        }
        CliRunner t = CliRunner.run("bench", "--warmup", "0", "-m", BadInputTest.FIX.resolve("pangu-embedded-tiny").toString(), "-p", "0", "-n", "4", "-r", "1",
                "-t", "1", "--parallel", "2", "--bandwidth-mib", "0");
        assertThat(t.exit()).as(t.err()).isZero();
        assertThat(t.out()).contains("| tg4x2 |", "tg4x2: 2 sequences together, ", "x the aggregate tokens/s of one (tg4)");
    }

    /** -d D: every test starts with D tokens in the cache, named as llama-bench names them; the KV type is recorded. */
    @Test
    void depthTestsStartAfterTheCachedTokens() throws Exception {
        String fix = BadInputTest.FIX.resolve("pangu-embedded-tiny").toString();
        CliRunner b = CliRunner.run("bench", "--warmup", "0", "-m", fix, "-p", "5", "-n", "3", "-d", "21", "-r", "1", "-t", "2",
                "--parallel", "2", "--kv-type", "f16", "--bandwidth-mib", "8", "--json");
        assertThat(b.exit()).as(b.err()).isZero();
        JsonNode arr = new ObjectMapper().readTree(b.out());
        assertThat(arr.size()).isEqualTo(3);
        String[] tests = {"pp5 @ d21", "tg3 @ d21", "tg3x2 @ d21"};
        for (int i = 0; i < 3; i++) {
            JsonNode r = arr.get(i);
            assertThat(r.get("test").asText()).isEqualTo(tests[i]);
            assertThat(r.get("n_depth").asInt()).isEqualTo(21);
            assertThat(r.get("type_k").asText()).isEqualTo("f16");
            // attention over the cached keys adds reads the weights' ceiling does not count
            assertThat(r.has("bandwidth_fraction")).isFalse();
        }
        CliRunner t = CliRunner.run("bench", "--warmup", "0", "-m", fix, "-p", "0", "-n", "2", "-d", "3", "-r", "1", "--parallel", "2",
                "--bandwidth-mib", "0");
        assertThat(t.exit()).as(t.err()).isZero();
        assertThat(t.out()).contains("| tg2 @ d3 |", "tg2x2 @ d3: 2 sequences together");
        CliRunner deep = CliRunner.run("bench", "--warmup", "0", "-m", fix, "-d", "100000");
        assertThat(deep.exit()).isEqualTo(1);
        assertThat(deep.err()).startsWith("moge: -d + -p/-n exceed the model's ");
        CliRunner kv = CliRunner.run("bench", "--warmup", "0", "-m", fix, "--kv-type", "q8");
        assertThat(kv.exit()).isEqualTo(1);
        assertThat(kv.err()).isEqualTo("moge: --kv-type must be f32 or f16, got q8\n");
    }

    /** llama-bench's lists: every -p and -n test at every depth, then all again at each thread count. */
    @Test
    void commaListsRunEveryTestAtEveryDepthAndThreadCount() throws Exception {
        CliRunner b = CliRunner.run("bench", "--warmup", "0", "-m", BadInputTest.FIX.resolve("pangu-embedded-tiny").toString(), "-p", "4,6",
                "-n", "3", "-d", "0,5", "-t", "1,2", "-r", "1", "--bandwidth-mib", "0", "-o", "json");
        assertThat(b.exit()).as(b.err()).isZero();
        JsonNode arr = new ObjectMapper().readTree(b.out());
        java.util.List<String> seen = new java.util.ArrayList<>();
        for (JsonNode r : arr) {
            seen.add(r.get("n_threads").asInt() + " " + r.get("test").asText() + " " + r.get("n_depth").asInt() + " " + r.get("n_prompt").asInt()
                    + " " + r.get("n_batch").asInt());
        }
        assertThat(seen).containsExactly(
                "1 pp4 0 4 4", "1 pp6 0 6 6", "1 tg3 0 0 6", "1 pp4 @ d5 5 4 4", "1 pp6 @ d5 5 6 6", "1 tg3 @ d5 5 0 6",
                "2 pp4 0 4 4", "2 pp6 0 6 6", "2 tg3 0 0 6", "2 pp4 @ d5 5 4 4", "2 pp6 @ d5 5 6 6", "2 tg3 @ d5 5 0 6");
        CliRunner bad = CliRunner.run("bench", "--warmup", "0", "-m", BadInputTest.FIX.resolve("pangu-embedded-tiny").toString(), "-p", "4,x");
        assertThat(bad.exit()).isEqualTo(2);
        assertThat(bad.err().lines().findFirst().orElse("")).contains("--n-prompt", "'x' is not an int");
    }

    /** llama-bench's -pg: a prompt then generated tokens, timed together, counted as both; repeatable, at every depth. */
    @Test
    void promptThenGenerateTestsCountBothParts() throws Exception {
        String fix = BadInputTest.FIX.resolve("pangu-embedded-tiny").toString();
        CliRunner b = CliRunner.run("bench", "--warmup", "0", "-m", fix, "-p", "0", "-n", "0", "-pg", "8,4", "--n-pg", "5,3", "-d", "0,3",
                "-r", "2", "--bandwidth-mib", "8", "-o", "json");
        assertThat(b.exit()).as(b.err()).isZero();
        JsonNode arr = new ObjectMapper().readTree(b.out());
        java.util.List<String> seen = new java.util.ArrayList<>();
        for (JsonNode r : arr) {
            seen.add(r.get("test").asText() + " " + r.get("n_prompt").asInt() + " " + r.get("n_gen").asInt() + " " + r.get("n_depth").asInt());
            assertThat(r.get("avg_ts").asDouble()).isPositive();
            assertThat(r.get("samples_ts")).hasSize(2);
            assertThat(r.has("bandwidth_fraction")).as("a prompt in the timing: no decode ceiling").isFalse();
        }
        assertThat(seen).containsExactly("pp8+tg4 8 4 0", "pp5+tg3 5 3 0", "pp8+tg4 @ d3 8 4 3", "pp5+tg3 @ d3 5 3 3");
        for (String v : new String[]{"8", "8,x", "0,4", "8,4,2"}) {
            CliRunner bad = CliRunner.run("bench", "--warmup", "0", "-m", fix, "-pg", v);
            assertThat(bad.exit()).as(v).isEqualTo(1);
            assertThat(bad.err()).as(v).startsWith("moge: -pg ").contains("'" + v + "'");
        }
    }

    @Test
    void badOptionsFailInOneLine() {
        CliRunner b = CliRunner.run("bench", "--warmup", "0", "-m", BadInputTest.FIX.resolve("pangu-embedded-tiny").toString(), "-r", "0");
        assertThat(b.exit()).isEqualTo(1);
        assertThat(b.err()).isEqualTo("moge: -r must be >= 1, got 0\n");
        String fix = BadInputTest.FIX.resolve("pangu-embedded-tiny").toString();
        CliRunner p0 = CliRunner.run("bench", "--warmup", "0", "-m", fix, "--parallel", "4,0");
        assertThat(p0.exit()).isEqualTo(1);
        assertThat(p0.err()).isEqualTo("moge: --parallel values must be 1..256, got 0\n");
        CliRunner n0 = CliRunner.run("bench", "--warmup", "0", "-m", fix, "-n", "0", "--parallel", "4");
        assertThat(n0.exit()).isEqualTo(1);
        assertThat(n0.err()).isEqualTo("moge: --parallel needs -n > 0 (the steps each sequence decodes)\n");
        CliRunner w = CliRunner.run("bench", "-m", fix, "--warmup", "-1");
        assertThat(w.exit()).isEqualTo(1);
        assertThat(w.err()).isEqualTo("moge: --warmup must be 0..3600 seconds, got -1.0\n");
    }

    @Test
    void warmUpRunsEachTestForTheGivenTime() {
        // a lower bound only: the two tests (pp and tg) each keep running untimed for at least 0.6 s
        long t0 = System.nanoTime();
        CliRunner b = CliRunner.run("bench", "-m", BadInputTest.FIX.resolve("pangu-embedded-tiny").toString(), "-p", "4", "-n", "2",
                "-r", "1", "--warmup", "0.6", "--bandwidth-mib", "0");
        assertThat(b.exit()).as(b.err()).isZero();
        assertThat(System.nanoTime() - t0).isGreaterThanOrEqualTo(1_200_000_000L);
        assertThat(b.out()).contains("| pp4 |", "| tg2 |");
    }
}
