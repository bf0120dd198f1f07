package moge.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import moge.server.MogeServer;
import moge.server.ServerOptions;
import moge.server.TestEngines;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.assertj.core.api.Assertions.assertThat;

/** vLLM's min_tokens and stop_token_ids on the demo model, whose greedy answers are a few tokens long. */
class StopControlsServerTest {
    static final String CHAT = "/v1/chat/completions";
    static final String QUESTION = "What is 12+30? /no_think";
    static MogeServer server;
    static HttpTestClient client;

    @BeforeAll
    static void start() {
        server = TestEngines.startDemo(new ServerOptions().parallel(2).context(512).batchTokens(64));
        client = new HttpTestClient(server.port());
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    static JsonNode ask(String extra) throws Exception {
        HttpTestClient.Reply r = client.post(CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"" + QUESTION
                + "\"}],\"temperature\":0,\"max_tokens\":40" + extra + "}");
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        return r.json();
    }

    static int completionTokens(JsonNode reply) {
        return reply.path("usage").path("completion_tokens").asInt();
    }

    @Test
    void minTokensHoldsTheEndBack() throws Exception {
        JsonNode plain = ask("");
        assertThat(plain.path("choices").path(0).path("finish_reason").asText()).isEqualTo("stop");
        assertThat(completionTokens(plain)).as("the plain answer is short").isLessThan(12);
        JsonNode longer = ask(",\"min_tokens\":12");
        assertThat(completionTokens(longer)).isGreaterThanOrEqualTo(12);
        String a = plain.path("choices").path(0).path("message").path("content").asText();
        String b = longer.path("choices").path(0).path("message").path("content").asText();
        assertThat(b).as("greedy: the same start, then more").startsWith(a).isNotEqualTo(a);
        // streamed the same
        StringBuilder streamed = new StringBuilder();
        for (JsonNode d : client.stream(CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"" + QUESTION
                + "\"}],\"temperature\":0,\"max_tokens\":40,\"min_tokens\":12,\"stream\":true}").data()) {
            streamed.append(d.path("choices").path(0).path("delta").path("content").asText(""));
        }
        assertThat(streamed.toString()).isEqualTo(b);
    }

    @Test
    void underAGrammarTheCompleteTextStillEnds() throws Exception {
        JsonNode r = ask(",\"min_tokens\":20,\"grammar\":\"root ::= \\\"yes\\\"\"");
        assertThat(r.path("choices").path(0).path("message").path("content").asText()).isEqualTo("yes");
        assertThat(r.path("choices").path(0).path("finish_reason").asText()).isEqualTo("stop");
    }

    @Test
    void aStopTokenIdEndsTheOutputAndKeepsItsText() throws Exception {
        JsonNode plain = ask("");
        String content = plain.path("choices").path(0).path("message").path("content").asText();
        assertThat(content).isNotEmpty();
        String first = content.substring(0, 1);
        HttpTestClient.Reply t = client.post("/tokenize", "{\"content\":\"" + first + "\"}");
        JsonNode ids = t.json().path("tokens");
        // SentencePiece may put its word-start piece first: the character's own token is the last one
        JsonNode stopped = ask(",\"stop_token_ids\":[" + ids.get(ids.size() - 1).asInt() + "],\"ignore_eos\":true");
        JsonNode c = stopped.path("choices").path(0);
        assertThat(c.path("finish_reason").asText()).isEqualTo("stop");
        assertThat(c.path("message").path("content").asText()).isEqualTo(first);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "\"min_tokens\":50 | min_tokens | must not exceed",
            "\"min_tokens\":-1 | min_tokens | must be between",
            "\"stop_token_ids\":5 | stop_token_ids | must be an array",
            "\"stop_token_ids\":[1.5] | stop_token_ids | integers >= 0",
            "\"stop_token_ids\":[99999999] | stop_token_ids | outside the vocabulary",
    })
    void badValuesAreA400NamingTheField(String field, String param, String message) throws Exception {
        HttpTestClient.Reply r = client.post(CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":40," + field + "}");
        assertThat(r.status()).as(r.text()).isEqualTo(400);
        assertThat(r.error().path("param").asText()).isEqualTo(param);
        assertThat(r.error().path("message").asText()).contains(message);
    }
}
