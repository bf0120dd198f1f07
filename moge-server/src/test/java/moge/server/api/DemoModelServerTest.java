package moge.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import moge.Fixtures;
import moge.model.LoadedModel;
import moge.model.Model;
import moge.model.ModelLoader;
import moge.server.MogeServer;
import moge.server.ServerOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The shipped demo model (models/demo) over HTTP: trained, so its answers have words, spaces and think blocks,
 * which the random fixture's do not. Asks what a user would, greedily.
 */
class DemoModelServerTest {
    static final String CHAT = "/v1/chat/completions";
    static MogeServer server;
    static HttpTestClient client;

    @BeforeAll
    static void start() {
        LoadedModel lm = ModelLoader.load(Fixtures.ROOT.getParent().getParent().resolve("models/demo"));
        server = MogeServer.start(new ServerOptions().host("127.0.0.1").port(0).parallel(2).context(512).batchTokens(64),
                new MogeServer.Engine(lm, new Model(lm.config, lm.weights, 2, 64)));
        client = new HttpTestClient(server.port());
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    static String ask(String question, String extra) {
        return "{\"messages\":[{\"role\":\"user\",\"content\":\"" + question + "\"}],\"temperature\":0,\"max_tokens\":60" + extra + "}";
    }

    static JsonNode ok(HttpTestClient.Reply r) {
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        return r.json();
    }

    static List<String> tokens(JsonNode logprobs) {
        List<String> out = new ArrayList<>();
        for (JsonNode e : logprobs.path("content")) out.add(e.path("token").asText());
        return out;
    }

    @Test
    void logprobsHoldOnlyTheTokensOfTheContent() throws Exception {
        for (String question : List.of("What is 4721*1? /no_think", "Hello, who are you?")) {
            String logprobs = ",\"logprobs\":true,\"top_logprobs\":1";
            JsonNode choice = ok(client.post(CHAT, ask(question, logprobs))).path("choices").get(0);
            String content = choice.path("message").path("content").asText();
            List<String> whole = tokens(choice.path("logprobs"));
            // no markers, no reasoning, no end-of-turn token: the tokens spell the content (its leading space trimmed)
            assertThat(String.join("", whole).stripLeading()).as(question + " " + whole).isEqualTo(content).isNotEmpty();

            // streamed: the same tokens, each chunk's log-probabilities riding with the text they wrote
            HttpTestClient.Events ev = client.stream(CHAT, ask(question, logprobs + ",\"stream\":true"));
            List<String> streamed = new ArrayList<>();
            for (JsonNode d : ev.data()) {
                JsonNode c = d.path("choices").path(0);
                if (!c.path("logprobs").isObject()) continue;
                assertThat(c.path("delta").path("content").asText("")).as(d.toString()).isNotEmpty();
                streamed.addAll(tokens(c.path("logprobs")));
            }
            assertThat(streamed).isEqualTo(whole);
        }
    }

    @Test
    void aStopStringEndsTheAnswerWithoutTrimmingIt() throws Exception {
        String stop = ",\"stop\":\"tiny\"";
        JsonNode r = ok(client.post(CHAT, ask("Hello, who are you?", stop)));
        JsonNode m = r.path("choices").get(0).path("message");
        assertThat(m.path("reasoning_content").asText()).isNotEmpty();
        assertThat(m.path("content").asText()).isEqualTo("I am a ");
        assertThat(r.path("choices").get(0).path("finish_reason").asText()).isEqualTo("stop");
        assertThat(client.stream(CHAT, ask("Hello, who are you?", stop + ",\"stream\":true")).text()).isEqualTo("I am a ");
    }

    @Test
    void aNoThinkTurnIsReportedFastWithoutReasoningTokens() throws Exception {
        JsonNode r = ok(client.post(CHAT, ask("What is 4721*1? /no_think", "")));
        assertThat(r.path("choices").get(0).path("message").path("content").asText()).isEqualTo("4721");
        assertThat(r.path("thinking").path("mode").asText()).isEqualTo("fast");
        assertThat(r.path("thinking").path("mode_used").asText()).isEqualTo("fast");
        // the empty think block the model wrote is no reasoning
        assertThat(r.path("usage").path("completion_tokens_details").path("reasoning_tokens").asInt()).isZero();

        JsonNode thought = ok(client.post(CHAT, ask("Hello, who are you?", "")));
        int reasoning = thought.path("usage").path("completion_tokens_details").path("reasoning_tokens").asInt();
        assertThat(reasoning).isPositive().isLessThan(thought.path("usage").path("completion_tokens").asInt());
    }
}
