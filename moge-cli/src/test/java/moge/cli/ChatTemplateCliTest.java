package moge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static moge.cli.ThinkingCliTest.MODEL;
import static moge.cli.ThinkingCliTest.json;
import static org.assertj.core.api.Assertions.assertThat;

/** --chat-template / --chat-template-file: another template than the model's, as llama.cpp and vLLM take one. */
class ChatTemplateCliTest {
    /** Only the messages' text: the chat prompt is then exactly the raw prompt. */
    private static final String CONTENT_ONLY = "{% for m in messages %}{{ m.content }}{% endfor %}";

    @TempDir
    Path tmp;

    private static JsonNode promptIds(String... extra) throws IOException {
        String[] base = {"generate", "--model", MODEL, "--prompt", "What is 2+2?", "-n", "1", "--json"};
        String[] args = new String[base.length + extra.length];
        System.arraycopy(base, 0, args, 0, base.length);
        System.arraycopy(extra, 0, args, base.length, extra.length);
        return json(CliRunner.run(args)).get("prompt_ids");
    }

    @Test
    void aTemplateGivenInlineOrInAFileReplacesTheModels() throws IOException {
        JsonNode raw = promptIds();
        JsonNode own = promptIds("--chat");
        JsonNode inline = promptIds("--chat", "--chat-template", CONTENT_ONLY);
        Path file = Files.writeString(tmp.resolve("content-only.jinja"), CONTENT_ONLY);
        JsonNode fromFile = promptIds("--chat", "--chat-template-file", file.toString());
        assertThat(own).isNotEqualTo(raw);
        assertThat(inline).isEqualTo(raw);
        assertThat(fromFile).isEqualTo(raw);
        // the built-in names: openpangu is what this openPangu model's own template renders; ChatML is not
        assertThat(promptIds("--chat", "--chat-template", "openpangu")).isEqualTo(own);
        assertThat(promptIds("--chat", "--chat-template", "chatml")).isNotEqualTo(own).isNotEqualTo(raw);
    }

    @Test
    void badTemplatesFailInOneLineBeforeAnythingRuns() throws IOException {
        CliRunner r = CliRunner.run("generate", "--model", MODEL, "--chat", "--prompt", "hi", "--chat-template", "llama3");
        assertThat(r.exit()).isNotZero();
        assertThat(r.err().strip()).isEqualTo("moge: --chat-template: unknown template 'llama3' (built-in: openpangu, chatml; "
                + "or Jinja text, or --chat-template-file FILE)");

        r = CliRunner.run("generate", "--model", MODEL, "--chat", "--prompt", "hi", "--chat-template", "{% if %}{% endif %}");
        assertThat(r.exit()).isNotZero();
        assertThat(r.err()).startsWith("moge: chat template --chat-template: ").contains("line 1").doesNotContain("\tat ");
        assertThat(r.err().strip().lines()).hasSize(1);

        Path missing = tmp.resolve("nope.jinja");
        r = CliRunner.run("serve", "--model", MODEL, "--port", "0", "--chat-template-file", missing.toString());
        assertThat(r.exit()).isNotZero();
        assertThat(r.err().strip()).isEqualTo("moge: --chat-template-file " + missing + ": no such file");
        assertThat(r.out()).as("fails before the port opens and the model loads").doesNotContain("loading");
        r = CliRunner.run("serve", "--model", MODEL, "--port", "0", "--chat-template", "{% if %}{% endif %}");
        assertThat(r.exit()).isNotZero();
        assertThat(r.err()).startsWith("moge: chat template --chat-template: ");
        assertThat(r.out()).doesNotContain("loading");

        Path broken = Files.writeString(tmp.resolve("broken.jinja"), "{% for %}\n");
        r = CliRunner.run("generate", "--model", MODEL, "--chat", "--prompt", "hi", "--chat-template-file", broken.toString());
        assertThat(r.exit()).isNotZero();
        assertThat(r.err()).startsWith("moge: chat template " + broken + ": ");

        r = CliRunner.run("generate", "--model", MODEL, "--chat", "--prompt", "hi", "--chat-template", "chatml",
                "--chat-template-file", broken.toString());
        assertThat(r.exit()).isNotZero();
        assertThat(r.err().strip()).isEqualTo("moge: give --chat-template or --chat-template-file, not both");
    }
}
