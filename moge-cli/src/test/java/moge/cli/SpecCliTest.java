package moge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.PrintWriter;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Speculative decoding through the CLI: same output as plain decoding, metrics in --json, clear errors. */
class SpecCliTest {
    static final Path MOE = BadInputTest.FIX.resolve("pangu-moe-tiny");
    static final Path EMB = BadInputTest.FIX.resolve("pangu-embedded-tiny");
    static final Path TIED = BadInputTest.FIX.resolve("pangu-embedded-tiny-tied");

    static JsonNode generate(Path model, String... extra) throws Exception {
        List<String> args = new ArrayList<>(List.of("generate", "--model", model.toString(), "--json", "--ignore-eos", "-n", "40",
                "--prompt", "Copy this: the cat sat on the mat. Copy this: the cat sat on the mat."));
        args.addAll(List.of(extra));
        CliRunner r = CliRunner.run(args.toArray(String[]::new));
        assertThat(r.exit()).as(r.err()).isZero();
        return new ObjectMapper().readTree(r.out());
    }

    @Test
    void ngramAndDraftModelGiveThePlainOutputAndReportMetrics() throws Exception {
        JsonNode plain = generate(EMB);
        assertThat(plain.has("speculation")).isFalse();
        for (String[] flags : new String[][]{{"--spec", "ngram", "--ngram-min", "1"}, {"--draft-model", TIED.toString(), "--draft-max", "3"},
                {"--spec", "draft", "--draft-model", EMB.toString(), "--draft-fixed"}}) {
            JsonNode spec = generate(EMB, flags);
            assertThat(spec.get("generated_ids")).as(String.join(" ", flags)).isEqualTo(plain.get("generated_ids"));
            assertThat(spec.get("text")).isEqualTo(plain.get("text"));
            JsonNode s = spec.get("speculation");
            assertThat(s).isNotNull();
            for (String f : new String[]{"source", "drafted", "accepted", "acceptance_rate", "mean_accepted", "mean_draft", "max_draft",
                    "draft_ms", "verify_ms", "speedup_estimate"}) {
                assertThat(s.has(f)).as(f).isTrue();
            }
            assertThat(s.get("accepted").asInt()).isLessThanOrEqualTo(s.get("drafted").asInt());
        }
        // The target drafting for itself with a fixed draft: every proposal accepted.
        JsonNode self = generate(EMB, "--draft-model", EMB.toString(), "--draft-fixed", "--draft-max", "4").get("speculation");
        assertThat(self.get("drafted").asInt()).isGreaterThan(0);
        assertThat(self.get("acceptance_rate").asDouble()).isEqualTo(1.0);
        assertThat(self.get("max_draft").asInt()).isEqualTo(4);
    }

    @Test
    void badSpeculationFlagsFailWithOneLine() {
        String[][] cases = {
                {"--spec", "medusa"}, {"--spec", "ngram", "--draft-model", TIED.toString()}, {"--spec", "ngram", "--draft-max", "0"},
                {"--spec", "ngram", "--ngram-min", "3", "--ngram-max", "2"}, {"--spec", "draft"},
                {"--draft-model", "self:q3_k"}, {"--draft-model", "/nonexistent/draft"}};
        String[] messages = {"unknown mode 'medusa'", "--draft-model needs --spec draft", "--draft-min", "--ngram-max",
                "--spec draft needs --draft-model", "self:q8_0 or self:q4_0", "no such file"};
        for (int i = 0; i < cases.length; i++) {
            List<String> args = new ArrayList<>(List.of("generate", "--model", MOE.toString(), "--prompt-ids", "1,2,3", "-n", "2"));
            args.addAll(List.of(cases[i]));
            CliRunner r = CliRunner.run(args.toArray(String[]::new));
            assertThat(r.exit()).as(String.join(" ", cases[i])).isEqualTo(1);
            assertThat(r.err()).as(String.join(" ", cases[i])).contains(messages[i]).doesNotContain("Exception");
        }
    }

    @Test
    void llamaCppFlagNamesAndAcceptanceLine() throws Exception {
        // -md / --draft-n as llama.cpp spells them; the same run as --draft-model / --draft-max
        JsonNode plain = generate(EMB);
        JsonNode spec = generate(EMB, "-md", TIED.toString(), "--draft-n", "3", "--draft-n-min", "2");
        assertThat(spec.get("generated_ids")).isEqualTo(plain.get("generated_ids"));
        assertThat(spec.path("speculation").path("source").asText()).contains("pangu-embedded-tiny-tied");
        assertThat(spec.path("speculation").path("max_draft").asInt()).isBetween(2, 3);

        // text output ends with the acceptance figures on stderr, as llama.cpp's speculative runs do
        CliRunner r = CliRunner.run("generate", "--model", EMB.toString(), "--ignore-eos", "-n", "20", "--spec", "ngram",
                "--prompt", "Copy this: the cat sat on the mat. Copy this: the cat sat on the mat.");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.err()).contains("moge: speculative decoding with ngram: ").contains("proposed tokens accepted")
                .contains("decode passes");

        // tuning flags without speculation are not dropped in silence
        CliRunner off = CliRunner.run("generate", "--model", EMB.toString(), "--prompt-ids", "1,2,3", "-n", "2", "--draft-max", "4");
        assertThat(off.exit()).as(off.err()).isZero();
        assertThat(off.err()).contains("ignored: no speculative decoding");
        CliRunner quiet = CliRunner.run("generate", "--model", EMB.toString(), "--prompt-ids", "1,2,3", "-n", "2");
        assertThat(quiet.err()).doesNotContain("speculative");
    }

    static void copyModel(Path from, Path to) throws java.io.IOException {
        java.nio.file.Files.createDirectories(to);
        try (var files = java.nio.file.Files.list(from)) {
            for (Path f : files.toList()) java.nio.file.Files.copy(f, to.resolve(f.getFileName()));
        }
    }

    /** --spec draft alone: the demo model drafts with models/draft beside it; a draft_model file names one elsewhere. */
    @Test
    void theDemoModelUsesTheDraftShippedBesideIt(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        Path demo = tmp.resolve("models/demo");
        copyModel(EMB, demo);
        List<String> args = List.of("generate", "--model", demo.toString(), "--prompt-ids", "1,2,3", "-n", "2", "--spec", "draft");
        CliRunner missing = CliRunner.run(args.toArray(String[]::new));
        assertThat(missing.exit()).isEqualTo(1);
        assertThat(missing.err()).startsWith("moge: --spec draft: the demo model's draft is missing (expected ")
                .contains(tmp.resolve("models/draft").toString()).doesNotContain("Exception");
        assertThat(missing.err().strip()).doesNotContain("\n");

        copyModel(TIED, tmp.resolve("models/draft"));
        JsonNode plain = generate(demo);
        JsonNode spec = generate(demo, "--spec", "draft", "--draft-max", "3");
        assertThat(spec.get("generated_ids")).isEqualTo(plain.get("generated_ids"));
        assertThat(spec.get("speculation").get("source").asText()).isEqualTo(tmp.resolve("models/draft").toAbsolutePath().normalize().toString());

        // any model directory may name its draft in a draft_model file (relative to the directory)
        Path target = tmp.resolve("other/target");
        copyModel(EMB, target);
        java.nio.file.Files.writeString(target.resolve("draft_model"), "../../models/draft\n");
        JsonNode named = generate(target, "--spec", "draft", "--draft-max", "3");
        assertThat(named.get("generated_ids")).isEqualTo(plain.get("generated_ids"));
        assertThat(named.get("speculation").get("drafted").asInt()).isPositive();
        java.nio.file.Files.writeString(target.resolve("draft_model"), "nowhere");
        CliRunner bad = CliRunner.run("generate", "--model", target.toString(), "--prompt-ids", "1,2,3", "-n", "2", "--spec", "draft");
        assertThat(bad.exit()).isEqualTo(1);
        assertThat(bad.err()).contains("draft_model: names the draft model").contains("no config.json").doesNotContain("Exception");
    }

    @Test
    void chatSpeculatesToo() {
        ChatCommand c = new ChatCommand();
        picocli.CommandLine cl = new picocli.CommandLine(c);
        cl.parseArgs("--model", MOE.toString(), "-n", "12", "--spec", "ngram", "--ngram-min", "1");
        StringWriter spec = new StringWriter();
        c.chat(new BufferedReader(new StringReader("hello hello hello\nagain again\n")), new PrintWriter(spec, true), false);
        ChatCommand p = new ChatCommand();
        new picocli.CommandLine(p).parseArgs("--model", MOE.toString(), "-n", "12");
        StringWriter plain = new StringWriter();
        p.chat(new BufferedReader(new StringReader("hello hello hello\nagain again\n")), new PrintWriter(plain, true), false);
        assertThat(spec.toString()).isEqualTo(plain.toString());
    }
}
