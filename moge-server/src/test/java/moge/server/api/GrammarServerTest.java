package moge.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import moge.server.MogeServer;
import moge.server.ServerOptions;
import moge.server.TestEngines;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * llama-server's {@code grammar} field (GBNF) with the shipped demo model, which answers arithmetic in its own
 * words: every answer must match the grammar, here checked against the regular expression it equals.
 */
class GrammarServerTest {
    static final String CHAT = "/v1/chat/completions";
    static final String GRAMMAR = """
            # a verdict and up to three numbers
            root   ::= ("yes" | "no") ": " number ("," " "? number){0,2} "."
            number ::= "-"? [1-9] [0-9]{0,3} | "0"
            """;
    static final Pattern MATCHES = Pattern.compile("(yes|no): (-?[1-9][0-9]{0,3}|0)(, ?(-?[1-9][0-9]{0,3}|0)){0,2}\\.");
    static MogeServer server;
    static HttpTestClient client;

    @BeforeAll
    static void start() {
        server = TestEngines.startDemo(new ServerOptions().parallel(3).context(1024).batchTokens(64));
        client = new HttpTestClient(server.port());
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    static String body(String question, String extra) {
        return "{\"messages\":[{\"role\":\"user\",\"content\":\"" + question + "\"}],\"max_tokens\":300,\"grammar\":"
                + JsonNodeFactory.instance.textNode(GRAMMAR) + extra + "}";
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"What is 12+30? /no_think, 0, 0", "What is 4*9? /no_think, 1, 3", "What is 7+8? /no_think, 1.3, 17"})
    void answersMatchTheGrammarStreamedAndWhole(String question, String temperature, int seed) throws Exception {
        String extra = ",\"temperature\":" + temperature + ",\"seed\":" + seed;
        HttpTestClient.Reply r = client.post(CHAT, body(question, extra));
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        JsonNode c = r.json().path("choices").path(0);
        String whole = c.path("message").path("content").asText();
        assertThat(whole).matches(MATCHES);
        assertThat(c.path("finish_reason").asText()).isEqualTo("stop");

        StringBuilder streamed = new StringBuilder();
        for (JsonNode d : client.stream(CHAT, body(question, extra + ",\"stream\":true")).data()) {
            streamed.append(d.path("choices").path(0).path("delta").path("content").asText(""));
        }
        assertThat(streamed.toString()).isEqualTo(whole);
    }

    @Test
    void withoutTheGrammarTheModelAnswersInItsOwnWords() throws Exception {
        HttpTestClient.Reply r = client.post(CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"What is 12+30? /no_think\"}],\"max_tokens\":60,\"temperature\":0}");
        assertThat(r.json().path("choices").path(0).path("message").path("content").asText()).doesNotMatch(MATCHES);
    }

    @Test
    void theGrammarAppliesAfterTheThinkBlock() throws Exception {
        HttpTestClient.Reply r = client.post(CHAT, body("What is 12+30?", ",\"temperature\":0,\"max_tokens\":900"));
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        JsonNode m = r.json().path("choices").path(0).path("message");
        assertThat(m.path("reasoning_content").asText()).as("the model thought first").isNotBlank();
        assertThat(m.path("content").asText()).matches(MATCHES);
    }

    @Test
    void rawCompletionsTakeAGrammarToo() throws Exception {
        HttpTestClient.Reply r = client.post("/v1/completions", "{\"prompt\":\"12+30=\",\"max_tokens\":100,\"temperature\":0,\"grammar\":"
                + JsonNodeFactory.instance.textNode(GRAMMAR) + "}");
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        assertThat(r.json().path("choices").path(0).path("text").asText()).matches(MATCHES);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '~', value = {
            "\"root ::= item\" | grammar line 1, column 10: undefined rule 'item'",
            "\"root ::= root \\\"a\\\"\" | rule 'root' is left-recursive",
            "\"item ::= [a-z]\" | no 'root' rule",
            "42 | 'grammar' must be a string",
    })
    void malformedGrammarsAreA400NamingTheField(String grammar, String message) throws Exception {
        HttpTestClient.Reply r = client.post(CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"grammar\":" + grammar + "}");
        assertThat(r.status()).as(r.text()).isEqualTo(400);
        assertThat(r.error().path("param").asText()).isEqualTo("grammar");
        assertThat(r.error().path("message").asText()).contains(message);
        assertThat(client.post(CHAT, body("What is 1+1? /no_think", ",\"max_tokens\":20")).status()).as("the server serves on").isEqualTo(200);
    }

    @Test
    void aGrammarAndAResponseFormatTogetherAreRefused() throws Exception {
        HttpTestClient.Reply r = client.post(CHAT, body("hi", ",\"response_format\":{\"type\":\"json_object\"}"));
        assertThat(r.status()).isEqualTo(400);
        assertThat(r.error().path("message").asText()).contains("cannot be used together");
    }
}
