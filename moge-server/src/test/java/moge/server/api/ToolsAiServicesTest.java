package moge.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.langchain4j.agent.tool.P;
import dev.langchain4j.agent.tool.Tool;
import dev.langchain4j.agent.tool.ToolExecutionRequest;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.ToolExecutionResultMessage;
import dev.langchain4j.model.chat.listener.ChatModelErrorContext;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.listener.ChatModelResponseContext;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.ToolChoice;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.service.AiServices;
import dev.langchain4j.service.tool.ToolExecution;
import moge.server.MogeServer;
import moge.server.ServerOptions;
import moge.server.TestEngines;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A LangChain4j AI service with a @Tool method, driven against the demo model. The tiny model never chooses a tool
 * itself, so the service's request transformer asks for a call (tool_choice "required") on the turn that has no
 * tool result yet, and leaves later turns as they are ("auto"); the server enforces the call, LangChain4j runs the
 * Java method with the arguments it parsed, and sends the result back in a follow-up request the server answers.
 */
class ToolsAiServicesTest {
    static MogeServer server;

    @BeforeAll
    static void start() {
        server = TestEngines.startDemo(new ServerOptions().parallel(2).context(2048).batchTokens(64).modelId("demo"));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    interface Assistant {
        String chat(String question);
    }

    /** The tool, recording how it was called. */
    public static class Calculator {
        final List<long[]> calls = new CopyOnWriteArrayList<>();

        @Tool("Multiplies two integers")
        public long multiply(@P(name = "x", value = "the first factor") long x, @P(name = "y", value = "the second factor") long y) {
            calls.add(new long[]{x, y});
            return x * y;
        }
    }

    /**
     * "required" while the conversation has no tool result: the first turn must call; later turns "auto" (set, not
     * left: a follow-up may start from the parameters of the request before it).
     */
    static ChatRequest callFirst(ChatRequest r) {
        boolean answered = r.messages().stream().anyMatch(m -> m instanceof ToolExecutionResultMessage);
        ToolChoice choice = answered ? ToolChoice.AUTO : ToolChoice.REQUIRED;
        return r.toBuilder().parameters(r.parameters().overrideWith(ChatRequestParameters.builder().toolChoice(choice).build())).build();
    }

    @Test
    void anAiServiceCallsItsJavaToolAndSendsTheResultBack() throws Exception {
        List<ChatModelResponseContext> exchanges = new CopyOnWriteArrayList<>();
        List<Throwable> errors = new CopyOnWriteArrayList<>();
        OpenAiChatModel model = OpenAiChatModel.builder().baseUrl(server.baseUrl()).apiKey("unused").modelName("demo")
                .temperature(0.0).maxTokens(200).timeout(Duration.ofSeconds(60)).maxRetries(0)
                .listeners(List.of(new ChatModelListener() {
                    @Override
                    public void onResponse(ChatModelResponseContext c) {
                        exchanges.add(c);
                    }

                    @Override
                    public void onError(ChatModelErrorContext c) {
                        errors.add(c.error());
                    }
                })).build();
        Calculator calculator = new Calculator();
        List<ToolExecution> executions = new CopyOnWriteArrayList<>();
        Assistant assistant = AiServices.builder(Assistant.class).chatModel(model).tools(calculator)
                .chatRequestTransformer(ToolsAiServicesTest::callFirst)
                .afterToolExecution(executions::add)
                // bounds the loop should the model go on calling (it may: later turns are "auto")
                .maxSequentialToolsInvocations(4)
                .build();

        String answer = assistant.chat("What is 6*7? /no_think");
        dev.langchain4j.agent.tool.ToolSpecification declared =
                dev.langchain4j.agent.tool.ToolSpecifications.toolSpecificationsFrom(Calculator.class).getFirst();
        assertThat(declared.parameters().properties().keySet()).containsExactlyInAnyOrder("x", "y");

        assertThat(errors).isEmpty();
        // the Java method ran, with the arguments the model wrote, which match its declared parameters
        assertThat(calculator.calls).isNotEmpty();
        assertThat(executions).hasSameSizeAs(calculator.calls);
        for (int i = 0; i < executions.size(); i++) {
            ToolExecution e = executions.get(i);
            assertThat(e.request().name()).isEqualTo("multiply");
            assertThat(e.hasFailed()).isFalse();
            JsonNode args = ToolsServerTest.M.readTree(e.request().arguments());
            assertThat(names(args)).as(args.toString()).isEqualTo(declared.parameters().properties().keySet());
            assertThat(args.path("x").isIntegralNumber() && args.path("y").isIntegralNumber()).as(args.toString()).isTrue();
            long[] call = calculator.calls.get(i);
            assertThat(call).containsExactly(args.path("x").asLong(), args.path("y").asLong());
            assertThat(e.result()).isEqualTo(Long.toString(call[0] * call[1]));
        }

        // every request was answered; the first was forced, the next carried the results back (one per call: the
        // model may call several times at once)
        assertThat(exchanges.size()).isGreaterThanOrEqualTo(2);
        ChatModelResponseContext first = exchanges.getFirst();
        assertThat(first.chatRequest().parameters().toolChoice()).isEqualTo(ToolChoice.REQUIRED);
        List<ToolExecutionRequest> asked = first.chatResponse().aiMessage().toolExecutionRequests();
        assertThat(asked).isNotEmpty();
        assertThat(executions.size()).isGreaterThanOrEqualTo(asked.size());
        ChatModelResponseContext followUp = exchanges.get(1);
        assertThat(followUp.chatRequest().parameters().toolChoice()).isEqualTo(ToolChoice.AUTO);
        List<ChatMessage> sent = followUp.chatRequest().messages();
        int results = sent.size() - asked.size();
        assertThat(((AiMessage) sent.get(results - 1)).toolExecutionRequests()).isEqualTo(asked);
        for (int i = 0; i < asked.size(); i++) {
            ToolExecutionResultMessage result = (ToolExecutionResultMessage) sent.get(results + i);
            assertThat(result.id()).isEqualTo(asked.get(i).id()).startsWith("call_");
            assertThat(result.text()).isEqualTo(executions.get(i).result());
        }
        // the last exchange is the service's answer: text, no further call
        AiMessage last = exchanges.getLast().chatResponse().aiMessage();
        assertThat(last.hasToolExecutionRequests()).isFalse();
        assertThat(answer).isEqualTo(last.text());
    }

    static Set<String> names(JsonNode o) {
        List<String> out = new ArrayList<>();
        for (Iterator<String> it = o.fieldNames(); it.hasNext(); ) out.add(it.next());
        return Set.copyOf(out);
    }
}
