package moge.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Broken checkpoints and bad requests: one line naming the file, tensor or field, exit status 1, no stack
 * trace and no partial output.
 */
class BadInputTest {
    static final Path FIX = locate();

    @TempDir
    Path tmp;

    static Path locate() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isDirectory(p.resolve("testdata/fixtures"))) return p.resolve("testdata/fixtures");
        }
        throw new IllegalStateException("fixtures not found");
    }

    private Path copy(String name) throws IOException {
        Path src = FIX.resolve(name), dst = tmp.resolve(name);
        Files.createDirectories(dst);
        try (Stream<Path> s = Files.list(src)) {
            for (Path f : s.toList()) Files.copy(f, dst.resolve(f.getFileName()));
        }
        dst.toFile().setWritable(true);
        try (Stream<Path> s = Files.list(dst)) {
            s.forEach(f -> f.toFile().setWritable(true));
        }
        return dst;
    }

    static void assertOneLineError(CliRunner r, String... mustContain) {
        assertThat(r.exit()).as(r.err()).isEqualTo(1);
        String err = r.err().strip();
        assertThat(err.lines().count()).as(err).isEqualTo(1);
        assertThat(err).startsWith("moge: ").doesNotContain("Exception").doesNotContain("\tat ");
        for (String s : mustContain) assertThat(err).contains(s);
        assertThat(r.out()).isEmpty();
    }

    private static CliRunner gen(Path model) {
        return CliRunner.run("generate", "--model", model.toString(), "--prompt-ids", "1,14,1161", "-n", "2", "--json");
    }

    @Test
    void truncatedSafetensors() throws IOException {
        Path m = copy("pangu-embedded-tiny");
        Path f = m.resolve("model.safetensors");
        byte[] b = Files.readAllBytes(f);
        Files.write(f, java.util.Arrays.copyOf(b, b.length / 2));
        assertOneLineError(gen(m), "model.safetensors", "outside the data area");
    }

    @Test
    void fileShorterThanHeader() throws IOException {
        Path m = copy("pangu-embedded-tiny");
        Files.write(m.resolve("model.safetensors"), new byte[5]);
        assertOneLineError(gen(m), "model.safetensors", "truncated");
    }

    @Test
    void headerLengthLies() throws IOException {
        Path m = copy("pangu-embedded-tiny");
        Path f = m.resolve("model.safetensors");
        byte[] b = Files.readAllBytes(f);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, b.length * 10L);
        Files.write(f, b);
        assertOneLineError(gen(m), "model.safetensors", "header length");
    }

    @Test
    void headerNotJson() throws IOException {
        Path m = copy("pangu-embedded-tiny");
        Path f = m.resolve("model.safetensors");
        byte[] b = Files.readAllBytes(f);
        b[8] = '#';
        Files.write(f, b);
        assertOneLineError(gen(m), "model.safetensors", "JSON");
    }

    @Test
    void offsetsLieAboutSize() throws IOException {
        Path m = copy("pangu-embedded-tiny");
        rewriteHeader(m.resolve("model.safetensors"), h -> h.replaceFirst("\"data_offsets\":\\[(\\d+),(\\d+)\\]",
                "\"data_offsets\":[$1,$1]"));
        assertOneLineError(gen(m), "model.safetensors", "needs", "bytes");
    }

    @Test
    void wrongDtype() throws IOException {
        Path m = copy("pangu-embedded-tiny");
        rewriteHeader(m.resolve("model.safetensors"), h -> h.replace("\"model.norm.weight\":{\"dtype\":\"BF16\"",
                "\"model.norm.weight\":{\"dtype\":\"I16\""));
        assertOneLineError(gen(m), "model.norm.weight", "unsupported dtype");
    }

    @Test
    void missingShard() throws IOException {
        Path m = copy("pangu-moe-tiny");
        Files.delete(m.resolve("model-00002-of-00002.safetensors"));
        assertOneLineError(gen(m), "model-00002-of-00002.safetensors", "missing shard");
    }

    @Test
    void shapeMismatch() throws IOException {
        Path m = copy("pangu-embedded-tiny");
        Path cfg = m.resolve("config.json");
        Files.writeString(cfg, Files.readString(cfg).replace("\"intermediate_size\": 160", "\"intermediate_size\": 161"));
        assertOneLineError(gen(m), "mlp.gate_proj.weight", "shape");
    }

    @Test
    void unknownArchitecture() throws IOException {
        Path m = copy("pangu-embedded-tiny");
        Path cfg = m.resolve("config.json");
        Files.writeString(cfg, Files.readString(cfg).replace("PanguEmbeddedForCausalLM", "MysteryForCausalLM"));
        assertOneLineError(gen(m), "config.json", "unknown architecture 'MysteryForCausalLM'");
    }

    @Test
    void proMoeV2Refused() throws IOException {
        Path m = copy("pangu-moe-tiny");
        Path cfg = m.resolve("config.json");
        Files.writeString(cfg, Files.readString(cfg).replace("\"num_experts\": 16,", "\"num_experts\": 16, \"n_routed_experts\": 16,"));
        assertOneLineError(gen(m), "config.json", "V2");
    }

    @Test
    void ropeScalingAndPartialRotaryAreRefusedNotIgnored() throws IOException {
        Path m = copy("pangu-embedded-tiny");
        Path cfg = m.resolve("config.json");
        String base = Files.readString(cfg);
        Files.writeString(cfg, base.replaceFirst("\\{", "{\"rope_scaling\": {\"type\": \"yarn\", \"factor\": 4},"));
        assertOneLineError(gen(m), "config.json", "rope_scaling 'yarn' (factor 4.0) is not supported");
        CliRunner conv = CliRunner.run("convert", m.toString(), "--type", "q8_0", "-o", m.resolve("x.gguf").toString());
        assertOneLineError(conv, "rope_scaling 'yarn'");
        Files.writeString(cfg, base.replaceFirst("\\{", "{\"partial_rotary_factor\": 0.5,"));
        assertOneLineError(gen(m), "config.json", "partial_rotary_factor 0.5 is not supported");
        Files.writeString(cfg, base.replaceFirst("\\{", "{\"rope_scaling\": null, \"partial_rotary_factor\": 1.0,"));
        assertThat(gen(m).exit()).isZero();
    }

    @Test
    void aMistypedOptionGetsOneLineAndAPointerToHelpNotTheUsage() {
        CliRunner r = CliRunner.run("generate", "--temprature", "0.5", "--prompt", "hi");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).startsWith("moge: Unknown option").contains("'--temprature'").contains("Possible solutions: --temperature")
                .endsWith("Try 'moge generate --help' for the options.\n").doesNotContain("Usage:");
        assertThat(r.err().lines().count()).isLessThan(6);
        CliRunner o = CliRunner.run("bench", "-o", "xml");
        assertThat(o.exit()).isEqualTo(1);
        assertThat(o.err()).isEqualTo("moge: -o: expected md or json, got xml\n");
    }

    @Test
    void llamaCppsGpuLayersFlagIsAcceptedAndIgnored() {
        for (String flag : new String[]{"-ngl", "--n-gpu-layers"}) {
            CliRunner r = CliRunner.run("generate", "--model", FIX.resolve("pangu-embedded-tiny").toString(), flag, "99",
                    "--prompt-ids", "1,14,1161", "-n", "2", "--json");
            assertThat(r.exit()).as(r.err()).isZero();
        }
        assertThat(CliRunner.run("bench", "--model", FIX.resolve("pangu-embedded-tiny").toString(), "-ngl", "99", "-p", "4", "-n", "2",
                "-r", "1", "--warmup", "0", "--bandwidth-mib", "0").exit()).isZero();
    }

    @Test
    void missingConfigField() throws IOException {
        Path m = copy("pangu-moe-tiny");
        Path cfg = m.resolve("config.json");
        Files.writeString(cfg, Files.readString(cfg).replace("\"moe_intermediate_size\": 32,", ""));
        assertOneLineError(gen(m), "config.json", "moe_intermediate_size");
    }

    @Test
    void missingTensor() throws IOException {
        Path m = copy("pangu-embedded-tiny");
        rewriteHeader(m.resolve("model.safetensors"), h -> h.replace("\"lm_head.weight\"", "\"lm_head.weighX\""));
        assertOneLineError(gen(m), "lm_head.weight");
    }

    @Test
    void inspectDescribesAModelWhoseWeightsCannotLoad() throws IOException {
        // inspect reads the configuration and tokenizer only, so it can show what a broken checkpoint holds
        Path m = copy("pangu-embedded-tiny");
        rewriteHeader(m.resolve("model.safetensors"), h -> h.replace("\"lm_head.weight\"", "\"lm_head.weighX\""));
        CliRunner r = CliRunner.run("inspect", m.toString(), "--tensors");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).contains("architecture: PanguEmbeddedForCausalLM").contains("lm_head.weighX");
    }

    @Test
    void corruptTokenizerModel() throws IOException {
        Path m = copy("pangu-embedded-tiny");
        Path f = m.resolve("tokenizer.model");
        byte[] b = Files.readAllBytes(f);
        Files.write(f, java.util.Arrays.copyOf(b, b.length - 100));
        CliRunner r = CliRunner.run("generate", "--model", m.toString(), "--prompt", "hello", "-n", "2");
        assertOneLineError(r, "tokenizer.model");
    }

    @Test
    void missingTokenizerForTextPrompt() throws IOException {
        Path m = copy("pangu-embedded-tiny");
        Files.delete(m.resolve("tokenizer.model"));
        CliRunner r = CliRunner.run("generate", "--model", m.toString(), "--prompt", "hello", "-n", "2");
        assertOneLineError(r, "no tokenizer.model");
    }

    @Test
    void promptLongerThanContext() {
        String ids = String.join(",", java.util.Collections.nCopies(40, "5"));
        CliRunner r = CliRunner.run("generate", "--model", FIX.resolve("pangu-embedded-tiny").toString(), "--prompt-ids", ids,
                "--ctx", "32", "-n", "2");
        assertOneLineError(r, "prompt of 40 tokens", "context of 32", "raise --ctx");
        // at the model's own maximum a larger --ctx cannot help, and the message must not suggest it
        String full = String.join(",", java.util.Collections.nCopies(32768, "5"));
        CliRunner max = CliRunner.run("generate", "--model", FIX.resolve("pangu-embedded-tiny").toString(), "--prompt-ids", full,
                "--ctx", "40000", "-n", "2");
        assertOneLineError(max, "prompt of 32768 tokens", "context of 32768", "the model's maximum");
        assertThat(max.err()).doesNotContain("raise --ctx");
    }

    @Test
    void ctxZeroMeansTheModelsMaximumAndThreadListsAreForBenchOnly() {
        // llama.cpp's -c 0: the context the model was trained for (32768 here), not an error
        String full = String.join(",", java.util.Collections.nCopies(32768, "5"));
        CliRunner max = CliRunner.run("generate", "--model", FIX.resolve("pangu-embedded-tiny").toString(), "--prompt-ids", full, "-c", "0", "-n", "2");
        assertOneLineError(max, "context of 32768", "the model's maximum");
        CliRunner ok = CliRunner.run("generate", "--model", FIX.resolve("pangu-embedded-tiny").toString(), "--prompt-ids", "1,14,1161", "-c", "0", "-n", "2",
                "--json");
        assertThat(ok.exit()).as(ok.err()).isZero();
        assertOneLineError(CliRunner.run("generate", "--model", FIX.resolve("pangu-embedded-tiny").toString(), "--prompt-ids", "1,14", "-c", "1"),
                "--ctx must be 0 (the model's maximum) or >= 2, got 1");
        assertOneLineError(CliRunner.run("generate", "--model", FIX.resolve("pangu-embedded-tiny").toString(), "--prompt-ids", "1,14", "-t", "1,2"),
                "-t takes one thread count here, got 2 (lists are for bench)");
    }

    @Test
    void tokenOutsideVocabulary() {
        CliRunner r = CliRunner.run("generate", "--model", FIX.resolve("pangu-embedded-tiny").toString(), "--prompt-ids", "1,99999");
        assertOneLineError(r, "token id 99999");
    }

    @Test
    void samplingErrorsNameTheFlagAndTopPZeroIsAllowed() {
        String model = FIX.resolve("pangu-embedded-tiny").toString();
        assertOneLineError(CliRunner.run("generate", "--model", model, "--prompt-ids", "1,14", "-n", "2", "--top-p", "1.5"),
                "--top-p must be in [0, 1], got 1.5");
        assertOneLineError(CliRunner.run("generate", "--model", model, "--prompt-ids", "1,14", "-n", "2", "--repeat-penalty", "0"),
                "--repeat-penalty must be > 0");
        CliRunner r = CliRunner.run("generate", "--model", model, "--prompt-ids", "1,14", "-n", "2", "--temperature", "1", "--top-p", "0");
        assertThat(r.exit()).as(r.err()).isZero();
        // llama.cpp's --temp is the same flag: same seed, same sampled tokens
        CliRunner a = CliRunner.run("generate", "--model", model, "--prompt-ids", "1,14", "-n", "12", "--temperature", "1.5", "--seed", "7", "--json");
        CliRunner b = CliRunner.run("generate", "--model", model, "--prompt-ids", "1,14", "-n", "12", "--temp", "1.5", "--seed", "7", "--json");
        CliRunner greedy = CliRunner.run("generate", "--model", model, "--prompt-ids", "1,14", "-n", "12", "--seed", "7", "--json");
        assertThat(b.exit()).as(b.err()).isZero();
        assertThat(b.out().replaceAll("(?s)\"timings\".*", "")).isEqualTo(a.out().replaceAll("(?s)\"timings\".*", ""))
                .isNotEqualTo(greedy.out().replaceAll("(?s)\"timings\".*", ""));
    }

    @Test
    void missingModelDirectory() {
        assertOneLineError(gen(tmp.resolve("nope")), "nope");
    }

    /** Rewrites the JSON header, keeping its length (padding with spaces) so the data stays in place. */
    private static void rewriteHeader(Path f, java.util.function.UnaryOperator<String> edit) throws IOException {
        byte[] b = Files.readAllBytes(f);
        int n = (int) ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        String h = new String(b, 8, n, StandardCharsets.UTF_8);
        String e = edit.apply(h);
        byte[] eb = e.getBytes(StandardCharsets.UTF_8);
        if (eb.length > n) throw new IllegalStateException("edited header longer than the original");
        byte[] padded = new byte[n];
        java.util.Arrays.fill(padded, (byte) ' ');
        System.arraycopy(eb, 0, padded, 0, eb.length);
        System.arraycopy(padded, 0, b, 8, n);
        Files.write(f, b);
        assertThat(e).isNotEqualTo(h);
    }
}
