package moge.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.langchain4j.agent.tool.ToolExecutionRequest;
import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.agent.tool.ToolSpecifications;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ToolExecutionResultMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.anthropic.AnthropicChatModel;
import dev.langchain4j.model.anthropic.AnthropicStreamingChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ToolChoice;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.output.FinishReason;
import moge.server.MogeServer;
import moge.server.ServerOptions;
import moge.server.TestEngines;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Anthropic's Messages API (POST /v1/messages, /v1/messages/count_tokens) with LangChain4j's Anthropic models and
 * plain HTTP, on the demo model: the same answer and reasoning as chat/completions gives, streamed or not; tool
 * use and tool results; stop reasons; usage as Anthropic counts it; errors in Anthropic's shape.
 */
class MessagesApiTest {
    static final ObjectMapper M = new ObjectMapper();
    static final String MESSAGES = "/v1/messages", CHAT = "/v1/chat/completions";
    static MogeServer server;
    static HttpTestClient http;

    @BeforeAll
    static void start() {
        server = TestEngines.startDemo(new ServerOptions().parallel(2).context(2048).batchTokens(64).modelId("demo"));
        http = new HttpTestClient(server.port());
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    static AnthropicChatModel model() {
        return AnthropicChatModel.builder().baseUrl(server.baseUrl() + "/").apiKey("unused").modelName("demo").maxTokens(300)
                .temperature(0.0).returnThinking(true).timeout(Duration.ofSeconds(60)).maxRetries(0).build();
    }

    static JsonNode chatMessage(String user) throws Exception {
        return http.post(CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"" + user + "\"}],\"max_tokens\":300,\"temperature\":0}")
                .json().path("choices").path(0).path("message");
    }

    @Test
    void langChain4jAnthropicModelGetsChatCompletionsAnswerAndReasoning() throws Exception {
        ChatResponse r = model().chat(ChatRequest.builder().messages(UserMessage.from("What is 12+30?")).build());
        JsonNode m = chatMessage("What is 12+30?");
        assertThat(r.aiMessage().text()).isEqualTo(m.path("content").asText());
        assertThat(r.aiMessage().thinking()).isNotBlank().isEqualTo(m.path("reasoning_content").asText());
        assertThat(r.finishReason()).isEqualTo(FinishReason.STOP);
        assertThat(r.tokenUsage().outputTokenCount()).isPositive();
    }

    @Test
    void langChain4jStreamingAddsUpToTheSameAnswer() throws Exception {
        AnthropicStreamingChatModel streaming = AnthropicStreamingChatModel.builder().baseUrl(server.baseUrl() + "/").apiKey("unused")
                .modelName("demo").maxTokens(300).temperature(0.0).returnThinking(true).timeout(Duration.ofSeconds(60)).build();
        StringBuilder answer = new StringBuilder(), thinking = new StringBuilder();
        ChatResponse r = LangChain4jTest.stream(streaming, "What is 7+8?", answer, thinking);
        JsonNode m = chatMessage("What is 7+8?");
        assertThat(answer.toString()).isEqualTo(m.path("content").asText()).isEqualTo(r.aiMessage().text());
        assertThat(thinking.toString()).isEqualTo(m.path("reasoning_content").asText());
        assertThat(r.finishReason()).isEqualTo(FinishReason.STOP);
    }

    @Test
    void langChain4jToolUseRunsAndItsResultIsAnswered() throws Exception {
        AnthropicChatModel model = model();
        List<ToolSpecification> tools = ToolSpecifications.toolSpecificationsFrom(ToolsClientsTest.Calculator.class);
        UserMessage user = UserMessage.from("What is 6*7? /no_think");
        ChatResponse r = model.chat(ChatRequest.builder().messages(user).toolSpecifications(tools).toolChoice(ToolChoice.REQUIRED).build());
        AiMessage ai = r.aiMessage();
        assertThat(ai.hasToolExecutionRequests()).as(ai.toString()).isTrue();
        assertThat(r.finishReason()).isEqualTo(FinishReason.TOOL_EXECUTION);
        List<dev.langchain4j.data.message.ChatMessage> history = new ArrayList<>(List.of(user, ai));
        for (ToolExecutionRequest call : ai.toolExecutionRequests()) {
            assertThat(call.name()).isIn("multiply", "isPrime");
            history.add(ToolExecutionResultMessage.from(call, ToolsClientsTest.execute(call)));
        }
        ChatResponse answer = model.chat(ChatRequest.builder().messages(history).toolSpecifications(tools).build());
        assertThat(answer.aiMessage().text()).isNotNull();
        assertThat(answer.aiMessage().hasToolExecutionRequests()).isFalse();
    }

    static String body(String extra) {
        return "{\"model\":\"demo\",\"max_tokens\":300,\"temperature\":0,\"messages\":[{\"role\":\"user\",\"content\":\"What is 4+5?\"}]" + extra + "}";
    }

    @Test
    void stopReasonsNameWhatEndedTheMessage() throws Exception {
        JsonNode stop = http.post(MESSAGES, body(",\"stop_sequences\":[\"+\"]")).json();
        assertThat(stop.path("stop_reason").asText()).isEqualTo("stop_sequence");
        assertThat(stop.path("stop_sequence").asText()).isEqualTo("+");
        JsonNode length = http.post(MESSAGES, body("").replace("\"max_tokens\":300", "\"max_tokens\":4")).json();
        assertThat(length.path("stop_reason").asText()).isEqualTo("max_tokens");
        assertThat(length.path("usage").path("output_tokens").asInt()).isEqualTo(4);
        JsonNode end = http.post(MESSAGES, body("")).json();
        assertThat(end.path("stop_reason").asText()).isEqualTo("end_turn");
        assertThat(end.path("stop_sequence").isNull()).isTrue();
        assertThat(end.path("content").path(0).path("type").asText()).isEqualTo("thinking");
        JsonNode fast = http.post(MESSAGES, body(",\"thinking\":{\"type\":\"disabled\"}")).json();
        assertThat(fast.path("content")).hasSize(1);
        assertThat(fast.path("content").path(0).path("type").asText()).isEqualTo("text");
    }

    @Test
    void usageCountsCachedPromptTokensApartAndCountTokensAgrees() throws Exception {
        String b = "{\"model\":\"demo\",\"max_tokens\":8,\"system\":\"You add numbers.\",\"messages\":[{\"role\":\"user\",\"content\":"
                + "\"What is 31+11? /no_think\"}]}";
        http.post(MESSAGES, b);
        JsonNode u = http.post(MESSAGES, b).json().path("usage");
        int prompt = u.path("input_tokens").asInt() + u.path("cache_read_input_tokens").asInt();
        assertThat(u.path("cache_read_input_tokens").asInt()).isPositive();
        JsonNode count = http.post(MESSAGES + "/count_tokens", b.replace("\"max_tokens\":8,", "")).json();
        assertThat(count.path("input_tokens").asInt()).isEqualTo(prompt);
    }

    @Test
    void theStreamIsAnthropicsEventSequence() throws Exception {
        HttpTestClient.Events ev = http.stream(MESSAGES, body(",\"stream\":true"));
        List<String> types = ev.data().stream().map(d -> d.path("type").asText()).toList();
        assertThat(types.subList(0, 3)).containsExactly("message_start", "ping", "content_block_start");
        assertThat(types.subList(types.size() - 3, types.size())).containsExactly("content_block_stop", "message_delta", "message_stop");
        int open = -1;
        StringBuilder text = new StringBuilder();
        for (JsonNode d : ev.data()) {
            switch (d.path("type").asText()) {
                case "content_block_start" -> assertThat(d.path("index").asInt()).isEqualTo(++open);
                case "content_block_delta" -> {
                    assertThat(d.path("index").asInt()).isEqualTo(open);
                    text.append(d.path("delta").path("text").asText(""));
                }
                case "content_block_stop" -> assertThat(d.path("index").asInt()).isEqualTo(open);
                default -> { }
            }
        }
        JsonNode whole = http.post(MESSAGES, body("")).json();
        assertThat(text.toString()).isEqualTo(whole.path("content").path(1).path("text").asText());
        assertThat(ev.data().get(types.indexOf("message_delta")).path("delta").path("stop_reason").asText()).isEqualTo("end_turn");
    }

    @Test
    void aStreamedToolUseAddsUpToTheWholeOnesInput() throws Exception {
        String tools = ",\"tools\":[{\"name\":\"add\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"},"
                + "\"b\":{\"type\":\"integer\"}},\"required\":[\"a\",\"b\"]}}],\"tool_choice\":{\"type\":\"tool\",\"name\":\"add\"},"
                + "\"thinking\":{\"type\":\"disabled\"}";
        JsonNode whole = http.post(MESSAGES, body(tools)).json();
        assertThat(whole.path("stop_reason").asText()).isEqualTo("tool_use");
        JsonNode use = whole.path("content").path(0);
        assertThat(use.path("type").asText()).isEqualTo("tool_use");
        assertThat(use.path("name").asText()).isEqualTo("add");
        assertThat(use.path("input").path("a").isIntegralNumber()).as(use.toString()).isTrue();

        HttpTestClient.Events ev = http.stream(MESSAGES, body(tools + ",\"stream\":true"));
        StringBuilder json = new StringBuilder();
        int pieces = 0;
        for (JsonNode d : ev.data()) {
            if (d.path("delta").path("type").asText().equals("input_json_delta")) {
                json.append(d.path("delta").path("partial_json").asText());
                pieces++;
            }
        }
        assertThat(pieces).as("the input streams in pieces").isGreaterThan(1);
        assertThat(M.readTree(json.toString())).isEqualTo(use.path("input"));
        JsonNode start = ev.data().stream().filter(d -> d.path("type").asText().equals("content_block_start")).findFirst().orElseThrow();
        assertThat(start.path("content_block").path("id").asText()).isEqualTo(start.path("content_block").path("id").asText()).startsWith("call_");
        JsonNode delta = ev.data().stream().filter(d -> d.path("type").asText().equals("message_delta")).findFirst().orElseThrow();
        assertThat(delta.path("delta").path("stop_reason").asText()).isEqualTo("tool_use");
    }

    @ParameterizedTest(name = "{1}")
    @CsvSource(delimiter = '|', value = {
            "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}|max_tokens",
            "{\"max_tokens\":9}|messages",
            "{\"max_tokens\":9,\"messages\":[{\"role\":\"system\",\"content\":\"hi\"}]}|messages[0].role",
            "{\"max_tokens\":9,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"source\":{}}]}]}|messages[0].content[0].type",
            "{\"max_tokens\":9,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"tools\":[{\"type\":\"web_search_20250305\",\"name\":\"w\"}]}|tools[0].type",
            "{\"max_tokens\":9,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"thinking\":{\"type\":\"sometimes\"}}|thinking.type",
            "{\"max_tokens\":9,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stop_sequences\":\"x\"}|stop_sequences",
            "{\"max_tokens\":-1,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}|max_tokens",
            "{\"max_tokens\":9,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"tool_choice\":{\"type\":\"maybe\"}}|tool_choice.type",
    })
    void badRequestsAreAnthropicErrors(String body, String param) throws Exception {
        HttpTestClient.Reply r = http.post(MESSAGES, body);
        assertThat(r.status()).as(r.text()).isEqualTo(400);
        assertThat(r.json().path("type").asText()).isEqualTo("error");
        assertThat(r.json().path("error").path("type").asText()).isEqualTo("invalid_request_error");
        assertThat(r.json().path("error").path("message").asText()).contains(param.replaceAll("\\[.*", ""));
    }

    @Test
    void aTooLargeBodyAndAnUnknownModelAreAnthropicErrorsToo() throws Exception {
        HttpTestClient.Reply big = http.postRefused(MESSAGES, ("{\"max_tokens\":9,\"messages\":[{\"role\":\"user\",\"content\":\""
                + "x".repeat(2 << 20) + "\"}]}").getBytes(StandardCharsets.UTF_8));
        assertThat(big.status()).isEqualTo(413);
        assertThat(big.json().path("error").path("type").asText()).isEqualTo("request_too_large");
        HttpTestClient.Reply model = http.post(MESSAGES, body("").replace("\"demo\"", "\"claude-sonnet-4\""));
        assertThat(model.status()).isEqualTo(404);
        assertThat(model.json().path("type").asText()).isEqualTo("error");
        assertThat(model.json().path("error").path("type").asText()).isEqualTo("not_found_error");
        assertThat(model.json().path("error").path("message").asText()).contains("claude-sonnet-4");
        // the server goes on serving
        assertThat(http.post(MESSAGES, body("")).status()).isEqualTo(200);
    }

    @Test
    void anthropicClientsAuthenticateWithXApiKey() throws Exception {
        try (MogeServer keyed = TestEngines.startDemo(new ServerOptions().parallel(1).context(512).apiKey("s3cret"))) {
            java.net.http.HttpClient c = java.net.http.HttpClient.newHttpClient();
            java.net.URI uri = java.net.URI.create(keyed.baseUrl() + "/messages/count_tokens");
            String b = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
            var ok = c.send(java.net.http.HttpRequest.newBuilder(uri).header("x-api-key", "s3cret")
                    .POST(java.net.http.HttpRequest.BodyPublishers.ofString(b)).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
            var wrong = c.send(java.net.http.HttpRequest.newBuilder(uri).header("x-api-key", "guess")
                    .POST(java.net.http.HttpRequest.BodyPublishers.ofString(b)).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
            assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
            assertThat(wrong.statusCode()).isEqualTo(401);
            assertThat(M.readTree(wrong.body()).path("error").path("type").asText()).isEqualTo("authentication_error");
        }
    }
}
