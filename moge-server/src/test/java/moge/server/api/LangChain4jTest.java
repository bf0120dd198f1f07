package moge.server.api;

import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.PartialThinking;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import moge.chat.ChatMessage;
import moge.generate.GenerationResult;
import moge.server.MogeServer;
import moge.server.ServerOptions;
import moge.server.TestEngines;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** LangChain4j's OpenAI chat models pointed at the server. */
class LangChain4jTest {
    static MogeServer server;
    static TestEngines.Reference ref;

    @BeforeAll
    static void start() {
        server = TestEngines.start(new ServerOptions().parallel(2).context(256).batchTokens(32).modelId("tiny"));
        ref = new TestEngines.Reference();
    }

    @AfterAll
    static void stop() {
        server.close();
        ref.close();
    }

    @Test
    void chatModel() {
        OpenAiChatModel model = OpenAiChatModel.builder().baseUrl(server.baseUrl()).apiKey("unused").modelName("tiny")
                .temperature(0.0).maxTokens(10).timeout(Duration.ofSeconds(60)).maxRetries(0).build();
        ChatResponse r = model.chat(SystemMessage.from("Be brief."), UserMessage.from("What is MoGE?"));
        GenerationResult expect = ref.ids(ref.chatPrompt(List.of(ChatMessage.system("Be brief."), ChatMessage.user("What is MoGE?"))),
                10, List.of());
        assertThat(r.aiMessage().text()).isEqualTo(expect.text());
        assertThat(r.tokenUsage().inputTokenCount()).isEqualTo(expect.promptIds().length);
        assertThat(r.tokenUsage().outputTokenCount()).isEqualTo(expect.generatedIds().length);
        assertThat(r.modelName()).isEqualTo("tiny");
    }

    @Test
    void streamingChatModel() throws Exception {
        OpenAiStreamingChatModel model = OpenAiStreamingChatModel.builder().baseUrl(server.baseUrl()).apiKey("unused").modelName("tiny")
                .temperature(0.0).maxTokens(12).timeout(Duration.ofSeconds(60)).build();
        StringBuilder partial = new StringBuilder();
        ChatResponse r = stream(model, "Tell me a story.", partial, new StringBuilder());
        String expect = ref.ids(ref.chatPrompt(List.of(ChatMessage.user("Tell me a story."))), 12, List.of()).text();
        assertThat(partial.toString()).isEqualTo(expect);
        assertThat(r.aiMessage().text()).isEqualTo(expect);
        assertThat(r.tokenUsage()).isNotNull();
        assertThat(r.tokenUsage().outputTokenCount()).isPositive();
    }

    /** One streamed turn: the partial answers and thinking (given with returnThinking) appended as they come. */
    static ChatResponse stream(dev.langchain4j.model.chat.StreamingChatModel model, String user, StringBuilder answer, StringBuilder thinking) throws Exception {
        return stream(model, dev.langchain4j.model.chat.request.ChatRequest.builder().messages(UserMessage.from(user)).build(), answer, thinking);
    }

    /** One streamed request, as {@link #stream(dev.langchain4j.model.chat.StreamingChatModel, String, StringBuilder, StringBuilder)}. */
    static ChatResponse stream(dev.langchain4j.model.chat.StreamingChatModel model, dev.langchain4j.model.chat.request.ChatRequest request, StringBuilder answer,
                               StringBuilder thinking) throws Exception {
        return stream(model, request, answer, thinking, p -> {
        });
    }

    /** One streamed request, as above; {@code toolCalls} is given each partial tool call. */
    static ChatResponse stream(dev.langchain4j.model.chat.StreamingChatModel model, dev.langchain4j.model.chat.request.ChatRequest request,
                               StringBuilder answer, StringBuilder thinking, java.util.function.Consumer<dev.langchain4j.model.chat.response.PartialToolCall> toolCalls)
            throws Exception {
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        model.chat(request, new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String s) {
                answer.append(s);
            }

            @Override
            public void onPartialToolCall(dev.langchain4j.model.chat.response.PartialToolCall p) {
                toolCalls.accept(p);
            }

            @Override
            public void onPartialThinking(PartialThinking t) {
                thinking.append(t.text());
            }

            @Override
            public void onCompleteResponse(ChatResponse r) {
                done.complete(r);
            }

            @Override
            public void onError(Throwable t) {
                done.completeExceptionally(t);
            }
        });
        return done.get(60, TimeUnit.SECONDS);
    }
}
