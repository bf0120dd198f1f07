package moge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** `moge perplexity` end to end on the fixture: llama-perplexity's output, --json, the KL-divergence round trip, bad input. */
class PerplexityCommandTest {
    static final String MODEL = BadInputTest.FIX.resolve("pangu-embedded-tiny").toString();
    private static final String TEXT = "The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs. ";

    @TempDir
    Path tmp;

    private Path text(int repeats) throws IOException {
        return Files.writeString(tmp.resolve("text-" + repeats + ".txt"), TEXT.repeat(repeats));
    }

    @Test
    void printsRunningEstimatesAndTheFinalOneAsLlamaPerplexityAndTheSameFigureAsJson() throws Exception {
        Path f = text(12);
        CliRunner r = CliRunner.run("perplexity", "-m", MODEL, "-f", f.toString(), "-c", "64", "--chunks", "3", "-b", "24", "-t", "2");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.err()).contains("perplexity over 3 chunks of 64 tokens").contains("scoring the last 31 of each");
        assertThat(r.out()).containsPattern("\\[1\\][0-9.]+,\\[2\\][0-9.]+,\\[3\\][0-9.]+,");
        Matcher m = Pattern.compile("Final estimate: PPL = ([0-9.]+) \\+/- ([0-9.]+)").matcher(r.out());
        assertThat(m.find()).as(r.out()).isTrue();
        double ppl = Double.parseDouble(m.group(1));
        assertThat(ppl).isGreaterThan(1.0);

        CliRunner j = CliRunner.run("perplexity", "-m", MODEL, "-f", f.toString(), "-c", "64", "--chunks", "3", "--json");
        assertThat(j.exit()).as(j.err()).isZero();
        JsonNode n = new ObjectMapper().readTree(j.out());
        assertThat(n.get("chunks").asInt()).isEqualTo(3);
        assertThat(n.get("tokens_scored").asInt()).isEqualTo(93);
        assertThat(n.get("ppl").asDouble()).isCloseTo(ppl, within(1e-3 * ppl)); // other batch size: float tolerance
    }

    @Test
    void klDivergenceOfAQ8ConversionAgainstTheBf16Base() throws Exception {
        Path f = text(12), base = tmp.resolve("base.kld"), q8 = tmp.resolve("tiny-q8_0.gguf");
        CliRunner b = CliRunner.run("perplexity", "-m", MODEL, "-f", f.toString(), "-c", "64", "--kl-divergence-base", base.toString());
        assertThat(b.exit()).as(b.err()).isZero();
        assertThat(b.err()).contains("wrote the base log-probabilities to");
        assertThat(CliRunner.run("convert", MODEL, "--type", "q8_0", "-o", q8.toString()).exit()).isZero();

        JsonNode self = kld(MODEL, base), quant = kld(q8.toString(), base);
        assertThat(self.get("same_top").asDouble()).isEqualTo(1.0);
        assertThat(self.get("mean").asDouble()).isLessThan(4e-4);
        assertThat(quant.get("mean").asDouble()).isGreaterThan(self.get("mean").asDouble()).isLessThan(0.05);
        assertThat(quant.get("max").asDouble()).isGreaterThanOrEqualTo(quant.get("p99").asDouble());

        CliRunner text = CliRunner.run("perplexity", "-m", q8.toString(), "--kl-divergence-base", base.toString(), "--kl-divergence");
        assertThat(text.exit()).as(text.err()).isZero();
        assertThat(text.out()).contains("Mean    KLD:").contains("Same top p:").contains("Mean PPL(base)");
    }

    private static JsonNode kld(String model, Path base) throws Exception {
        CliRunner r = CliRunner.run("perplexity", "-m", model, "--kl-divergence-base", base.toString(), "--kl-divergence", "--json");
        assertThat(r.exit()).as(r.err()).isZero();
        JsonNode n = new ObjectMapper().readTree(r.out());
        assertThat(n.get("n_ctx").asInt()).isEqualTo(64); // taken from the base file
        return n.get("kl_divergence");
    }

    @Test
    void badInputFailsInOneLine() throws Exception {
        Path shortText = text(1);
        assertThat(CliRunner.run("perplexity", "-m", MODEL).err()).contains("give the text to score with -f FILE");
        assertThat(CliRunner.run("perplexity", "-m", MODEL, "--kl-divergence").err()).contains("--kl-divergence needs --kl-divergence-base");
        CliRunner tooShort = CliRunner.run("perplexity", "-m", MODEL, "-f", shortText.toString());
        assertThat(tooShort.exit()).isNotZero();
        assertThat(tooShort.err()).contains(shortText.toString()).contains("a context of 512 needs at least 512");
        CliRunner notBase = CliRunner.run("perplexity", "-m", MODEL, "--kl-divergence-base", shortText.toString(), "--kl-divergence");
        assertThat(notBase.exit()).isNotZero();
        assertThat(notBase.err()).contains("not a KL-divergence base file").doesNotContain("Exception");
        assertThat(CliRunner.run("perplexity", "-m", MODEL, "-f", tmp.resolve("nope.txt").toString()).err()).contains("nope.txt");
        assertThat(CliRunner.run("perplexity", "-m", MODEL, "-f", shortText.toString(), "--chunks", "0").err()).contains("--chunks must be >= 1");
    }
}
