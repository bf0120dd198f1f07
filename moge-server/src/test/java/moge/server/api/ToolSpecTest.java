package moge.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.constrain.SubsetValidator;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** tools, tool_choice and parallel_tool_calls: what is accepted, what is refused naming the field, the forced schema. */
class ToolSpecTest {
    static final ObjectMapper M = new ObjectMapper();
    static final String TOOLS = """
            "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather now","parameters":{"type":"object",
              "properties":{"city":{"type":"string"},"unit":{"enum":["c","f"]}},"required":["city"]}}},
             {"type":"function","function":{"name":"add","parameters":{"properties":{"a":{"type":"integer"},"b":{"type":"integer"}},"required":["a","b"]}}}]""";

    static ToolSpec parse(String fields) {
        return ToolSpec.parse((ObjectNode) RequestParser.parseObject(("{" + fields + "}").getBytes()));
    }

    @Test
    void choicesParse() {
        assertThat(parse("").choice()).isEqualTo(ToolSpec.Choice.NONE);
        assertThat(parse(TOOLS).choice()).isEqualTo(ToolSpec.Choice.AUTO);
        assertThat(parse(TOOLS + ",\"tool_choice\":\"none\"").active()).isFalse();
        assertThat(parse(TOOLS + ",\"tool_choice\":\"required\"").forced()).isTrue();
        ToolSpec named = parse(TOOLS + ",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"add\"}},\"parallel_tool_calls\":false");
        assertThat(named.choice()).isEqualTo(ToolSpec.Choice.NAMED);
        assertThat(named.named()).isEqualTo("add");
        assertThat(named.parallel()).isFalse();
        // parameters without a type are an object's
        assertThat(named.function("add").parameters().path("type").asText()).isEqualTo("object");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '~', value = {
            "\"tools\":{} | tools | 'tools' must be an array",
            "\"tools\":[{\"type\":\"retrieval\"}] | tools[0].type | must be \"function\"",
            "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"a b\"}}] | tools[0].function.name | 1 to 64 letters",
            "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}},{\"type\":\"function\",\"function\":{\"name\":\"f\"}}] | tools[1].function.name | declared twice",
            "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"string\",\"pattern\":\"a+\"}}}}}],\"tool_choice\":\"required\" | tools[0].function.parameters | 'pattern' is not supported",
            "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{\"type\":\"string\"}}}] | tools[0].function.parameters | must be \"object\"",
            "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{\"type\":\"object\",\"required\":[\"x\"]}}}],\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"f\"}} | tools[0].function.parameters | required property 'x'",
            "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],\"tool_choice\":\"required\",\"grammar\":\"root ::= \\\"a\\\"\" | tool_choice | cannot be combined with a 'grammar'",
            "\"tool_choice\":\"required\" | tool_choice | declares no 'tools'",
            "\"tool_choice\":\"always\" | tool_choice | must be \"none\", \"auto\", \"required\"",
            "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"g\"}} | tool_choice.function.name | \"g\" is not one of the declared tools (f)",
            "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],\"tool_choice\":{\"type\":\"function\"} | tool_choice.function.name | must be a string",
            "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],\"tool_choice\":\"required\",\"response_format\":{\"type\":\"json_object\"} | tool_choice | cannot be combined",
            "\"parallel_tool_calls\":1 | parallel_tool_calls | must be a boolean",
            "\"functions\":[{\"name\":\"f\"}] | functions | send 'tools' and 'tool_choice'",
    })
    void badFieldsAreRefusedNamingThem(String fields, String param, String message) {
        assertThatThrownBy(() -> parse(fields)).isInstanceOfSatisfying(ApiException.class, e -> {
            assertThat(e.status).isEqualTo(400);
            assertThat(e.param).isEqualTo(param);
            assertThat(e.getMessage()).contains(message);
        });
    }

    @Test
    void unforcedToolsTakeAnySchemaAndForcedOnesTheSubset() {
        String tools = "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"when\",\"parameters\":{\"type\":\"object\","
                + "\"properties\":{\"d\":{\"type\":\"string\",\"format\":\"date\"}}}}},"
                + "{\"type\":\"function\",\"function\":{\"name\":\"add\",\"parameters\":{\"properties\":{\"a\":{\"type\":\"integer\"}}}}}]";
        assertThat(parse(tools).choice()).as("auto: only shown to the model").isEqualTo(ToolSpec.Choice.AUTO);
        assertThat(parse(tools + ",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"add\"}}").forced())
                .as("forcing another function: its schema is what must compile").isTrue();
        assertThatThrownBy(() -> parse(tools + ",\"tool_choice\":\"required\"")).isInstanceOfSatisfying(ApiException.class, e -> {
            assertThat(e.param).isEqualTo("tools[0].function.parameters");
            assertThat(e.getMessage()).contains("'format' is not supported").contains("forced");
        });
    }

    @Test
    void theForcedSchemaTakesValidCallsOnly() throws Exception {
        JsonNode required = parse(TOOLS + ",\"tool_choice\":\"required\"").callsSchema();
        SubsetValidator v = new SubsetValidator(required);
        assertThat(v.valid(M.readTree("[{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Oslo\"}}]"))).isTrue();
        assertThat(v.valid(M.readTree("[{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Oslo\"}},{\"name\":\"add\",\"arguments\":{\"a\":1,\"b\":2}}]"))).isTrue();
        assertThat(v.valid(M.readTree("[]"))).as("at least one call").isFalse();
        assertThat(v.valid(M.readTree("[{\"name\":\"get_weather\",\"arguments\":{}}]"))).as("city is required").isFalse();
        assertThat(v.valid(M.readTree("[{\"name\":\"add\",\"arguments\":{\"a\":1,\"b\":\"2\"}}]"))).as("b is an integer").isFalse();
        assertThat(v.valid(M.readTree("[{\"name\":\"sub\",\"arguments\":{}}]"))).as("undeclared").isFalse();

        SubsetValidator named = new SubsetValidator(parse(TOOLS + ",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"add\"}}").callsSchema());
        assertThat(named.valid(M.readTree("[{\"name\":\"add\",\"arguments\":{\"a\":1,\"b\":2}}]"))).isTrue();
        assertThat(named.valid(M.readTree("[{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Oslo\"}}]"))).as("only the named one").isFalse();
        assertThat(named.valid(M.readTree("[{\"name\":\"add\",\"arguments\":{\"a\":1,\"b\":2}},{\"name\":\"add\",\"arguments\":{\"a\":1,\"b\":2}}]")))
                .as("one call").isFalse();
    }

    @Test
    void theAutoSchemaTakesAnArrayOrOneCall() throws Exception {
        SubsetValidator v = new SubsetValidator(parse(TOOLS + ",\"parallel_tool_calls\":false").autoCallsSchema());
        assertThat(v.valid(M.readTree("[{\"name\":\"add\",\"arguments\":{\"a\":1,\"b\":2}}]"))).isTrue();
        assertThat(v.valid(M.readTree("{\"name\":\"add\",\"arguments\":{\"a\":1,\"b\":2}}"))).as("Hermes' single object").isTrue();
        assertThat(v.valid(M.readTree("{\"name\":\"add\",\"arguments\":{\"a\":1}}"))).as("b is required").isFalse();
        assertThat(v.valid(M.readTree("[{\"name\":\"add\",\"arguments\":{\"a\":1,\"b\":2}},{\"name\":\"add\",\"arguments\":{\"a\":1,\"b\":2}}]")))
                .as("one call without parallel calls").isFalse();
        moge.constrain.SchemaCompiler.compile(parse(TOOLS).autoCallsSchema());
    }
}
