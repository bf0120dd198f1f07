package moge.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.helpers.ChatCompletionAccumulator;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionMessageToolCall;
import com.openai.models.chat.completions.ChatCompletionToolChoiceOption;
import dev.langchain4j.agent.tool.ToolExecutionRequest;
import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.agent.tool.ToolSpecifications;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import moge.server.MogeServer;
import moge.server.ServerOptions;
import moge.server.TestEngines;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Tool calls streamed as OpenAI streams them: the first delta of a call carries its index, id, type and name with
 * arguments "", the next ones only the index and a piece of the arguments as the tokens come; the pieces join to
 * exactly the arguments the same request (same seed) answers unstreamed. Read raw, and by the OpenAI SDK's
 * accumulator and LangChain4j's streaming model.
 */
class ToolsStreamTest {
    static MogeServer server;
    static HttpTestClient http;
    static OpenAIClient sdk;

    @BeforeAll
    static void start() {
        server = TestEngines.startDemo(new ServerOptions().parallel(2).context(2048).batchTokens(64).modelId("demo"));
        http = new HttpTestClient(server.port());
        sdk = OpenAIOkHttpClient.builder().baseUrl(server.baseUrl()).apiKey("unused").maxRetries(0).build();
    }

    @AfterAll
    static void stop() {
        sdk.close();
        server.close();
    }

    /** One streamed call as the deltas spelled it. */
    record Streamed(String id, String name, String arguments, int pieces) {
    }

    /** The calls of a raw stream, checking each delta's shape; the finish reason goes in {@code finish[0]}. */
    static List<Streamed> calls(HttpTestClient.Events ev, String[] finish) {
        List<String[]> calls = new ArrayList<>();
        List<Integer> pieces = new ArrayList<>();
        for (JsonNode d : ev.data()) {
            JsonNode ch = d.path("choices").path(0);
            for (JsonNode tc : ch.path("delta").path("tool_calls")) {
                int i = tc.path("index").asInt(-1);
                if (i == calls.size()) {
                    // a call's first delta: index, id, type, name, empty arguments
                    assertThat(tc.path("id").asText()).startsWith("call_");
                    assertThat(tc.path("type").asText()).isEqualTo("function");
                    assertThat(tc.path("function").path("arguments").asText()).as(tc.toString()).isEmpty();
                    calls.add(new String[]{tc.path("id").asText(), tc.path("function").path("name").asText(), ""});
                    pieces.add(0);
                } else {
                    assertThat(i).as("a later delta names a call already opened: %s", tc).isBetween(0, calls.size() - 1);
                    assertThat(tc.has("id") || tc.has("type") || tc.path("function").has("name")).as(tc.toString()).isFalse();
                    calls.get(i)[2] += tc.path("function").path("arguments").asText();
                    pieces.set(i, pieces.get(i) + 1);
                }
            }
            if (ch.path("finish_reason").isTextual()) finish[0] = ch.path("finish_reason").asText();
        }
        assertThat(ev.done()).isTrue();
        List<Streamed> out = new ArrayList<>();
        for (int i = 0; i < calls.size(); i++) out.add(new Streamed(calls.get(i)[0], calls.get(i)[1], calls.get(i)[2], pieces.get(i)));
        return out;
    }

    /** Streamed and whole, same seed: the same calls; each call's arguments came in several pieces. */
    static int sameCallsStreamedAndWhole(String body) throws Exception {
        JsonNode whole = http.post(ToolsServerTest.CHAT, body + "}").json().path("choices").path(0);
        String[] finish = new String[1];
        List<Streamed> streamed = calls(http.stream(ToolsServerTest.CHAT, body + ",\"stream\":true}"), finish);
        JsonNode wholeCalls = whole.path("message").path("tool_calls");
        assertThat(whole.path("finish_reason").asText()).as(whole.toString()).isEqualTo("tool_calls");
        assertThat(finish[0]).isEqualTo("tool_calls");
        assertThat(streamed).hasSize(wholeCalls.size());
        for (int i = 0; i < streamed.size(); i++) {
            JsonNode w = wholeCalls.get(i);
            ToolsServerTest.validCall(w, "add", "get_weather");
            assertThat(streamed.get(i).name()).isEqualTo(w.path("function").path("name").asText());
            assertThat(streamed.get(i).arguments()).isEqualTo(w.path("function").path("arguments").asText());
            assertThat(streamed.get(i).pieces()).as("arguments %s came in pieces", streamed.get(i).arguments()).isGreaterThan(2);
        }
        return streamed.size();
    }

    @Test
    void forcedCallsStreamTheirArgumentsPieceByPiece() throws Exception {
        int most = 0;
        for (long seed = 0; seed < 4; seed++) {
            most = Math.max(most, sameCallsStreamedAndWhole(ToolsServerTest.body("What is 7*6? /no_think", "").replaceFirst("}$", "")
                    + ",\"tool_choice\":\"required\",\"temperature\":0.9,\"seed\":" + seed));
        }
        assertThat(most).as("parallel calls, each under its own index").isGreaterThanOrEqualTo(2);
    }

    @Test
    void anAutoCallStreamsAfterItsText() throws Exception {
        int open = ToolsAutoTest.singleToken(http, ToolPrompt.PANGU_OPEN), close = ToolsAutoTest.singleToken(http, ToolPrompt.PANGU_CLOSE);
        // the seed at which ToolsAutoTest's demo answer writes text, then the call
        String body = ToolsAutoTest.pair(2, open, close)[0];
        assertThat(sameCallsStreamedAndWhole(body.substring(0, body.length() - 1))).isEqualTo(1);
    }

    @Test
    void aCallCutShortByMaxTokensStaysACallWithFinishReasonLength() throws Exception {
        int cut = 0;
        for (int max = 20; max <= 52; max += 8) {
            String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"What is 12+30? /no_think\"}],\"max_tokens\":" + max + ","
                    + ToolsServerTest.TOOLS + ",\"tool_choice\":\"required\",\"temperature\":0";
            JsonNode whole = http.post(ToolsServerTest.CHAT, body + "}").json().path("choices").path(0);
            String[] finish = new String[1];
            List<Streamed> streamed = calls(http.stream(ToolsServerTest.CHAT, body + ",\"stream\":true}"), finish);
            assertThat(whole.path("finish_reason").asText()).as(whole.toString()).isEqualTo("length");
            assertThat(finish[0]).isEqualTo("length");
            JsonNode calls = whole.path("message").path("tool_calls");
            assertThat(streamed).hasSize(calls.size());
            if (calls.isEmpty()) {
                // cut before the first call's arguments opened: the text is the content, as before
                assertThat(whole.path("message").path("content").asText()).startsWith("[");
                continue;
            }
            cut++;
            String args = calls.get(calls.size() - 1).path("function").path("arguments").asText();
            assertThat(args).startsWith("{");
            assertThat(streamed.getLast().arguments()).isEqualTo(args);
        }
        assertThat(cut).as("some limit falls inside a call's arguments").isPositive();
    }

    static ChatCompletionCreateParams sdkParams(long seed) {
        return ToolsClientsTest.sdk("What is 5+7? /no_think").toolChoice(ChatCompletionToolChoiceOption.Auto.REQUIRED)
                .temperature(0.9).seed(seed).build();
    }

    @Test
    void theSdkAccumulatorReassemblesTheWholeAnswersCalls() throws Exception {
        for (long seed = 0; seed < 3; seed++) {
            List<ChatCompletionMessageToolCall> whole = sdk.chat().completions().create(sdkParams(seed)).choices().getFirst().message()
                    .toolCalls().orElseThrow();
            ChatCompletionAccumulator acc = ChatCompletionAccumulator.create();
            int chunks = 0;
            try (StreamResponse<ChatCompletionChunk> s = sdk.chat().completions().createStreaming(sdkParams(seed))) {
                for (ChatCompletionChunk c : (Iterable<ChatCompletionChunk>) s.stream()::iterator) {
                    acc.accumulate(c);
                    if (c.choices().stream().anyMatch(ch -> ch.delta().toolCalls().isPresent())) chunks++;
                }
            }
            ChatCompletion.Choice choice = acc.chatCompletion().choices().getFirst();
            assertThat(choice.finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.TOOL_CALLS);
            List<ChatCompletionMessageToolCall> streamed = choice.message().toolCalls().orElseThrow();
            assertThat(streamed).hasSameSizeAs(whole);
            assertThat(chunks).as("more tool-call chunks than calls: the arguments came in pieces").isGreaterThan(2 * whole.size());
            for (int i = 0; i < whole.size(); i++) {
                assertThat(streamed.get(i).asFunction().id()).startsWith("call_");
                assertThat(streamed.get(i).asFunction().function().name()).isEqualTo(whole.get(i).asFunction().function().name());
                assertThat(streamed.get(i).asFunction().function().arguments()).isEqualTo(whole.get(i).asFunction().function().arguments());
                Class<?> type = whole.get(i).asFunction().function().name().equals("Add") ? ToolsClientsTest.Add.class : ToolsClientsTest.Weather.class;
                assertThat(streamed.get(i).asFunction().function().arguments(type)).isNotNull();
            }
        }
    }

    @Test
    void langChain4jStreamingReassemblesTheWholeAnswersCalls() throws Exception {
        List<ToolSpecification> tools = ToolSpecifications.toolSpecificationsFrom(ToolsClientsTest.Calculator.class);
        for (int seed = 0; seed < 3; seed++) {
            OpenAiChatModel whole = OpenAiChatModel.builder().baseUrl(server.baseUrl()).apiKey("unused").modelName("demo")
                    .temperature(0.9).seed(seed).maxTokens(300).timeout(Duration.ofSeconds(60)).maxRetries(0).build();
            OpenAiStreamingChatModel streaming = OpenAiStreamingChatModel.builder().baseUrl(server.baseUrl()).apiKey("unused").modelName("demo")
                    .temperature(0.9).seed(seed).maxTokens(300).timeout(Duration.ofSeconds(60)).build();
            ChatRequest req = ToolsClientsTest.forced(List.of(UserMessage.from("What is 6*7? /no_think")), tools);
            List<ToolExecutionRequest> expected = whole.chat(req).aiMessage().toolExecutionRequests();
            assertThat(expected).isNotEmpty();

            TreeMap<Integer, StringBuilder> partial = new TreeMap<>();
            List<ToolExecutionRequest> got = LangChain4jTest.stream(streaming, req, new StringBuilder(), new StringBuilder(),
                    p -> partial.computeIfAbsent(p.index(), k -> new StringBuilder()).append(p.partialArguments())).aiMessage().toolExecutionRequests();
            assertThat(got).hasSameSizeAs(expected);
            assertThat(partial.keySet()).as("one index per call").hasSize(expected.size());
            for (int i = 0; i < got.size(); i++) {
                assertThat(got.get(i).name()).isEqualTo(expected.get(i).name());
                assertThat(got.get(i).arguments()).isEqualTo(expected.get(i).arguments());
                assertThat(partial.get(i).toString()).as("the partial calls join to the call").isEqualTo(got.get(i).arguments());
                assertThat(ToolsClientsTest.execute(got.get(i))).isNotEmpty();
            }
        }
    }
}
