package moge.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/** `generate --grammar` / `--grammar-file` (llama.cpp's options, GBNF) on the demo model, which answers in its own words otherwise. */
class GrammarCliTest {
    static final String DEMO = ShippedModelsTest.MODELS.resolve("demo").toString();
    static final String GRAMMAR = "root ::= \"The sum is \" [1-9] [0-9]? \".\" (\" I am \" (\"sure\" | \"unsure\") \".\")?";
    static final Pattern MATCHES = Pattern.compile("The sum is [1-9][0-9]?\\.( I am (sure|unsure)\\.)?");

    @TempDir
    Path tmp;

    private static String text(CliRunner r) throws Exception {
        assertThat(r.exit()).as(r.err()).isZero();
        return new ObjectMapper().readTree(r.out()).get("text").asText();
    }

    @Test
    void theOutputMatchesTheGrammar() throws Exception {
        assertThat(text(CliRunner.run("generate", "-m", DEMO, "--chat", "-p", "What is 12+7?", "--grammar", GRAMMAR, "-n", "300", "--json")))
                .matches(MATCHES);
        Path file = Files.writeString(tmp.resolve("answer.gbnf"), "# the sentence\n" + GRAMMAR + "\n");
        assertThat(text(CliRunner.run("generate", "-m", DEMO, "-p", "What is 3+4?", "--grammar-file", file.toString(), "-n", "100",
                "--temperature", "1.0", "--seed", "3", "--json"))).matches(MATCHES);
        assertThat(text(CliRunner.run("generate", "-m", DEMO, "--chat", "-p", "What is 12+7? /no_think", "-n", "60", "--json")))
                .as("unconstrained, the model says something else").doesNotMatch(MATCHES);
    }

    @Test
    void aMalformedGrammarFailsInOneLineNamingThePlace() {
        CliRunner r = CliRunner.run("generate", "-m", DEMO, "-p", "x", "--grammar", "root ::= digit");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).startsWith("moge: --grammar: grammar line 1, column 10: undefined rule 'digit'").hasLineCount(1);
        CliRunner both = CliRunner.run("generate", "-m", DEMO, "-p", "x", "--grammar", GRAMMAR, "-j", "{}");
        assertThat(both.err()).startsWith("moge: give one of --json-schema, --grammar or --grammar-file").hasLineCount(1);
        CliRunner missing = CliRunner.run("generate", "-m", DEMO, "-p", "x", "--grammar-file", tmp.resolve("none.gbnf").toString());
        assertThat(missing.exit()).isEqualTo(1);
        assertThat(missing.err()).contains("none.gbnf").hasLineCount(1);
    }
}
