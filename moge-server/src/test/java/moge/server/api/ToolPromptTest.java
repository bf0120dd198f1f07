package moge.server.api;

import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.Fixtures;
import moge.chat.ChatMessage;
import moge.chat.ChatTemplate;
import moge.tokenizer.HfTokenizerLoader;
import moge.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** How tools and earlier calls reach the prompt: our rendering for templates without tool support, the template's own otherwise. */
class ToolPromptTest {
    static final Tokenizer DEMO = HfTokenizerLoader.load(Fixtures.ROOT.getParent().getParent().resolve("models/demo"));
    static final String BODY = """
            {"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"What is 12+30?"},
              {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"add","arguments":"{\\"a\\":12,\\"b\\":30}"}}]},
              {"role":"tool","tool_call_id":"call_1","content":"42"}],
             "tools":[{"type":"function","function":{"name":"add","description":"Adds","parameters":{"type":"object","properties":{"a":{"type":"integer"}}}}}]%s}""";

    static CompletionRequest request(String extra) {
        return RequestParser.chat(RequestParser.parseObject(BODY.formatted(extra).getBytes()));
    }

    static String render(ChatTemplate t, String extra) {
        CompletionRequest r = request(extra);
        ToolSpec spec = ToolSpec.parse(r.body());
        ToolPrompt p = new ToolPrompt(DEMO);
        return t.render(p.messages(r.messages(), spec, t), true, p.variables(Map.of(), spec, t));
    }

    @Test
    void openPanguGetsTheToolsInItsSystemTurnAndCallsBetweenItsMarkers() {
        String prompt = render(ChatTemplate.openPangu(), "");
        assertThat(prompt).startsWith("[unused9]系统：Be brief.\n\n# Tools\n")
                .contains("<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"add\", \"description\": \"Adds\", \"parameters\": "
                        + "{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"integer\"}}}}}\n</tools>")
                .contains("between [unused11] and [unused12]")
                .contains("[unused9]助手：[unused11][{\"name\": \"add\", \"arguments\": {\"a\": 12, \"b\": 30}}][unused12][unused10]")
                .contains("[unused9]工具：42[unused10]")
                .endsWith("[unused9]助手：");
        // the demo model's own Jinja template, which has no tool support either, renders the same
        ChatTemplate jinja = ChatTemplate.load(Fixtures.ROOT.getParent().getParent().resolve("models/demo"), DEMO);
        assertThat(jinja.isBuiltIn()).isFalse();
        assertThat(render(jinja, "")).isEqualTo(prompt);
    }

    @Test
    void toolChoiceNoneLeavesTheToolsOutButKeepsTheHistory() {
        String prompt = render(ChatTemplate.openPangu(), ",\"tool_choice\":\"none\"");
        assertThat(prompt).doesNotContain("<tools>").startsWith("[unused9]系统：Be brief.[unused10]")
                .contains("[unused11][{\"name\": \"add\", \"arguments\": {\"a\": 12, \"b\": 30}}][unused12]");
        assertThat(render(ChatTemplate.openPangu(), ",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"add\"}}"))
                .contains("Answer by calling add now.");
    }

    @Test
    void aTemplateThatReadsToolsRendersThemItself() {
        // a tool-aware template in the style of Qwen's, reading tools, tool_calls (arguments as objects) and tool_call_id
        ChatTemplate t = ChatTemplate.of("test", """
                {%- if tools %}TOOLS:{% for tool in tools %}{{ tool.function.name }}({{ tool.function.parameters.properties.a.type }});{% endfor %}
                {% endif %}{%- for m in messages %}<{{ m.role }}>{{ m.content }}{% if m.tool_calls %}{% for c in m.tool_calls %}CALL {{ c.function.name }} a={{ c.function.arguments.a }}{% endfor %}{% endif %}{% if m.tool_call_id %} id={{ m.tool_call_id }}{% endif %}
                {% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}""", "<s>", "</s>");
        assertThat(t.reads("tools")).isTrue();
        assertThat(t.reads("tool_calls")).isTrue();
        assertThat(t.reads("function")).isTrue();
        assertThat(t.reads("tool_call")).as("a word of its own, not a prefix").isFalse();
        assertThat(t.reads("system")).as("in the literal text only").isFalse();
        String prompt = render(t, "");
        assertThat(prompt).isEqualTo("TOOLS:add(integer);<system>Be brief.<user>What is 12+30?<assistant>CALL add a=12<tool>42 id=call_1<assistant>");
    }

    @Test
    void textMarkersWhereTheVocabularyHasNoneOfItsOwn() {
        ObjectNode body = RequestParser.parseObject(BODY.formatted("").getBytes());
        ToolPrompt p = new ToolPrompt(piece -> -1);
        assertThat(p.systemText(ToolSpec.parse(body))).contains("between <tool_call> and </tool_call>");
        assertThat(p.callsText(List.of(Map.of("function", Map.of("name", "f", "arguments", Map.of()))))).isEqualTo("<tool_call>[{\"name\": \"f\", \"arguments\": {}}]</tool_call>");
        assertThat(ChatMessage.user("x").fields()).isEmpty();
    }
}
