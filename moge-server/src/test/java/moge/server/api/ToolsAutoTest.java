package moge.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.server.MogeServer;
import moge.server.ServerOptions;
import moge.server.TestEngines;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * "auto" tool calls under the lazy constraint, on the demo model. The model never writes the call marker on its
 * own, so the client raises it with a logit bias and samples hot; each request is run twice on the same prompt
 * and seed: once with the tools declared (the server enforces the call after the marker) and once without them,
 * the same tool text given as the system message (nothing enforced: the model's own continuation). Up to the
 * marker the two must be the same text, token for token (free text is not constrained); after it, the enforced
 * calls must all validate, and the unenforced ones must not always. With thinking on, a marker inside the think
 * block starts nothing: the reasoning is the same text either way.
 */
class ToolsAutoTest {
    static final String USER = "What is 12+30? /no_think";
    static MogeServer server;
    static HttpTestClient client;
    static int openId, closeId;

    @BeforeAll
    static void start() throws Exception {
        server = TestEngines.startDemo(new ServerOptions().parallel(2).context(2048).batchTokens(64));
        client = new HttpTestClient(server.port());
        openId = singleToken(client, ToolPrompt.PANGU_OPEN);
        closeId = singleToken(client, ToolPrompt.PANGU_CLOSE);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    static int singleToken(HttpTestClient client, String piece) throws Exception {
        JsonNode t = client.post("/tokenize", "{\"content\":\"" + piece + "\",\"with_pieces\":true}").json().path("tokens");
        assertThat(t.size()).as(t.toString()).isEqualTo(1);
        assertThat(t.get(0).path("piece").asText()).isEqualTo(piece);
        return t.get(0).path("id").asInt();
    }

    static String sampling(long seed, int openId, int closeId) {
        return ",\"max_tokens\":160,\"temperature\":1.0,\"seed\":" + seed + ",\"parallel_tool_calls\":false,"
                + "\"logit_bias\":{\"" + openId + "\":12},\"stop_token_ids\":[" + closeId + "]";
    }

    /** The request with the tools declared (lazy constraint) and the same prompt written out by hand (none). */
    static String[] pair(long seed, int openId, int closeId) {
        return pair(USER, seed, openId, closeId);
    }

    static String[] pair(String user, long seed, int openId, int closeId) {
        String withTools = "{\"messages\":[{\"role\":\"user\",\"content\":\"" + user + "\"}]," + ToolsServerTest.TOOLS + sampling(seed, openId, closeId) + "}";
        ToolSpec spec = ToolSpec.parse((ObjectNode) RequestParser.parseObject(withTools.getBytes()));
        String sys = new ToolPrompt(piece -> piece.equals(ToolPrompt.PANGU_OPEN) ? openId : piece.equals(ToolPrompt.PANGU_CLOSE) ? closeId : -1)
                .systemText(spec);
        String bySystem = "{\"messages\":[{\"role\":\"system\",\"content\":" + ToolsServerTest.M.valueToTree(sys) + "},"
                + "{\"role\":\"user\",\"content\":\"" + user + "\"}]" + sampling(seed, openId, closeId) + "}";
        return new String[]{withTools, bySystem};
    }

    @Test
    void bothFormsOfTheRequestHaveTheSamePrompt() throws Exception {
        String[] p = pair(0, openId, closeId);
        assertThat(client.post("/tokenize", p[0]).json().path("tokens"))
                .isEqualTo(client.post("/tokenize", p[1]).json().path("tokens"));
    }

    @Test
    void aSampledAutoCallIsValidWithTheConstraintAndFreeTextIsNotConstrained() throws Exception {
        int calls = 0, brokenWithout = 0;
        for (long seed = 0; seed < 8; seed++) {
            String[] p = pair(seed, openId, closeId);
            JsonNode with = client.post(ToolsServerTest.CHAT, p[0]).json().path("choices").path(0);
            JsonNode without = client.post(ToolsServerTest.CHAT, p[1]).json().path("choices").path(0);
            String raw = without.path("message").path("content").asText();
            JsonNode m = with.path("message");
            assertThat(m.path("reasoning_content").asText("")).isEqualTo(without.path("message").path("reasoning_content").asText(""));
            int k = raw.indexOf(ToolPrompt.PANGU_OPEN);
            if (k < 0) {
                assertThat(m.path("content").asText()).as("seed %d: no marker, the same text", seed).isEqualTo(raw);
                assertThat(m.has("tool_calls")).isFalse();
                continue;
            }
            // the text before the marker was sampled free, exactly as without the tools
            assertThat(m.path("content").asText("")).as("seed %d", seed).isEqualTo(raw.substring(0, k).isBlank() ? "" : raw.substring(0, k));
            assertThat(with.path("finish_reason").asText()).as(with.toString()).isEqualTo("tool_calls");
            assertThat(m.path("tool_calls").size()).as(with.toString()).isEqualTo(1);
            ToolsServerTest.validCall(m.path("tool_calls").get(0), "add", "get_weather");
            calls++;
            // the same continuation unenforced: what the parser makes of it
            ToolCallStream.Out o = ToolCallStream.parse(ToolSpec.parse((ObjectNode) RequestParser.parseObject(p[0].getBytes())),
                    ToolPrompt.PANGU_OPEN, ToolPrompt.PANGU_CLOSE, raw);
            if (o.calls().isEmpty() || !valid(o.calls().getFirst())) brokenWithout++;
        }
        assertThat(calls).as("the bias makes the model start calls").isGreaterThanOrEqualTo(3);
        assertThat(brokenWithout).as("unenforced, the same starts are not all valid calls").isPositive();
    }

    @Test
    void aMarkerInsideTheThinkBlockStartsNothing() throws Exception {
        int inThinking = 0;
        for (long seed = 0; seed < 6; seed++) {
            String[] p = pair("What is 12+30?", seed, openId, closeId);
            JsonNode with = client.post(ToolsServerTest.CHAT, p[0]).json().path("choices").path(0).path("message");
            JsonNode without = client.post(ToolsServerTest.CHAT, p[1]).json().path("choices").path(0).path("message");
            String thought = without.path("reasoning_content").asText("");
            assertThat(with.path("reasoning_content").asText("")).as("seed %d: the reasoning is sampled free", seed).isEqualTo(thought);
            if (thought.contains(ToolPrompt.PANGU_OPEN)) inThinking++;
            // the answer after the block: a marker there starts an enforced call
            if (without.path("content").asText().contains(ToolPrompt.PANGU_OPEN)) {
                assertThat(with.path("tool_calls").size()).as(with.toString()).isEqualTo(1);
                ToolsServerTest.validCall(with.path("tool_calls").get(0), "add", "get_weather");
            }
        }
        assertThat(inThinking).as("the biased marker shows up in some reasoning").isPositive();
    }

    static boolean valid(ToolCallStream.ToolCall c) throws Exception {
        String schema = c.name().equals("add") ? ToolsServerTest.ADD : ToolsServerTest.WEATHER;
        return new moge.constrain.SubsetValidator(ToolsServerTest.M.readTree(schema)).valid(ToolsServerTest.M.readTree(c.arguments()));
    }

    @Test
    void parametersOutsideTheSubsetLeaveAutoCallsUnenforced() throws Exception {
        // 'format' cannot be enforced: the request is still served, and the model's marker soup stays text
        String tools = "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"day\",\"parameters\":{\"type\":\"object\","
                + "\"properties\":{\"d\":{\"type\":\"string\",\"format\":\"date\"}}}}}]";
        String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"" + USER + "\"}]," + tools + sampling(0, openId, closeId) + "}";
        HttpTestClient.Reply r = client.post(ToolsServerTest.CHAT, body);
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        JsonNode m = r.json().path("choices").path(0).path("message");
        assertThat(m.has("tool_calls")).as(m.toString()).isFalse();
        assertThat(m.path("content").asText()).contains(ToolPrompt.PANGU_OPEN);
    }
}
