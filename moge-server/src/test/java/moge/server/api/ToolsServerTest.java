package moge.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import moge.constrain.SubsetValidator;
import moge.server.MogeServer;
import moge.server.ServerOptions;
import moge.server.TestEngines;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Tool calling over HTTP with the shipped demo model, which never writes a call on its own: forced choices must
 * still answer with calls whose arguments validate, streamed and whole alike; "auto" answers as without tools;
 * a conversation carrying earlier calls and their results is accepted and rendered.
 */
class ToolsServerTest {
    static final String CHAT = "/v1/chat/completions";
    static final ObjectMapper M = new ObjectMapper();
    static final String WEATHER = """
            {"type":"object","properties":{"city":{"type":"string","maxLength":20},"unit":{"enum":["celsius","fahrenheit"]}},
             "required":["city","unit"],"additionalProperties":false}""";
    static final String ADD = """
            {"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}},"required":["a","b"]}""";
    static final String TOOLS = "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Current weather\","
            + "\"parameters\":" + WEATHER + "}},{\"type\":\"function\",\"function\":{\"name\":\"add\",\"parameters\":" + ADD + "}}]";
    static MogeServer server;
    static HttpTestClient client;

    @BeforeAll
    static void start() {
        server = TestEngines.startDemo(new ServerOptions().parallel(2).context(2048).batchTokens(64));
        client = new HttpTestClient(server.port());
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    static String body(String question, String extra) {
        return "{\"messages\":[{\"role\":\"user\",\"content\":\"" + question + "\"}],\"max_tokens\":300," + TOOLS + extra + "}";
    }

    static JsonNode choice(String body) throws Exception {
        HttpTestClient.Reply r = client.post(CHAT, body);
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        return r.json().path("choices").path(0);
    }

    /** Checks a call: id, type, a declared name, arguments a JSON string that validates against that function's schema. */
    static void validCall(JsonNode call, String... names) throws Exception {
        assertThat(call.path("id").asText()).startsWith("call_");
        assertThat(call.path("type").asText()).isEqualTo("function");
        String name = call.path("function").path("name").asText();
        assertThat(name).isIn((Object[]) names);
        JsonNode args = ResponseFormatServerTest.STRICT.readTree(call.path("function").path("arguments").asText());
        assertThat(new SubsetValidator(M.readTree(name.equals("add") ? ADD : WEATHER)).valid(args)).as(args.toString()).isTrue();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"\"required\"", "{\"type\":\"function\",\"function\":{\"name\":\"add\"}}"})
    void aForcedChoiceAnswersWithValidCallsWholeAndStreamed(String toolChoice) throws Exception {
        String extra = ",\"temperature\":0,\"tool_choice\":" + toolChoice;
        String[] allowed = toolChoice.contains("add") ? new String[]{"add"} : new String[]{"add", "get_weather"};
        JsonNode c = choice(body("What is 12+30? /no_think", extra));
        assertThat(c.path("finish_reason").asText()).as(c.toString()).isEqualTo("tool_calls");
        JsonNode m = c.path("message");
        assertThat(m.path("content").isNull()).as(m.toString()).isTrue();
        assertThat(m.path("tool_calls").size()).isPositive();
        if (toolChoice.contains("add")) assertThat(m.path("tool_calls").size()).isEqualTo(1);
        for (JsonNode call : m.path("tool_calls")) validCall(call, allowed);

        // streamed: each call's id and name come first, then its arguments; the same calls as the whole answer
        HttpTestClient.Events ev = client.stream(CHAT, body("What is 12+30? /no_think", extra + ",\"stream\":true"));
        List<StringBuilder> args = new ArrayList<>();
        List<String> names = new ArrayList<>();
        String finish = null;
        for (JsonNode d : ev.data()) {
            JsonNode ch = d.path("choices").path(0);
            assertThat(ch.path("delta").path("content").asText("")).isEmpty();
            for (JsonNode tc : ch.path("delta").path("tool_calls")) {
                int i = tc.path("index").asInt();
                if (i == args.size()) {
                    assertThat(tc.path("id").asText()).startsWith("call_");
                    names.add(tc.path("function").path("name").asText());
                    args.add(new StringBuilder());
                }
                args.get(i).append(tc.path("function").path("arguments").asText(""));
            }
            if (ch.path("finish_reason").isTextual()) finish = ch.path("finish_reason").asText();
        }
        assertThat(ev.done()).isTrue();
        assertThat(finish).isEqualTo("tool_calls");
        assertThat(names).hasSize(m.path("tool_calls").size());
        for (int i = 0; i < names.size(); i++) {
            JsonNode whole = m.path("tool_calls").get(i).path("function");
            assertThat(names.get(i)).isEqualTo(whole.path("name").asText());
            assertThat(args.get(i).toString()).isEqualTo(whole.path("arguments").asText());
        }
    }

    @Test
    void sampledForcedCallsValidateToo() throws Exception {
        JsonNode r = client.post(CHAT, body("What is 7*6?", ",\"tool_choice\":\"required\",\"n\":2,\"temperature\":1.1,\"seed\":3")).json();
        assertThat(r.path("choices")).hasSize(2);
        for (JsonNode c : r.path("choices")) {
            assertThat(c.path("finish_reason").asText()).as(c.toString()).isEqualTo("tool_calls");
            assertThat(c.path("message").path("tool_calls").size()).isPositive();
            for (JsonNode call : c.path("message").path("tool_calls")) validCall(call, "add", "get_weather");
        }
    }

    @Test
    void theReasoningStaysApartFromTheCall() throws Exception {
        JsonNode c = choice(body("What is 12+30?", ",\"temperature\":0,\"max_tokens\":900,\"tool_choice\":\"required\",\"parallel_tool_calls\":false"));
        assertThat(c.path("message").path("reasoning_content").asText()).as("the model thought first").isNotBlank();
        assertThat(c.path("finish_reason").asText()).isEqualTo("tool_calls");
        assertThat(c.path("message").path("tool_calls").size()).isEqualTo(1);
        validCall(c.path("message").path("tool_calls").get(0), "add", "get_weather");
    }

    @Test
    void autoAnswersAsWithoutToolsWhenTheModelWritesNoCall() throws Exception {
        JsonNode c = choice(body("What is 12+30? /no_think", ",\"temperature\":0"));
        assertThat(c.path("finish_reason").asText()).isEqualTo("stop");
        assertThat(c.path("message").path("content").asText()).isNotBlank();
        assertThat(c.path("message").has("tool_calls")).isFalse();
    }

    @Test
    void aRoundTripWithTheToolResultIsAcceptedAndRendered() throws Exception {
        String messages = """
                "messages":[{"role":"user","content":"What is 12+30? /no_think"},
                 {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"add","arguments":"{\\"a\\":12,\\"b\\":30}"}}]},
                 {"role":"tool","tool_call_id":"call_1","content":"42"}]""";
        String req = "{" + messages + "," + TOOLS + ",\"temperature\":0,\"max_tokens\":40}";
        assertThat(choice(req).path("message").path("content").isTextual()).isTrue();
        // the rendering itself is ToolPromptTest's; here: the tools and the earlier call make the prompt longer
        int with = client.post("/tokenize", "{" + messages + "," + TOOLS + "}").json().path("count").asInt();
        int without = client.post("/tokenize", "{" + messages + "}").json().path("count").asInt();
        int bare = client.post("/tokenize", "{\"messages\":[{\"role\":\"user\",\"content\":\"What is 12+30? /no_think\"}]}").json().path("count").asInt();
        assertThat(with).isGreaterThan(without + 40);
        assertThat(without).isGreaterThan(bare + 15);
    }

    @Test
    void badToolFieldsAre400sNamingThem() throws Exception {
        HttpTestClient.Reply r = client.post(CHAT, body("hi", ",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"sub\"}}"));
        assertThat(r.status()).isEqualTo(400);
        assertThat(r.error().path("param").asText()).isEqualTo("tool_choice.function.name");
        assertThat(r.error().path("type").asText()).isEqualTo("invalid_request_error");
        r = client.post(CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"tool_choice\":\"required\",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\","
                + "\"parameters\":{\"type\":\"object\",\"properties\":{\"d\":{\"type\":\"string\",\"format\":\"date\"}}}}}]}");
        assertThat(r.status()).isEqualTo(400);
        assertThat(r.error().path("param").asText()).isEqualTo("tools[0].function.parameters");
        assertThat(r.error().path("message").asText()).contains("'format' is not supported");
        r = client.post(CHAT, "{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c\",\"type\":\"function\",\"function\":"
                + "{\"name\":\"f\",\"arguments\":\"{not json\"}}]},{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertThat(r.status()).isEqualTo(400);
        assertThat(r.error().path("param").asText()).isEqualTo("messages[0].tool_calls[0].function.arguments");
    }
}
