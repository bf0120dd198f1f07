package moge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** `moge embed`: unit vectors of the model's width, the same for the same text in any form of output, and bad input. */
class EmbedCommandTest {
    static final String MODEL = BadInputTest.FIX.resolve("pangu-embedded-tiny").toString();
    static final ObjectMapper M = new ObjectMapper();

    @TempDir
    Path tmp;

    static double[] vector(JsonNode arr) {
        double[] v = new double[arr.size()];
        for (int i = 0; i < v.length; i++) v[i] = arr.get(i).asDouble();
        return v;
    }

    static double norm(double[] v) {
        double s = 0;
        for (double x : v) s += x * x;
        return Math.sqrt(s);
    }

    @Test
    void eachTextGetsAUnitVectorAndEveryOutputAgrees() throws Exception {
        CliRunner lines = CliRunner.run("embed", "-m", MODEL, "Hello there", "A tiny model", "Hello there");
        assertThat(lines.exit()).as(lines.err()).isZero();
        List<String> ls = lines.out().lines().toList();
        assertThat(ls).hasSize(3);
        double[] a = vector(M.readTree(ls.get(0))), b = vector(M.readTree(ls.get(1))), c = vector(M.readTree(ls.get(2)));
        assertThat(norm(a)).isCloseTo(1.0, within(1e-5));
        assertThat(a).containsExactly(c);
        assertThat(a).isNotEqualTo(b);

        Path f = Files.writeString(tmp.resolve("texts.txt"), "Hello there\n\nA tiny model\n");
        CliRunner json = CliRunner.run("embed", "-m", MODEL, "-f", f.toString(), "--json");
        JsonNode j = M.readTree(json.out());
        assertThat(j.path("data")).hasSize(2);
        assertThat(vector(j.path("data").path(0).path("embedding"))).containsExactly(a);
        assertThat(j.path("usage").path("prompt_tokens").asInt()).isPositive();

        CliRunner sim = CliRunner.run("embed", "-m", MODEL, "Hello there", "A tiny model", "--similarity");
        List<String> rows = sim.out().lines().toList();
        assertThat(rows.getFirst()).isEqualTo("cosine similarity matrix:");
        assertThat(rows.get(1)).startsWith("  1.000 ").endsWith("Hello there");
        double ab = 0;
        for (int i = 0; i < a.length; i++) ab += a[i] * b[i];
        assertThat(rows.get(1)).contains(String.format(java.util.Locale.ROOT, "%7.3f", ab));

        CliRunner cut = CliRunner.run("embed", "-m", MODEL, "Hello there", "--dimensions", "4", "--pooling", "mean");
        double[] d = vector(M.readTree(cut.out().strip()));
        assertThat(d).hasSize(4);
        assertThat(norm(d)).isCloseTo(1.0, within(1e-5));
    }

    @Test
    void badInputIsOneLineAndANonZeroExit() {
        CliRunner none = CliRunner.run("embed", "-m", MODEL);
        assertThat(none.exit()).isNotZero();
        assertThat(none.err()).contains("nothing to embed");
        CliRunner pooling = CliRunner.run("embed", "-m", MODEL, "hi", "--pooling", "max");
        assertThat(pooling.exit()).isNotZero();
        assertThat(pooling.err()).contains("mean, cls or last");
        CliRunner dims = CliRunner.run("embed", "-m", MODEL, "hi", "--dimensions", "100000");
        assertThat(dims.exit()).isNotZero();
        assertThat(dims.err()).contains("dimensions must be between 1 and");
    }
}
