package moge.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import moge.server.MogeServer;
import moge.server.ServerOptions;
import moge.server.TestEngines;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * /v1/completions with {@code echo}, as vLLM answers it and lm-evaluation-harness's loglikelihood requests read it
 * ({@code echo: true, logprobs: 1, max_tokens: 0 or 1}): the prompt comes back before the output, with its tokens'
 * log-probabilities computed outside the scheduler, and those agree with what the scheduler's generation gives the
 * same token at the same place.
 */
class EchoServerTest {
    static final String CMPL = "/v1/completions";
    static MogeServer server;
    static HttpTestClient http;

    @BeforeAll
    static void start() {
        server = TestEngines.startDemo(new ServerOptions().parallel(2).context(512).batchTokens(64).modelId("demo"));
        http = new HttpTestClient(server.port());
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    static List<Integer> ids(String text) throws Exception {
        List<Integer> out = new ArrayList<>();
        http.post("/tokenize", "{\"prompt\":\"" + text + "\"}").json().path("tokens").forEach(n -> out.add(n.asInt()));
        return out;
    }

    static String list(List<Integer> ids) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < ids.size(); i++) sb.append(i == 0 ? "" : ",").append(ids.get(i));
        return sb.append(']').toString();
    }

    @Test
    void thePromptsLogprobsAreWhatGenerationGivesTheSameTokens() throws Exception {
        List<Integer> seq = ids("What is 12+30? The answer is 42.");
        JsonNode e = http.post(CMPL, "{\"prompt\":" + list(seq) + ",\"max_tokens\":0,\"echo\":true,\"logprobs\":1}").json();
        JsonNode c = e.path("choices").path(0), lp = c.path("logprobs");
        assertThat(c.path("finish_reason").asText()).isEqualTo("length");
        assertThat(lp.path("tokens")).hasSize(seq.size());
        assertThat(lp.path("token_logprobs").path(0).isNull()).isTrue();
        assertThat(lp.path("top_logprobs").path(0).isNull()).isTrue();
        assertThat(e.path("usage").path("completion_tokens").asInt()).isZero();
        assertThat(e.path("usage").path("prompt_tokens").asInt()).isEqualTo(seq.size());
        // each prompt token against the scheduler's own step from the tokens before it: where the token is among the
        // step's 20 likeliest, the two log-probabilities agree
        int checked = 0;
        for (int p = 1; p < seq.size(); p++) {
            assertThat(lp.path("top_logprobs").path(p).size()).isEqualTo(1);
            JsonNode step = http.post(CMPL, "{\"prompt\":" + list(seq.subList(0, p)) + ",\"max_tokens\":1,\"temperature\":0,"
                    + "\"logprobs\":20,\"skip_special_tokens\":false}").json().path("choices").path(0).path("logprobs").path("top_logprobs").path(0);
            JsonNode there = step.get(lp.path("tokens").path(p).asText());
            if (there == null) continue;
            assertThat(lp.path("token_logprobs").path(p).asDouble()).as("position %d", p).isCloseTo(there.asDouble(), within(2e-3));
            checked++;
        }
        assertThat(checked).as("positions whose token was among the 20 likeliest").isGreaterThanOrEqualTo(3);
    }

    @Test
    void echoPutsThePromptBeforeTheSameOutputStreamedOrNot() throws Exception {
        String body = "{\"prompt\":\"What is 7+8?\",\"max_tokens\":12,\"temperature\":0";
        JsonNode plain = http.post(CMPL, body + "}").json().path("choices").path(0);
        JsonNode echoed = http.post(CMPL, body + ",\"echo\":true,\"logprobs\":2}").json().path("choices").path(0);
        String out = plain.path("text").asText();
        assertThat(echoed.path("text").asText()).isEqualTo("What is 7+8?" + out);
        JsonNode lp = echoed.path("logprobs");
        int promptTokens = ids("What is 7+8?").size();
        int total = lp.path("tokens").size();
        assertThat(total).isGreaterThan(promptTokens);
        assertThat(lp.path("token_logprobs")).hasSize(total);
        assertThat(lp.path("text_offset")).hasSize(total);
        // the first generated token sits right after the echoed prompt
        assertThat(lp.path("text_offset").path(promptTokens).asInt()).isEqualTo("What is 7+8?".length());

        HttpTestClient.Events ev = http.stream(CMPL, body + ",\"echo\":true,\"stream\":true}");
        assertThat(ev.data().getFirst().path("choices").path(0).path("text").asText()).isEqualTo("What is 7+8?");
        assertThat(ev.text()).isEqualTo("What is 7+8?" + out);
        JsonNode noLogprobs = http.post(CMPL, body + ",\"echo\":true}").json().path("choices").path(0);
        assertThat(noLogprobs.path("logprobs").isNull()).isTrue();
        assertThat(noLogprobs.path("text").asText()).isEqualTo("What is 7+8?" + out);
    }

    @Test
    void maxTokensZeroStreamsThePromptAlone() throws Exception {
        HttpTestClient.Events ev = http.stream(CMPL, "{\"prompt\":\"hello\",\"max_tokens\":0,\"echo\":true,\"stream\":true,"
                + "\"stream_options\":{\"include_usage\":true}}");
        assertThat(ev.text()).isEqualTo("hello");
        assertThat(ev.finishReason()).isEqualTo("length");
        assertThat(ev.done()).isTrue();
        assertThat(ev.data().getLast().path("usage").path("completion_tokens").asInt()).isZero();
        HttpTestClient.Reply bad = http.post(CMPL, "{\"prompt\":\"hello\",\"max_tokens\":0}");
        assertThat(bad.status()).isEqualTo(400);
        assertThat(bad.error().path("param").asText()).isEqualTo("max_tokens");
    }
}
