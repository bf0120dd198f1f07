package moge.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.helpers.ChatCompletionAccumulator;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import moge.chat.ChatTemplate;
import moge.model.LoadedModel;
import moge.model.Model;
import moge.model.ModelLoader;
import moge.server.MogeServer;
import moge.server.ServerOptions;
import moge.server.TestEngines;
import moge.thinking.ThinkingOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Thinking over HTTP on the tiny MoGE fixture (random weights; [unused16]=21, [unused17]=22). Two servers: one
 * with the fixture's own template, one whose generation prompt opens the think block so that a random model
 * "thinks" and the budget has something to close.
 */
class ThinkingServerTest {
    static MogeServer plain, opening;
    static HttpTestClient p, o;
    static int messageTokens;

    @BeforeAll
    static void start() {
        plain = TestEngines.start(new ServerOptions().parallel(2).context(512).batchTokens(64));
        LoadedModel lm = ModelLoader.load(TestEngines.TINY);
        ChatTemplate t = ChatTemplate.of("opening", "{% for m in messages %}[unused9]{{ m.role }}：{{ m.content }}[unused10]{% endfor %}"
                + "{% if add_generation_prompt %}[unused9]助手：[unused16]{% endif %}", "<s>", "[unused10]");
        LoadedModel withOpening = new LoadedModel(lm.path, lm.config, lm.weights, lm.tokenizer, t, lm.source());
        opening = MogeServer.start(new ServerOptions().host("127.0.0.1").port(0).parallel(2).context(512).batchTokens(64).modelId("tiny"),
                new MogeServer.Engine(withOpening, new Model(lm.config, lm.weights, 2, 64)));
        messageTokens = lm.tokenizer.encode(ThinkingOptions.DEFAULT_BUDGET_MESSAGE).length;
        p = new HttpTestClient(plain.port());
        o = new HttpTestClient(opening.port());
    }

    @AfterAll
    static void stop() {
        plain.close();
        opening.close();
    }

    static String chat(String extra) {
        return "{\"messages\":[{\"role\":\"user\",\"content\":\"What is 2+3?\"}],\"temperature\":0,\"max_tokens\":24" + extra + "}";
    }

    static JsonNode ok(HttpTestClient.Reply r) {
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        return r.json();
    }

    @Test
    void budgetClosesTheBlockAndReasoningIsReportedApart() throws Exception {
        JsonNode r = ok(o.post("/v1/chat/completions", chat(",\"thinking\":{\"mode\":\"slow\",\"budget\":3}")));
        JsonNode m = r.path("choices").get(0).path("message");
        assertThat(m.path("reasoning_content").asText()).isNotEmpty().endsWith("(thinking budget reached)");
        assertThat(m.path("reasoning").asText()).isEqualTo(m.path("reasoning_content").asText());
        assertThat(m.path("content").asText()).isNotEmpty().doesNotContain("[unused");
        assertThat(r.path("usage").path("completion_tokens_details").path("reasoning_tokens").asInt()).isEqualTo(3 + messageTokens);
        JsonNode th = r.path("thinking");
        assertThat(th.path("mode").asText()).isEqualTo("slow");
        assertThat(th.path("mode_used").asText()).isEqualTo("slow");
        assertThat(th.path("reason").asText()).contains("thinking budget of 3 tokens reached");
        assertThat(th.path("budget_reached").asBoolean()).isTrue();
        // the client asked for no log-probabilities
        assertThat(r.path("choices").get(0).path("logprobs").isNull()).isTrue();

        // the same request streamed: the deltas add up to the same split, in both field names
        HttpTestClient.Events ev = o.stream("/v1/chat/completions", chat(",\"thinking\":{\"mode\":\"slow\",\"budget\":3},\"stream\":true"));
        StringBuilder rc = new StringBuilder(), rs = new StringBuilder();
        JsonNode last = null;
        for (JsonNode d : ev.data()) {
            JsonNode delta = d.path("choices").path(0).path("delta");
            rc.append(delta.path("reasoning_content").asText(""));
            rs.append(delta.path("reasoning").asText(""));
            if (d.has("thinking")) last = d;
            // a delta of reasoning alone has no content at all (how the tokens fall into chunks depends on timing:
            // ResponseJsonTest pins every shape)
            if (delta.has("reasoning_content") && delta.path("content").asText("").isEmpty()) {
                assertThat(delta.has("content")).as(d.toString()).isFalse();
            }
        }
        // the opening chunk names the role, with the empty content OpenAI sends there
        JsonNode opening = ev.data().getFirst().path("choices").path(0).path("delta");
        assertThat(opening.path("role").asText()).isEqualTo("assistant");
        assertThat(opening.has("content")).isTrue();
        assertThat(rc.toString()).isEqualTo(m.path("reasoning_content").asText());
        assertThat(rs.toString()).isEqualTo(rc.toString());
        assertThat(ev.text()).isEqualTo(m.path("content").asText());
        assertThat(last).isNotNull();
        assertThat(last.path("thinking").path("mode_used").asText()).isEqualTo("slow");
    }

    /** The clients the SDK tests use, on a stream whose first deltas carry reasoning and no content. */
    @Test
    void clientLibrariesReadReasoningDeltasWithoutContent() throws Exception {
        JsonNode whole = ok(o.post("/v1/chat/completions", chat(",\"thinking\":{\"mode\":\"slow\",\"budget\":3}")));
        JsonNode m = whole.path("choices").get(0).path("message");

        ChatCompletionAccumulator acc = ChatCompletionAccumulator.create();
        OpenAIClient sdk = OpenAIOkHttpClient.builder().baseUrl(opening.baseUrl()).apiKey("unused").maxRetries(0).build();
        try (StreamResponse<ChatCompletionChunk> s = sdk.chat().completions().createStreaming(ChatCompletionCreateParams.builder()
                .model("tiny").addUserMessage("What is 2+3?").temperature(0.0).maxCompletionTokens(24)
                .putAdditionalBodyProperty("thinking", JsonValue.from(Map.of("mode", "slow", "budget", 3))).build())) {
            s.stream().forEach(acc::accumulate);
        } finally {
            sdk.close();
        }
        assertThat(acc.chatCompletion().choices().getFirst().message().content()).hasValue(m.path("content").asText());

        OpenAiStreamingChatModel lc = OpenAiStreamingChatModel.builder().baseUrl(opening.baseUrl()).apiKey("unused").modelName("tiny")
                .temperature(0.0).maxTokens(24).returnThinking(true).customParameters(Map.of("thinking", Map.of("mode", "slow", "budget", 3)))
                .timeout(Duration.ofSeconds(60)).build();
        StringBuilder thinking = new StringBuilder(), answer = new StringBuilder();
        ChatResponse r = LangChain4jTest.stream(lc, "What is 2+3?", answer, thinking);
        assertThat(thinking.toString()).isEqualTo(m.path("reasoning_content").asText());
        assertThat(answer.toString()).isEqualTo(m.path("content").asText());
        assertThat(r.aiMessage().text()).isEqualTo(m.path("content").asText());
    }

    @Test
    void budgetZeroMeansFast() throws Exception {
        JsonNode r = ok(o.post("/v1/chat/completions", chat(",\"thinking_budget\":0")));
        assertThat(r.path("choices").get(0).path("message").has("reasoning_content")).isFalse();
        // the forced closing marker alone is no reasoning
        assertThat(r.path("usage").path("completion_tokens_details").path("reasoning_tokens").asInt()).isZero();
        assertThat(r.path("thinking").path("mode_used").asText()).isEqualTo("fast");
        // the same reason as `moge generate --chat --thinking-budget 0 --json` gives
        assertThat(r.path("thinking").path("reason").asText()).isEqualTo("thinking budget 0: answered without thinking");
    }

    @Test
    void modeAliasesReachThePrompt() throws Exception {
        int slow = ok(p.post("/v1/chat/completions", chat(""))).path("usage").path("prompt_tokens").asInt();
        JsonNode fast = ok(p.post("/v1/chat/completions", chat(",\"reasoning_effort\":\"low\"")));
        JsonNode off = ok(p.post("/v1/chat/completions", chat(",\"chat_template_kwargs\":{\"enable_thinking\":false}")));
        JsonNode auto = ok(p.post("/v1/chat/completions", chat(",\"reasoning_effort\":\"medium\"")));
        JsonNode explicit = ok(p.post("/v1/chat/completions", chat(",\"reasoning_effort\":\"low\",\"thinking\":{\"mode\":\"slow\"}")));
        assertThat(fast.path("usage").path("prompt_tokens").asInt()).isGreaterThan(slow);
        assertThat(off.path("usage").path("prompt_tokens").asInt()).isEqualTo(fast.path("usage").path("prompt_tokens").asInt());
        assertThat(fast.path("thinking").path("mode").asText()).isEqualTo("fast");
        assertThat(off.path("thinking").path("mode").asText()).isEqualTo("fast");
        assertThat(auto.path("thinking").path("mode").asText()).isEqualTo("auto");
        assertThat(auto.path("thinking").path("mode_used").asText()).isEqualTo("fast");
        assertThat(explicit.path("thinking").path("mode").asText()).isEqualTo("slow");
        assertThat(explicit.path("usage").path("prompt_tokens").asInt()).isEqualTo(slow);
    }

    @Test
    void aSwitchTypedAtTheEndOfTheMessageIsTheModeReportedAndCounted() throws Exception {
        String fastCount = "moge_thinking_requests_total{mode=\"fast\",mode_used=\"fast\"} ";
        double before = counter(p.get("/metrics").text(), fastCount);
        // stronger than any field: the model reads the switch, whatever the request says
        String typed = "{\"messages\":[{\"role\":\"user\",\"content\":\"What is 2+3? /no_think\"}],\"temperature\":0,"
                + "\"max_tokens\":24,\"thinking\":{\"mode\":\"cascade\"}}";
        JsonNode fast = ok(p.post("/v1/chat/completions", typed));
        JsonNode asked = ok(p.post("/v1/chat/completions", chat(",\"reasoning_effort\":\"low\"")));
        assertThat(fast.path("thinking").path("mode").asText()).isEqualTo("fast");
        assertThat(fast.path("thinking").path("mode_used").asText()).isEqualTo("fast");
        assertThat(fast.path("thinking").has("confidence")).isFalse();
        // the same prompt as asking for fast mode: the switch is not appended twice
        assertThat(fast.path("usage").path("prompt_tokens").asInt()).isEqualTo(asked.path("usage").path("prompt_tokens").asInt());
        assertThat(counter(p.get("/metrics").text(), fastCount)).isEqualTo(before + 2);

        JsonNode auto = ok(p.post("/v1/chat/completions", typed.replace("/no_think", "/auto_think")));
        assertThat(auto.path("thinking").path("mode").asText()).isEqualTo("auto");
        boolean reasoned = auto.path("choices").get(0).path("message").has("reasoning_content");
        assertThat(auto.path("thinking").path("mode_used").asText()).isEqualTo(reasoned ? "slow" : "fast");
    }

    private static double counter(String metrics, String line) {
        return metrics.lines().filter(l -> l.startsWith(line)).mapToDouble(l -> Double.parseDouble(l.substring(line.length()))).sum();
    }

    @Test
    void badThinkingFieldsAre400() throws Exception {
        for (String[] c : List.of(
                new String[]{",\"thinking\":{\"mode\":\"deep\"}", "thinking.mode"},
                new String[]{",\"thinking\":{\"budget\":-1}", "thinking.budget"},
                new String[]{",\"thinking\":\"fast\"", "thinking"},
                new String[]{",\"reasoning_effort\":\"max\"", "reasoning_effort"},
                new String[]{",\"thinking_budget\":\"ten\"", "thinking_budget"},
                new String[]{",\"thinking\":{\"mode\":\"cascade\",\"cascade\":{\"mean\":1}}", "thinking.cascade.mean"})) {
            HttpTestClient.Reply r = p.post("/v1/chat/completions", chat(c[0]));
            assertThat(r.status()).as(c[0]).isEqualTo(400);
            assertThat(r.error().path("param").asText()).as(c[0]).isEqualTo(c[1]);
        }
    }

    @Test
    void cascadeEscalatesWhenUnsureAndKeepsAConfidentFastAnswer() throws Exception {
        // a mean log-probability of 0 is out of a random model's reach: always escalates
        String unsure = ",\"thinking\":{\"mode\":\"cascade\",\"cascade\":{\"mean\":0}}";
        JsonNode r = ok(p.post("/v1/chat/completions", chat(unsure)));
        JsonNode slow = ok(p.post("/v1/chat/completions", chat(",\"thinking\":{\"mode\":\"slow\"}")));
        JsonNode fast = ok(p.post("/v1/chat/completions", chat(",\"thinking\":{\"mode\":\"fast\"}")));
        assertThat(r.path("thinking").path("mode_used").asText()).isEqualTo("slow");
        assertThat(r.path("thinking").path("reason").asText()).startsWith("unsure (").endsWith("answered again in slow mode");
        assertThat(r.path("thinking").path("confidence").path("tokens").asInt()).isPositive();
        assertThat(r.path("choices").get(0).path("message").path("content").asText())
                .isEqualTo(slow.path("choices").get(0).path("message").path("content").asText());
        assertThat(r.path("usage").path("completion_tokens").asInt())
                .isEqualTo(slow.path("usage").path("completion_tokens").asInt() + fast.path("usage").path("completion_tokens").asInt());
        assertThat(r.path("choices").get(0).path("logprobs").isNull()).isTrue();

        // streamed: only the slow answer reaches the client
        HttpTestClient.Events ev = p.stream("/v1/chat/completions", chat(unsure + ",\"stream\":true"));
        assertThat(ev.text()).isEqualTo(slow.path("choices").get(0).path("message").path("content").asText());
        for (JsonNode d : ev.data()) assertThat(d.path("choices").path(0).path("logprobs").isMissingNode() || d.path("choices").path(0).path("logprobs").isNull()).isTrue();

        // thresholds every answer clears; a stop string ends the fast answer before the token limit
        String text = fast.path("choices").get(0).path("message").path("content").asText();
        String stop = text.substring(Math.min(3, text.length() - 1), Math.min(4, text.length()));
        String sure = ",\"stop\":" + HttpTestClient.JSON.valueToTree(stop) + ",\"thinking\":{\"mode\":\"cascade\",\"cascade\":{\"mean\":-1e9,\"min\":-1e9}}";
        JsonNode k = ok(p.post("/v1/chat/completions", chat(sure)));
        assertThat(k.path("thinking").path("mode_used").asText()).isEqualTo("fast");
        assertThat(k.path("thinking").path("reason").asText()).startsWith("confident: ");
        assertThat(k.path("choices").get(0).path("finish_reason").asText()).isEqualTo("stop");
        HttpTestClient.Events kev = p.stream("/v1/chat/completions", chat(sure + ",\"stream\":true"));
        assertThat(kev.text()).isEqualTo(k.path("choices").get(0).path("message").path("content").asText());

        String metrics = p.get("/metrics").text();
        assertThat(metrics).contains("moge_thinking_requests_total{mode=\"cascade\",mode_used=\"slow\"} 2.0");
        assertThat(metrics).contains("moge_thinking_requests_total{mode=\"cascade\",mode_used=\"fast\"} 2.0");
        assertThat(metrics).contains("moge_thinking_cascade_escalations_total 2.0");
    }
}
