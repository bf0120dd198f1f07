package moge.chat;

import moge.MogeException;
import moge.tokenizer.SentencePieceTokenizer;
import moge.tokenizer.TokenizerFixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ChatTemplateTest {
    private static final SentencePieceTokenizer TOK = TokenizerFixtures.tokenizer();
    private static final ChatTemplate SHIPPED = ChatTemplate.load(TokenizerFixtures.MOE_DIR, TOK);

    private static ChatTemplate jinja(String source) {
        return ChatTemplate.of("test template", source, "<s>", "[unused10]");
    }

    @Test
    void shippedTemplateRendersTheOpenPanguFormat() {
        assertThat(SHIPPED.isBuiltIn()).isFalse();
        assertThat(SHIPPED.name()).contains("tokenizer_config.json");
        assertThat(SHIPPED.render(List.of(ChatMessage.user("What is the meaning of life?")), true))
                .isEqualTo("[unused9]系统：[unused10][unused9]用户：What is the meaning of life?[unused10][unused9]助手：");
        assertThat(SHIPPED.render(List.of(ChatMessage.system("Be brief."), ChatMessage.user("Hi")), false))
                .isEqualTo("[unused9]系统：Be brief.[unused10][unused9]用户：Hi[unused10]");
    }

    @Test
    void builtInFormatEqualsTheShippedTemplate() {
        List<List<ChatMessage>> conversations = List.of(
                List.of(),
                List.of(ChatMessage.user("hi")),
                List.of(ChatMessage.system("sys"), ChatMessage.user("q"), ChatMessage.assistant("a"), ChatMessage.user("q2")),
                List.of(ChatMessage.user("call"), new ChatMessage("assistant", null), new ChatMessage("tool", "{\"x\": 1}"),
                        new ChatMessage("function", "f()"), ChatMessage.system("late system")),
                List.of(ChatMessage.user("  spaces and\nnewlines  "), ChatMessage.assistant("[unused16]think[unused17]answer")));
        for (List<ChatMessage> c : conversations) {
            for (boolean gen : new boolean[]{true, false}) {
                assertThat(ChatTemplate.openPangu().render(c, gen)).as("%s gen=%s", c, gen).isEqualTo(SHIPPED.render(c, gen));
            }
        }
    }

    /** Jinja's white-space control on expression tags, which tool-aware templates (Qwen's, Llama 3.1's) lean on. */
    @Test
    void dashesTrimWhiteSpaceAroundExpressionsAsWellAsBlocks() {
        assertThat(jinja("a   {{- 'b' }}  c").render(List.of(), false)).isEqualTo("ab  c");
        assertThat(jinja("a   {{ 'b' -}}  c").render(List.of(), false)).isEqualTo("a   bc");
        assertThat(jinja("{%- if true %}\n    {{- 'y' }}\n{%- endif %}\n{#- note #} z").render(List.of(), false)).isEqualTo("y z");
        // message fields beside role and content reach the template; tojson writes a map as JSON
        ChatMessage call = new ChatMessage("assistant", "", Map.of("tool_calls", List.of(Map.of("function",
                Map.of("name", "add", "arguments", Map.of("a", 1))))));
        assertThat(jinja("{%- for m in messages %}{%- for c in m.tool_calls %}\n  {{- c.function.name }}:{{ c.function.arguments | tojson }}"
                + "{%- endfor %}{%- endfor %}").render(List.of(call), false)).isEqualTo("add:{\"a\": 1}");
    }

    /** tojson as transformers' (Python's json.dumps): its separators, indent and sort_keys, non-ASCII text kept. */
    @Test
    void tojsonWritesWhatPythonWrites() {
        Map<String, Object> v = new java.util.LinkedHashMap<>();
        v.put("b", List.of(1, 2.5, "é\"\n"));
        v.put("a", Map.of());
        v.put("c", List.of());
        v.put("d", null);
        assertThat(PythonJson.dumps(v)).isEqualTo("{\"b\": [1, 2.5, \"é\\\"\\n\"], \"a\": {}, \"c\": [], \"d\": null}");
        assertThat(jinja("{{ x | tojson(indent=2) }}").render(List.of(), false, Map.of("x", Map.of("k", List.of(true)))))
                .isEqualTo("{\n  \"k\": [\n    true\n  ]\n}");
        assertThat(jinja("{{ x | tojson(sort_keys=true) }}|{{ 'a' | tojson }}").render(List.of(), false, Map.of("x", v)))
                .isEqualTo("{\"a\": {}, \"b\": [1, 2.5, \"é\\\"\\n\"], \"c\": [], \"d\": null}|\"a\"");
    }

    @Test
    void unknownRolesAreAnErrorInTheBuiltInFormat() {
        // the shipped Jinja template silently drops such a turn; the built-in format refuses it
        List<ChatMessage> c = List.of(new ChatMessage("narrator", "x"));
        assertThat(SHIPPED.render(c, false)).isEqualTo("[unused9]系统：[unused10]");
        assertThatThrownBy(() -> ChatTemplate.openPangu().render(c, false))
                .isInstanceOf(MogeException.class).hasMessageContaining("unknown role 'narrator'");
    }

    @Test
    void specialTokenVariablesAndExtraKwargs() {
        ChatTemplate t = ChatTemplate.load(TokenizerFixtures.MOE_DIR, TOK);
        assertThat(ChatTemplate.of("t", "{{ bos_token }}|{{ eos_token }}", "<s>", "[unused10]").render(List.of(), false))
                .isEqualTo("<s>|[unused10]");
        ChatTemplate thinking = jinja("{% for m in messages %}{{ m.content }}{% if enable_thinking is defined and not enable_thinking %}"
                + " /no_think{% endif %}{% endfor %}");
        assertThat(thinking.render(List.of(ChatMessage.user("q")), true, Map.of("enable_thinking", false))).isEqualTo("q /no_think");
        assertThat(thinking.render(List.of(ChatMessage.user("q")), true)).isEqualTo("q");
        assertThat(t.render(List.of(ChatMessage.user("q")), true, Map.of("eos_token", "x"))).endsWith("助手：");
    }

    @Test
    void blocksAreTrimmedLikeTransformersDoes() {
        // transformers compiles templates with trim_blocks and lstrip_blocks
        ChatTemplate t = jinja("{% for m in messages %}\n    {% if m.role == 'user' %}\n  <{{ m.content }}>\n    {% endif %}\n{% endfor %}\n"
                + "{%- if add_generation_prompt %}\n[gen]{% endif %}");
        assertThat(t.render(List.of(ChatMessage.user("a"), ChatMessage.assistant("b"), ChatMessage.user("c")), true))
                .isEqualTo("  <a>\n  <c>\n[gen]");
    }

    @Test
    void pythonStyleTemplateIdioms() {
        ChatTemplate t = jinja("{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}"
                + "{% if loop.last %}{{ m['role'] }}:{{ m.content | trim }}{% endif %}{% endfor %}/{{ ns.n }}/{{ messages | length }}");
        assertThat(t.render(List.of(ChatMessage.user("a"), ChatMessage.assistant("  b  ")), false)).isEqualTo("assistant:b/2/2");
    }

    @Test
    void messageTextIsNeverEvaluated() {
        String evil = "{{ 7 * 7 }}{% raw %}{% include 'pom.xml' %}";
        assertThat(SHIPPED.render(List.of(ChatMessage.user(evil)), false)).contains(evil).doesNotContain("49");
    }

    @Test
    void raiseExceptionBecomesAMogeException() {
        ChatTemplate t = jinja("{% for m in messages %}{% if m.role == 'tool' %}{{ raise_exception('tools are not supported') }}"
                + "{% endif %}{{ m.content }}{% endfor %}");
        assertThat(t.render(List.of(ChatMessage.user("ok")), false)).isEqualTo("ok");
        assertThatThrownBy(() -> t.render(List.of(new ChatMessage("tool", "x")), false))
                .isInstanceOf(MogeException.class)
                .hasMessageStartingWith("chat template test template: ")
                .hasMessageContaining("tools are not supported");
    }

    @Test
    void templatesCannotReadFiles() {
        for (String src : List.of("{% include 'pom.xml' %}", "{% import '/etc/passwd' as p %}x", "{% extends 'pom.xml' %}",
                "{% from 'pom.xml' import x %}x")) {
            String out;
            try {
                out = jinja(src).render(List.of(), false);
            } catch (MogeException e) {
                assertThat(e.getMessage()).startsWith("chat template test template: ");
                continue;
            }
            assertThat(out).as(src).doesNotContain("<project").doesNotContain("root:");
        }
    }

    @Test
    void syntaxErrorsNameTheTemplate() {
        assertThatThrownBy(() -> jinja("{{ foo( }}").render(List.of(), false))
                .isInstanceOf(MogeException.class).hasMessageStartingWith("chat template test template: ");
        assertThatThrownBy(() -> jinja("{% bogus %}").render(List.of(), false))
                .isInstanceOf(MogeException.class).hasMessageContaining("bogus");
        assertThatThrownBy(() -> jinja("{% if x %}unclosed").render(List.of(), false))
                .isInstanceOf(MogeException.class).hasMessageStartingWith("chat template test template: ");
    }

    @Test
    void templateSources(@TempDir Path dir) throws IOException {
        Files.copy(TokenizerFixtures.MOE_DIR.resolve("tokenizer.model"), dir.resolve("tokenizer.model"));
        assertThat(ChatTemplate.load(dir, TOK).isBuiltIn()).isTrue();

        Files.writeString(dir.resolve("chat_template.jinja"), "jinja file");
        assertThat(ChatTemplate.load(dir, TOK).render(List.of(), false)).isEqualTo("jinja file");

        Files.writeString(dir.resolve("tokenizer_config.json"),
                "{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"tools\"}, {\"name\": \"default\", \"template\": \"default\"}]}");
        assertThat(ChatTemplate.load(dir, TOK).render(List.of(), false)).isEqualTo("default");

        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": 42}");
        assertThatThrownBy(() -> ChatTemplate.load(dir, TOK)).isInstanceOf(MogeException.class)
                .hasMessageStartingWith("tokenizer_config.json: ");
    }

    @Test
    void templatesNamedOnTheCommandLine() {
        List<ChatMessage> chat = List.of(ChatMessage.system("Be brief."), ChatMessage.user("Hi"));
        assertThat(ChatTemplate.named("openpangu", TOK).render(chat, true)).isEqualTo(SHIPPED.render(chat, true));
        assertThat(ChatTemplate.named("ChatML", TOK).render(chat, true))
                .isEqualTo("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
        assertThat(ChatTemplate.named("{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}", TOK)
                .render(chat, false)).isEqualTo("<s>[system]Be brief.[user]Hi");
        assertThatThrownBy(() -> ChatTemplate.named("mistral", TOK)).isInstanceOf(MogeException.class)
                .hasMessageStartingWith("--chat-template: unknown template 'mistral'");
        // checked at once: a template that fails on an ordinary conversation never reaches a request
        assertThatThrownBy(() -> ChatTemplate.named("{% for m in messages %}{{ raise_exception('no ' + m.role) }}{% endfor %}", TOK))
                .isInstanceOf(MogeException.class).hasMessageContaining("raise_exception: no system");
        assertThatThrownBy(() -> ChatTemplate.fromFile(Path.of("t.jinja"), "{% for %}", TOK))
                .isInstanceOf(MogeException.class).hasMessageStartingWith("chat template t.jinja: ");
    }
}
