package moge.server.api;

import com.fasterxml.jackson.annotation.JsonClassDescription;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.models.responses.EasyInputMessage;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseFunctionToolCall;
import com.openai.models.responses.ResponseIncludable;
import com.openai.models.responses.ResponseInputItem;
import com.openai.models.responses.ResponseOutputItem;
import com.openai.models.responses.ResponseStreamEvent;
import com.openai.models.responses.StructuredResponseCreateParams;
import com.openai.models.responses.ToolChoiceOptions;
import moge.server.MogeServer;
import moge.server.ServerOptions;
import moge.server.TestEngines;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * OpenAI's Responses API (POST /v1/responses) with the official Java SDK and plain HTTP, on the demo model: the
 * same answer as chat/completions gives for the same conversation (the reasoning in a reasoning item, the answer
 * in a message), streamed events that add up to it, function tools, structured output, and 400s that name the
 * Responses API's fields.
 */
class ResponsesApiTest {
    static final ObjectMapper M = new ObjectMapper();
    static final String RESPONSES = "/v1/responses", CHAT = "/v1/chat/completions";
    static MogeServer server;
    static OpenAIClient client;
    static HttpTestClient http;

    @BeforeAll
    static void start() {
        server = TestEngines.startDemo(new ServerOptions().parallel(2).context(2048).batchTokens(64).modelId("demo"));
        client = OpenAIOkHttpClient.builder().baseUrl(server.baseUrl()).apiKey("unused").maxRetries(0).build();
        http = new HttpTestClient(server.port());
    }

    @AfterAll
    static void stop() {
        client.close();
        server.close();
    }

    static ResponseCreateParams.Builder params(String input) {
        return ResponseCreateParams.builder().model("demo").input(input).maxOutputTokens(300L).temperature(0.0);
    }

    /** The reasoning items' text and the messages' text of a response, as the SDK reads them. */
    record Texts(String reasoning, String answer) {
        static Texts of(Response r) {
            StringBuilder reasoning = new StringBuilder(), answer = new StringBuilder();
            for (ResponseOutputItem item : r.output()) {
                if (item.isReasoning()) item.asReasoning().content().orElse(List.of()).forEach(c -> reasoning.append(c.text()));
                if (item.isMessage()) item.asMessage().content().forEach(c -> answer.append(c.asOutputText().text()));
            }
            return new Texts(reasoning.toString(), answer.toString());
        }
    }

    @Test
    void theAnswerIsChatCompletionsAnswerWithTheReasoningInItsOwnItem() throws Exception {
        Response r = client.responses().create(params("What is 12+30?").build()).validate();
        assertThat(r.status()).hasValueSatisfying(s -> assertThat(s.asString()).isEqualTo("completed"));
        Texts t = Texts.of(r);
        assertThat(r.output().getFirst().isReasoning()).as(r.output().toString()).isTrue();
        assertThat(t.reasoning()).isNotBlank();
        assertThat(t.answer()).isNotBlank();

        HttpTestClient.Reply chat = http.post(CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"What is 12+30?\"}],"
                + "\"max_completion_tokens\":300,\"temperature\":0}");
        JsonNode m = chat.json().path("choices").path(0).path("message");
        assertThat(t.answer()).isEqualTo(m.path("content").asText());
        assertThat(t.reasoning()).isEqualTo(m.path("reasoning_content").asText());
        var usage = r.usage().orElseThrow();
        assertThat(usage.inputTokens()).isEqualTo(chat.json().path("usage").path("prompt_tokens").asLong());
        assertThat(usage.outputTokens()).isEqualTo(chat.json().path("usage").path("completion_tokens").asLong());
        assertThat(usage.outputTokensDetails().reasoningTokens()).isPositive();
        assertThat(usage.totalTokens()).isEqualTo(usage.inputTokens() + usage.outputTokens());
    }

    @Test
    void streamedEventsAddUpToTheWholeResponse() {
        Texts whole = Texts.of(client.responses().create(params("What is 7+8?").build()));
        List<ResponseStreamEvent> events = new ArrayList<>();
        try (StreamResponse<ResponseStreamEvent> s = client.responses().createStreaming(params("What is 7+8?").build())) {
            s.stream().forEach(e -> events.add(e.validate()));
        }
        assertThat(events.getFirst().isCreated()).isTrue();
        assertThat(events.get(1).isInProgress()).isTrue();
        assertThat(events.getLast().isCompleted()).as(events.getLast().toString()).isTrue();
        StringBuilder reasoning = new StringBuilder(), answer = new StringBuilder();
        for (ResponseStreamEvent e : events) {
            if (e.isReasoningTextDelta()) reasoning.append(e.asReasoningTextDelta().delta());
            if (e.isOutputTextDelta()) answer.append(e.asOutputTextDelta().delta());
        }
        assertThat(reasoning.toString()).isEqualTo(whole.reasoning());
        assertThat(answer.toString()).isEqualTo(whole.answer());
        assertThat(Texts.of(events.getLast().asCompleted().response())).isEqualTo(whole);
        long done = events.stream().filter(ResponseStreamEvent::isOutputItemDone).count();
        assertThat(done).isEqualTo(events.stream().filter(ResponseStreamEvent::isOutputItemAdded).count()).isEqualTo(2);
    }

    @Test
    void everyStreamedEventIsTypedAndNumberedInOrder() throws Exception {
        HttpTestClient.Events ev = http.stream(RESPONSES, "{\"input\":\"What is 3+4?\",\"stream\":true,\"max_output_tokens\":200}");
        assertThat(ev.status()).isEqualTo(200);
        assertThat(ev.contentType()).startsWith("text/event-stream");
        assertThat(ev.done()).as("no [DONE] in this API").isFalse();
        for (int i = 0; i < ev.data().size(); i++) {
            assertThat(ev.data().get(i).path("sequence_number").asInt()).isEqualTo(i);
            assertThat(ev.data().get(i).path("type").asText()).startsWith("response.");
        }
        JsonNode last = ev.data().getLast();
        assertThat(last.path("type").asText()).isEqualTo("response.completed");
        assertThat(last.path("response").path("usage").path("output_tokens").asInt()).isPositive();
    }

    @Test
    void instructionsAreTheSystemTurn() throws Exception {
        HttpTestClient.Reply r = http.post(RESPONSES, "{\"instructions\":\"Answer briefly.\",\"input\":\"What is 9+9? /no_think\","
                + "\"temperature\":0,\"max_output_tokens\":40}");
        HttpTestClient.Reply c = http.post(CHAT, "{\"messages\":[{\"role\":\"system\",\"content\":\"Answer briefly.\"},{\"role\":\"user\","
                + "\"content\":\"What is 9+9? /no_think\"}],\"temperature\":0,\"max_tokens\":40}");
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        assertThat(r.json().path("instructions").asText()).isEqualTo("Answer briefly.");
        assertThat(r.json().path("usage").path("input_tokens").asInt()).isEqualTo(c.json().path("usage").path("prompt_tokens").asInt());
        JsonNode msg = r.json().path("output").path(0);
        assertThat(msg.path("type").asText()).isEqualTo("message");
        assertThat(msg.path("content").path(0).path("text").asText()).isEqualTo(c.json().path("choices").path(0).path("message").path("content").asText());
    }

    @JsonClassDescription("Adds two integers")
    public static class Add {
        public long a;
        public long b;
    }

    @Test
    void aRequiredFunctionCallParsesAndItsOutputGoesBack() {
        Response r = client.responses().create(params("What is 12+30? /no_think").addTool(Add.class).toolChoice(ToolChoiceOptions.REQUIRED)
                .build()).validate();
        List<ResponseFunctionToolCall> calls = r.output().stream().filter(ResponseOutputItem::isFunctionCall)
                .map(ResponseOutputItem::asFunctionCall).toList();
        assertThat(calls).as(r.output().toString()).isNotEmpty();
        for (ResponseFunctionToolCall call : calls) {
            assertThat(call.name()).isEqualTo("Add");
            assertThat(call.callId()).startsWith("call_");
            assertThat(call.arguments(Add.class)).isNotNull();
        }
        // the conversation so far, the call and its result: answered with a message
        List<ResponseInputItem> input = new ArrayList<>();
        input.add(ResponseInputItem.ofEasyInputMessage(EasyInputMessage.builder().role(EasyInputMessage.Role.USER)
                .content("What is 12+30? /no_think").build()));
        for (ResponseFunctionToolCall call : calls) {
            input.add(ResponseInputItem.ofFunctionCall(call));
            input.add(ResponseInputItem.ofFunctionCallOutput(ResponseInputItem.FunctionCallOutput.builder().callId(call.callId())
                    .output("42").build()));
        }
        Response answer = client.responses().create(ResponseCreateParams.builder().model("demo").inputOfResponse(input)
                .maxOutputTokens(30L).temperature(0.0).addTool(Add.class).build()).validate();
        assertThat(answer.output().stream().anyMatch(ResponseOutputItem::isMessage)).as(answer.output().toString()).isTrue();
    }

    @Test
    void aStreamedFunctionCallComesAsItemAndArgumentEvents() throws Exception {
        String tools = "[{\"type\":\"function\",\"name\":\"add\",\"parameters\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"},"
                + "\"b\":{\"type\":\"integer\"}},\"required\":[\"a\",\"b\"]}}]";
        HttpTestClient.Events ev = http.stream(RESPONSES, "{\"input\":\"Add 2 and 3 /no_think\",\"stream\":true,\"temperature\":0,"
                + "\"tools\":" + tools + ",\"tool_choice\":{\"type\":\"function\",\"name\":\"add\"}}");
        StringBuilder args = new StringBuilder();
        String done = null;
        int pieces = 0;
        for (JsonNode e : ev.data()) {
            if (e.path("type").asText().equals("response.function_call_arguments.delta")) {
                args.append(e.path("delta").asText());
                pieces++;
            }
            if (e.path("type").asText().equals("response.function_call_arguments.done")) done = e.path("arguments").asText();
        }
        assertThat(done).isNotNull();
        assertThat(pieces).as("the arguments stream in pieces").isGreaterThan(1);
        assertThat(args.toString()).isEqualTo(done);
        JsonNode parsed = M.readTree(done);
        assertThat(parsed.path("a").isIntegralNumber() && parsed.path("b").isIntegralNumber()).as(done).isTrue();
        JsonNode output = ev.data().getLast().path("response").path("output");
        assertThat(output.path(0).path("type").asText()).isEqualTo("function_call");
        assertThat(output.path(0).path("arguments").asText()).isEqualTo(done);
        assertThat(ev.data().getLast().path("response").path("tools").path(0).path("name").asText()).isEqualTo("add");
    }

    @JsonClassDescription("A verdict on a sum")
    public static class Verdict {
        public boolean correct;
        public long sum;
    }

    @Test
    void structuredOutputParsesIntoTheClass() throws Exception {
        StructuredResponseCreateParams<Verdict> p = params("Is 2+2=4? /no_think").text(Verdict.class).build();
        var r = client.responses().create(p);
        String text = Texts.of(r.rawResponse()).answer();
        Verdict v = M.readValue(text, Verdict.class);
        assertThat(v).isNotNull();
        assertThat(r.rawResponse().text().orElseThrow().format().orElseThrow().isJsonSchema()).isTrue();
    }

    @Test
    void runningIntoMaxOutputTokensIsIncomplete() throws Exception {
        HttpTestClient.Reply r = http.post(RESPONSES, "{\"input\":\"What is 12+30?\",\"max_output_tokens\":5}");
        assertThat(r.json().path("status").asText()).isEqualTo("incomplete");
        assertThat(r.json().path("incomplete_details").path("reason").asText()).isEqualTo("max_output_tokens");
        assertThat(r.json().path("usage").path("output_tokens").asInt()).isEqualTo(5);
        HttpTestClient.Events ev = http.stream(RESPONSES, "{\"input\":\"What is 12+30?\",\"max_output_tokens\":5,\"stream\":true}");
        assertThat(ev.data().getLast().path("type").asText()).isEqualTo("response.incomplete");
    }

    @Test
    void logprobsRideOnTheOutputText() {
        Response r = client.responses().create(params("What is 5+6? /no_think").addInclude(ResponseIncludable.MESSAGE_OUTPUT_TEXT_LOGPROBS)
                .topLogprobs(2L).build()).validate();
        var text = r.output().stream().filter(ResponseOutputItem::isMessage).findFirst().orElseThrow().asMessage().content().getFirst()
                .asOutputText();
        var logprobs = text.logprobs().orElseThrow();
        assertThat(logprobs).isNotEmpty();
        StringBuilder tokens = new StringBuilder();
        logprobs.forEach(l -> {
            tokens.append(l.token());
            assertThat(l.logprob()).isLessThanOrEqualTo(0);
            assertThat(l.topLogprobs()).hasSize(2);
        });
        assertThat(tokens.toString()).isEqualTo(text.text());
    }

    @Test
    void earlierReasoningItemsAreAcceptedAndLeftOut() throws Exception {
        String input = "[{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[]},{\"role\":\"user\",\"content\":\"What is 9+9? /no_think\"}]";
        HttpTestClient.Reply withItem = http.post(RESPONSES, "{\"input\":" + input + ",\"temperature\":0,\"max_output_tokens\":20}");
        HttpTestClient.Reply plain = http.post(RESPONSES, "{\"input\":\"What is 9+9? /no_think\",\"temperature\":0,\"max_output_tokens\":20}");
        assertThat(withItem.status()).as(withItem.text()).isEqualTo(200);
        assertThat(withItem.json().path("usage").path("input_tokens")).isEqualTo(plain.json().path("usage").path("input_tokens"));
        assertThat(withItem.json().path("output")).isNotEmpty();
    }

    @Test
    void langChain4jResponsesModelsGetTheSameAnswer() throws Exception {
        dev.langchain4j.model.openai.OpenAiResponsesChatModel model = dev.langchain4j.model.openai.OpenAiResponsesChatModel.builder()
                .baseUrl(server.baseUrl()).apiKey("unused").modelName("demo").temperature(0.0).maxOutputTokens(300).store(false).build();
        dev.langchain4j.model.chat.response.ChatResponse r = model.chat(dev.langchain4j.model.chat.request.ChatRequest.builder()
                .messages(dev.langchain4j.data.message.UserMessage.from("What is 12+30?")).build());
        JsonNode m = http.post(CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"What is 12+30?\"}],"
                + "\"max_completion_tokens\":300,\"temperature\":0}").json().path("choices").path(0).path("message");
        assertThat(r.aiMessage().text()).isEqualTo(m.path("content").asText());
        assertThat(r.tokenUsage().outputTokenCount()).isPositive();

        dev.langchain4j.model.openai.OpenAiResponsesStreamingChatModel streaming = dev.langchain4j.model.openai.OpenAiResponsesStreamingChatModel
                .builder().baseUrl(server.baseUrl()).apiKey("unused").modelName("demo").temperature(0.0).maxOutputTokens(300).store(false).build();
        StringBuilder answer = new StringBuilder(), thinking = new StringBuilder();
        dev.langchain4j.model.chat.response.ChatResponse s = LangChain4jTest.stream(streaming, "What is 12+30?", answer, thinking);
        assertThat(answer.toString()).isEqualTo(m.path("content").asText());
        assertThat(s.aiMessage().text()).isEqualTo(answer.toString());
    }

    @ParameterizedTest(name = "{1}")
    @CsvSource(delimiter = '|', value = {
            "{\"input\":\"hi\",\"previous_response_id\":\"resp_1\"}|previous_response_id",
            "{\"input\":\"hi\",\"conversation\":\"conv_1\"}|conversation",
            "{\"input\":\"hi\",\"background\":true}|background",
            "{\"max_output_tokens\":5}|input",
            "{\"input\":[]}|input",
            "{\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_image\",\"image_url\":\"x\"}]}]}|input[0].content[0].type",
            "{\"input\":[{\"type\":\"item_reference\",\"id\":\"msg_1\"}]}|input[0].type",
            "{\"input\":[{\"type\":\"function_call_output\",\"call_id\":\"c\"}]}|input[0].output",
            "{\"input\":[{\"role\":\"robot\",\"content\":\"x\"}]}|input[0].role",
            "{\"input\":\"hi\",\"max_output_tokens\":-3}|max_output_tokens",
            "{\"input\":\"hi\",\"reasoning\":{\"effort\":\"extreme\"}}|reasoning.effort",
            "{\"input\":\"hi\",\"text\":{\"format\":{\"type\":\"xml\"}}}|text.format.type",
            "{\"input\":\"hi\",\"tools\":[{\"type\":\"web_search\"}]}|tools[0].type",
            "{\"input\":\"hi\",\"tool_choice\":{\"type\":\"file_search\"}}|tool_choice",
            "{\"input\":\"hi\",\"truncation\":\"sometimes\"}|truncation",
            "{\"input\":\"hi\",\"temperature\":7}|temperature",
    })
    void badRequestsAre400sNamingTheResponsesField(String body, String param) throws Exception {
        HttpTestClient.Reply r = http.post(RESPONSES, body);
        assertThat(r.status()).as(r.text()).isEqualTo(400);
        assertThat(r.error().path("param").asText()).isEqualTo(param);
        assertThat(r.error().path("message").asText()).doesNotContain("max_completion_tokens").doesNotContain("response_format");
    }
}
