package moge.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import moge.server.MogeServer;
import moge.server.ServerOptions;
import moge.server.TestEngines;
import moge.spec.SpecConfig;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;

/** `moge serve --spec ...` over HTTP: same greedy answers, draft counts in timings and /metrics, the opt-out. */
class SpeculationServerTest {
    static final String TEXT = "The river ran past the old mill at the edge of the village. ";

    static String body(String prompt, int max, boolean speculative, boolean stream) {
        return "{\"prompt\":" + HttpTestClient.JSON.valueToTree(prompt) + ",\"max_tokens\":" + max + ",\"temperature\":0,\"ignore_eos\":true"
                + (speculative ? "" : ",\"speculative\":false") + (stream ? ",\"stream\":true" : "") + "}";
    }

    @Test
    void ngramAnswersAreThePlainOnesAndAreCounted() throws Exception {
        SpecConfig ngram = SpecConfig.ngram().withNgram(1, 4).withAdaptive(false);
        try (MogeServer server = TestEngines.start(new ServerOptions().parallel(3).context(512).batchTokens(64).speculation(ngram))) {
            HttpTestClient c = new HttpTestClient(server.port());
            String prompt = "Repeat: " + TEXT.repeat(3);
            HttpTestClient.Reply plain = c.post("/v1/completions", body(prompt, 40, false, false));
            assertThat(plain.status()).as(plain.text()).isEqualTo(200);
            assertThat(plain.json().path("timings").has("draft_n")).as("opted out").isFalse();
            HttpTestClient.Reply spec = c.post("/v1/completions", body(prompt, 40, true, false));
            assertThat(spec.status()).as(spec.text()).isEqualTo(200);
            assertThat(spec.json().path("choices").path(0).path("text").asText()).isEqualTo(plain.json().path("choices").path(0).path("text").asText());
            JsonNode t = spec.json().path("timings");
            assertThat(t.path("draft_n").asInt()).isPositive();
            assertThat(t.path("draft_n_accepted").asInt()).isBetween(0, t.path("draft_n").asInt());
            assertThat(t.path("predicted_n").asInt()).isEqualTo(40);

            // several at once, streamed and not: each answer as the plain one
            List<CompletableFuture<String>> all = new ArrayList<>();
            List<String> prompts = List.of(prompt, "Copy: " + TEXT.repeat(2), "Again and again and again: " + TEXT);
            for (String p : prompts) {
                all.add(CompletableFuture.supplyAsync(() -> {
                    try {
                        return c.post("/v1/completions", body(p, 30, true, false)).json().path("choices").path(0).path("text").asText();
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                }));
            }
            for (int i = 0; i < prompts.size(); i++) {
                String alone = c.post("/v1/completions", body(prompts.get(i), 30, false, false)).json().path("choices").path(0).path("text").asText();
                assertThat(all.get(i).get()).as("request %d", i).isEqualTo(alone);
            }
            HttpTestClient.Events st = c.stream("/v1/completions", body(prompt, 40, true, true));
            assertThat(st.done()).isTrue();
            assertThat(st.text()).isEqualTo(plain.json().path("choices").path(0).path("text").asText());
            JsonNode last = st.data().get(st.data().size() - 1);
            assertThat(last.path("timings").path("draft_n").asInt()).isPositive();

            String m = c.get("/metrics").text();
            assertThat(m).containsPattern("moge_spec_drafted_tokens_total [1-9]");
            assertThat(m).containsPattern("moge_spec_accepted_tokens_total [0-9]");
            assertThat(m).containsPattern("moge_spec_passes_total [1-9]");
            assertThat(m).contains("moge_spec_acceptance_rate", "moge_spec_mean_accepted");
        }
    }

    @Test
    void aQuantizedSelfDraftGivesThePlainAnswer() throws Exception {
        SpecConfig self = SpecConfig.draft("self:q8_0").withDraft(1, 3).withAdaptive(false);
        try (MogeServer server = TestEngines.start(new ServerOptions().parallel(2).context(256).batchTokens(32).speculation(self))) {
            HttpTestClient c = new HttpTestClient(server.port());
            String chat = "{\"messages\":[{\"role\":\"user\",\"content\":\"" + TEXT + "\"}],\"max_tokens\":24,\"temperature\":0,"
                    + "\"ignore_eos\":true%s}";
            HttpTestClient.Reply plain = c.post("/v1/chat/completions", chat.formatted(",\"speculative\":false"));
            HttpTestClient.Reply spec = c.post("/v1/chat/completions", chat.formatted(""));
            assertThat(spec.status()).as(spec.text()).isEqualTo(200);
            assertThat(spec.json().path("choices").path(0).path("message"))
                    .isEqualTo(plain.json().path("choices").path(0).path("message"));
            assertThat(spec.json().path("timings").path("draft_n").asInt()).isPositive();

            // With a logit bias (a third of the vocabulary banned) the answer is the plain one under that bias, and
            // the draft, proposing under it too, still gets proposals accepted.
            StringBuilder bias = new StringBuilder(",\"logit_bias\":{");
            for (int id = 0; id < 1280; id += 3) bias.append(id == 0 ? "" : ",").append('"').append(id).append("\":-100");
            bias.append('}');
            HttpTestClient.Reply plainBiased = c.post("/v1/chat/completions", chat.formatted(bias + ",\"speculative\":false"));
            HttpTestClient.Reply specBiased = c.post("/v1/chat/completions", chat.formatted(bias.toString()));
            assertThat(specBiased.status()).as(specBiased.text()).isEqualTo(200);
            assertThat(specBiased.json().path("choices").path(0).path("message"))
                    .isEqualTo(plainBiased.json().path("choices").path(0).path("message"))
                    .isNotEqualTo(plain.json().path("choices").path(0).path("message"));
            assertThat(specBiased.json().path("timings").path("draft_n_accepted").asInt()).isPositive();
        }
    }

    @Test
    void withoutSpeculationThereAreNoSpecMetrics() throws Exception {
        try (MogeServer server = TestEngines.start(new ServerOptions().parallel(1).context(128).batchTokens(16))) {
            HttpTestClient c = new HttpTestClient(server.port());
            HttpTestClient.Reply r = c.post("/v1/completions", body("hello", 4, true, false));
            assertThat(r.json().path("timings").has("draft_n")).isFalse();
            assertThat(c.get("/metrics").text()).doesNotContain("moge_spec_");
        }
    }
}
