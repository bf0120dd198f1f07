package moge.server.api;

import com.fasterxml.jackson.annotation.JsonClassDescription;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.helpers.ChatCompletionAccumulator;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionMessageFunctionToolCall;
import com.openai.models.chat.completions.ChatCompletionNamedToolChoice;
import com.openai.models.chat.completions.ChatCompletionToolChoiceOption;
import com.openai.models.chat.completions.ChatCompletionToolMessageParam;
import dev.langchain4j.agent.tool.P;
import dev.langchain4j.agent.tool.Tool;
import dev.langchain4j.agent.tool.ToolExecutionRequest;
import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.agent.tool.ToolSpecifications;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ToolExecutionResultMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ToolChoice;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import moge.server.MogeServer;
import moge.server.ServerOptions;
import moge.server.TestEngines;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Tool calling as real clients do it, against the demo model (which never calls a tool unless forced): the official
 * OpenAI Java SDK with a tool made from a class (its own schema generator), and LangChain4j with @Tool methods
 * turned into ToolSpecifications, forced so that the model must call; then the tool's result sent back.
 */
class ToolsClientsTest {
    static final ObjectMapper M = new ObjectMapper();
    static MogeServer server;
    static OpenAIClient client;

    @BeforeAll
    static void start() {
        server = TestEngines.startDemo(new ServerOptions().parallel(2).context(2048).batchTokens(64).modelId("demo"));
        client = OpenAIOkHttpClient.builder().baseUrl(server.baseUrl()).apiKey("unused").maxRetries(0).build();
    }

    @AfterAll
    static void stop() {
        client.close();
        server.close();
    }

    @JsonClassDescription("Adds two integers")
    public static class Add {
        @JsonPropertyDescription("the first addend")
        public long a;
        @JsonPropertyDescription("the second addend")
        public long b;
    }

    public enum City { PARIS, OSLO, LIMA }

    /** A city from a list: a free string would let the tiny model, which has no idea of cities, write on forever. */
    @JsonClassDescription("The weather in a city now")
    public static class Weather {
        public City city;
    }

    static ChatCompletionCreateParams.Builder sdk(String user) {
        return ChatCompletionCreateParams.builder().model("demo").addUserMessage(user).maxCompletionTokens(300).temperature(0.0)
                .addTool(Add.class).addTool(Weather.class);
    }

    @Test
    void sdkRequiredCallParsesIntoTheToolsClassAndTheRoundTripIsAnswered() {
        ChatCompletion c = client.chat().completions().create(sdk("What is 12+30? /no_think")
                .toolChoice(ChatCompletionToolChoiceOption.Auto.REQUIRED).build());
        ChatCompletion.Choice choice = c.choices().getFirst();
        assertThat(choice.finishReason()).as(choice.toString()).isEqualTo(ChatCompletion.Choice.FinishReason.TOOL_CALLS);
        assertThat(choice.message().content()).isEmpty();
        List<com.openai.models.chat.completions.ChatCompletionMessageToolCall> calls = choice.message().toolCalls().orElseThrow();
        assertThat(calls).isNotEmpty();
        ChatCompletionMessageFunctionToolCall call = calls.getFirst().asFunction();
        assertThat(call.id()).startsWith("call_");
        assertThat(call.function().name()).isIn("Add", "Weather");
        // the SDK parses the arguments into the class it made the tool from
        Class<?> type = call.function().name().equals("Add") ? Add.class : Weather.class;
        Object args = call.function().arguments(type);
        assertThat(args).isNotNull();

        // the conversation with the call and its result goes back, and is answered
        ChatCompletionCreateParams.Builder next = sdk("What is 12+30? /no_think").addMessage(choice.message());
        for (var tc : calls) next.addMessage(ChatCompletionToolMessageParam.builder().toolCallId(tc.asFunction().id()).content("42").build());
        ChatCompletion answer = client.chat().completions().create(next.maxCompletionTokens(30).build());
        assertThat(answer.choices().getFirst().message().content()).isPresent();
    }

    @Test
    void sdkNamedChoiceStreamedAccumulatesToOneCall() throws Exception {
        ChatCompletionCreateParams p = sdk("What is 5+7? /no_think").toolChoice(ChatCompletionNamedToolChoice.builder()
                .function(ChatCompletionNamedToolChoice.Function.builder().name("Add").build()).build()).build();
        ChatCompletionAccumulator acc = ChatCompletionAccumulator.create();
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(p)) {
            s.stream().forEach(acc::accumulate);
        }
        ChatCompletion c = acc.chatCompletion();
        ChatCompletion.Choice choice = c.choices().getFirst();
        assertThat(choice.finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.TOOL_CALLS);
        List<com.openai.models.chat.completions.ChatCompletionMessageToolCall> calls = choice.message().toolCalls().orElseThrow();
        assertThat(calls).hasSize(1);
        ChatCompletionMessageFunctionToolCall call = calls.getFirst().asFunction();
        assertThat(call.function().name()).isEqualTo("Add");
        JsonNode args = M.readTree(call.function().arguments());
        assertThat(args.path("a").isIntegralNumber()).as(args.toString()).isTrue();
        assertThat(args.path("b").isIntegralNumber()).as(args.toString()).isTrue();
        assertThat(call.function().arguments(Add.class)).isNotNull();
    }

    /** LangChain4j's @Tool methods; what the model asks for is run here, as an AI service would run it. */
    public static class Calculator {
        @Tool("Multiplies two integers")
        public long multiply(@P(name = "x", value = "the first factor") long x, @P(name = "y", value = "the second factor") long y) {
            return x * y;
        }

        @Tool("Says whether a number is prime")
        public boolean isPrime(@P(name = "n", value = "the number") int n) {
            if (n < 2) return false;
            for (int d = 2; (long) d * d <= n; d++) if (n % d == 0) return false;
            return true;
        }
    }

    static String execute(ToolExecutionRequest r) throws Exception {
        JsonNode args = M.readTree(r.arguments());
        Calculator c = new Calculator();
        return switch (r.name()) {
            case "multiply" -> Long.toString(c.multiply(args.path("x").asLong(), args.path("y").asLong()));
            case "isPrime" -> Boolean.toString(c.isPrime(args.path("n").asInt()));
            default -> throw new AssertionError("unknown tool " + r.name());
        };
    }

    static ChatRequest forced(List<dev.langchain4j.data.message.ChatMessage> messages, List<ToolSpecification> tools) {
        return ChatRequest.builder().messages(messages).toolSpecifications(tools).toolChoice(ToolChoice.REQUIRED).build();
    }

    @Test
    void langChain4jForcedToolCallRunsAndItsResultIsAnswered() throws Exception {
        OpenAiChatModel model = OpenAiChatModel.builder().baseUrl(server.baseUrl()).apiKey("unused").modelName("demo")
                .temperature(0.0).maxTokens(300).timeout(Duration.ofSeconds(60)).maxRetries(0).build();
        List<ToolSpecification> tools = ToolSpecifications.toolSpecificationsFrom(Calculator.class);
        UserMessage user = UserMessage.from("What is 6*7? /no_think");
        ChatResponse r = model.chat(forced(List.of(user), tools));
        AiMessage ai = r.aiMessage();
        assertThat(ai.hasToolExecutionRequests()).as(ai.toString()).isTrue();
        assertThat(r.finishReason()).isEqualTo(dev.langchain4j.model.output.FinishReason.TOOL_EXECUTION);
        ToolExecutionRequest call = ai.toolExecutionRequests().getFirst();
        assertThat(call.id()).startsWith("call_");
        assertThat(call.name()).isIn("multiply", "isPrime");
        String result = execute(call);
        ChatResponse answer = model.chat(ChatRequest.builder().messages(user, ai, ToolExecutionResultMessage.from(call, result))
                .toolSpecifications(tools).build());
        assertThat(answer.aiMessage().text()).isNotNull();
        assertThat(answer.aiMessage().hasToolExecutionRequests()).isFalse();
    }

    @Test
    void langChain4jStreamingForcedToolCall() throws Exception {
        OpenAiStreamingChatModel model = OpenAiStreamingChatModel.builder().baseUrl(server.baseUrl()).apiKey("unused").modelName("demo")
                .temperature(0.0).maxTokens(300).timeout(Duration.ofSeconds(60)).build();
        List<ToolSpecification> tools = ToolSpecifications.toolSpecificationsFrom(Calculator.class);
        ChatResponse r = LangChain4jTest.stream(model, forced(List.of(UserMessage.from("Is 97 prime? /no_think")), tools),
                new StringBuilder(), new StringBuilder());
        assertThat(r.aiMessage().hasToolExecutionRequests()).as(r.aiMessage().toString()).isTrue();
        for (ToolExecutionRequest call : r.aiMessage().toolExecutionRequests()) {
            assertThat(call.name()).isIn("multiply", "isPrime");
            assertThat(execute(call)).isNotEmpty();
        }
    }
}
