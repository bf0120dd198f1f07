package moge.server.api;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.errors.NotFoundException;
import com.openai.errors.UnauthorizedException;
import com.openai.helpers.ChatCompletionAccumulator;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.chat.completions.ChatCompletionTokenLogprob;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import com.openai.models.models.Model;
import moge.chat.ChatMessage;
import moge.generate.GenerationResult;
import moge.sample.SamplerParams;
import moge.server.MogeServer;
import moge.server.ServerOptions;
import moge.server.TestEngines;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** The official OpenAI Java SDK against the server: what it sends must be understood, what we send must parse. */
class OpenAiSdkTest {
    static MogeServer server;
    static OpenAIClient client;
    static TestEngines.Reference ref;

    @BeforeAll
    static void start() {
        server = TestEngines.start(new ServerOptions().parallel(4).context(512).batchTokens(64).modelId("tiny"));
        client = OpenAIOkHttpClient.builder().baseUrl(server.baseUrl()).apiKey("unused").maxRetries(0).build();
        ref = new TestEngines.Reference();
    }

    @AfterAll
    static void stop() {
        client.close();
        server.close();
        ref.close();
    }

    static ChatCompletionCreateParams.Builder chat(String user, int max) {
        return ChatCompletionCreateParams.builder().model("tiny").addSystemMessage("You are terse.").addUserMessage(user)
                .maxCompletionTokens(max).temperature(0.0);
    }

    static GenerationResult alone(String user, int max) {
        return ref.ids(ref.chatPrompt(List.of(ChatMessage.system("You are terse."), ChatMessage.user(user))), max, List.of());
    }

    /** The answer part of a reference generation, as the server's reasoning parser splits it (a random model may emit think markers). */
    static String answer(GenerationResult r) {
        return moge.thinking.ReasoningParser.split(moge.thinking.ThinkProtocol.of(ref.lm.tokenizer), false, r.text()).content();
    }

    @Test
    void chatCompletion() {
        ChatCompletion c = client.chat().completions().create(chat("Name a colour.", 12).build());
        GenerationResult expect = alone("Name a colour.", 12);
        assertThat(c.choices()).hasSize(1);
        ChatCompletion.Choice choice = c.choices().getFirst();
        assertThat(choice.message().content()).contains(answer(expect));
        assertThat(choice.finishReason().asString()).isEqualTo(expect.finishReason());
        assertThat(c.model()).isEqualTo("tiny");
        assertThat(c.usage()).isPresent();
        assertThat(c.usage().get().promptTokens()).isEqualTo(expect.promptIds().length);
        assertThat(c.usage().get().completionTokens()).isEqualTo(expect.generatedIds().length);
        assertThat(c.usage().get().totalTokens()).isEqualTo(expect.promptIds().length + expect.generatedIds().length);
        assertThat(c._additionalProperties()).containsKey("timings");
    }

    @Test
    void streamingChatAccumulatesToTheSameAnswer() {
        ChatCompletionAccumulator acc = ChatCompletionAccumulator.create();
        List<ChatCompletionChunk> chunks = new ArrayList<>();
        ChatCompletionCreateParams p = chat("Count to five.", 16)
                .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build();
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(p)) {
            s.stream().forEach(ch -> {
                chunks.add(ch);
                acc.accumulate(ch);
            });
        }
        GenerationResult expect = alone("Count to five.", 16);
        ChatCompletion c = acc.chatCompletion();
        assertThat(c.choices().getFirst().message().content()).contains(answer(expect));
        assertThat(c.choices().getFirst().finishReason().asString()).isEqualTo(expect.finishReason());
        assertThat(chunks.size()).isGreaterThan(2);
        // with include_usage the last chunk has no choices and carries the usage
        ChatCompletionChunk last = chunks.getLast();
        assertThat(last.choices()).isEmpty();
        assertThat(last.usage().orElseThrow().completionTokens()).isEqualTo(expect.generatedIds().length);
    }

    /** Without include_usage no chunk carries usage (as with OpenAI); the finishing one carries timings. */
    @Test
    void streamingChatWithoutUsageOption() {
        ChatCompletionAccumulator acc = ChatCompletionAccumulator.create();
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(chat("Count to five.", 16).build())) {
            s.stream().forEach(acc::accumulate);
        }
        ChatCompletion c = acc.chatCompletion();
        assertThat(c.choices().getFirst().message().content()).contains(answer(alone("Count to five.", 16)));
        assertThat(c.usage()).isEmpty();
    }

    @Test
    void chatLogprobs() {
        ChatCompletion c = client.chat().completions().create(chat("Say hi.", 6).logprobs(true).topLogprobs(3).build());
        List<ChatCompletionTokenLogprob> lp = c.choices().getFirst().logprobs().orElseThrow().content().orElseThrow();
        assertThat(lp).hasSize((int) c.usage().orElseThrow().completionTokens());
        for (ChatCompletionTokenLogprob t : lp) {
            assertThat(t.logprob()).isLessThanOrEqualTo(0.0);
            assertThat(t.topLogprobs()).hasSize(3);
            // greedy: the chosen token is the most likely one
            assertThat(t.topLogprobs().getFirst().token()).isEqualTo(t.token());
            assertThat(t.topLogprobs().getFirst().logprob()).isCloseTo(t.logprob(), within(1e-9));
            assertThat(t.topLogprobs().get(1).logprob()).isLessThanOrEqualTo(t.logprob());
        }
    }

    @Test
    void completionWithLogprobs() {
        Completion c = client.completions().create(CompletionCreateParams.builder().model("tiny").prompt("Once upon a time")
                .maxTokens(7).temperature(0.0).logprobs(2).build());
        GenerationResult expect = ref.continuation(ref.textPrompt("Once upon a time"), 7, List.of());
        assertThat(c.choices().getFirst().text()).isEqualTo(expect.text());
        var lp = c.choices().getFirst().logprobs().orElseThrow();
        assertThat(lp.tokens().orElseThrow()).hasSize(expect.generatedIds().length);
        assertThat(lp.tokenLogprobs().orElseThrow()).hasSize(expect.generatedIds().length);
        var top = lp.topLogprobs().orElseThrow();
        assertThat(top).hasSize(expect.generatedIds().length);
        // two alternatives, unless both read the same (the legacy format keys them by text)
        assertThat(top).allSatisfy(t -> assertThat(t._additionalProperties().size()).isBetween(1, 2));
        assertThat(top.getFirst()._additionalProperties()).containsKey(lp.tokens().orElseThrow().getFirst());
        assertThat(c.usage().orElseThrow().promptTokens()).isEqualTo(expect.promptIds().length);
    }

    @Test
    void streamingCompletion() {
        StringBuilder text = new StringBuilder();
        CompletionCreateParams p = CompletionCreateParams.builder().model("tiny").prompt("The weather").maxTokens(9).temperature(0.0).build();
        try (StreamResponse<Completion> s = client.completions().createStreaming(p)) {
            s.stream().forEach(c -> c.choices().forEach(ch -> text.append(ch.text())));
        }
        assertThat(text.toString()).isEqualTo(ref.continuation(ref.textPrompt("The weather"), 9, List.of()).text());
    }

    /** The SDK's logitBias: the model's first choice banned, the answer is the reference's under the same ban. */
    @Test
    void chatWithLogitBias() {
        GenerationResult plain = alone("Name a colour.", 8);
        int first = plain.generatedIds()[0];
        int[] prompt = ref.chatPrompt(List.of(ChatMessage.system("You are terse."), ChatMessage.user("Name a colour.")));
        GenerationResult expect = ref.chat(prompt, 8, SamplerParams.greedy().withLogitBias(Map.of(first, SamplerParams.BAN)));
        assertThat(expect.generatedIds()).doesNotContain(first);
        ChatCompletion c = client.chat().completions().create(chat("Name a colour.", 8).logitBias(ChatCompletionCreateParams.LogitBias
                .builder().putAdditionalProperty(Integer.toString(first), JsonValue.from(-100)).build()).build());
        assertThat(c.usage().orElseThrow().completionTokens()).isEqualTo(expect.generatedIds().length);
        assertThat(c.choices().getFirst().message().content()).contains(answer(expect));
        assertThat(expect.text()).isNotEqualTo(plain.text());
        assertThatThrownBy(() -> client.chat().completions().create(chat("x", 4).logitBias(ChatCompletionCreateParams.LogitBias
                .builder().putAdditionalProperty("5", JsonValue.from(-101)).build()).build()))
                .isInstanceOf(BadRequestException.class)
                .satisfies(e -> assertThat(((BadRequestException) e).param()).hasValue("logit_bias"));
    }

    @Test
    void models() {
        List<Model> models = client.models().list().data();
        assertThat(models).extracting(Model::id).containsExactly("tiny");
        assertThat(client.models().retrieve("tiny").id()).isEqualTo("tiny");
        assertThatThrownBy(() -> client.models().retrieve("gpt-4o")).isInstanceOf(NotFoundException.class);
    }

    @Test
    void errorsComeBackAsSdkExceptions() {
        assertThatThrownBy(() -> client.chat().completions().create(chat("x", 4).model("gpt-4o").build()))
                .isInstanceOf(NotFoundException.class).hasMessageContaining("gpt-4o");
        assertThatThrownBy(() -> client.chat().completions().create(chat("x", 4).n(5).build())) // more than --parallel 4
                .isInstanceOf(BadRequestException.class)
                .satisfies(e -> assertThat(((BadRequestException) e).param()).hasValue("n"));
        assertThatThrownBy(() -> client.chat().completions().create(chat("x", 100_000).build()))
                .isInstanceOf(BadRequestException.class)
                .satisfies(e -> assertThat(((BadRequestException) e).code()).hasValue("context_length_exceeded"));
    }

    @Test
    void apiKeyIsRequiredWhenConfigured() {
        try (MogeServer keyed = TestEngines.start(new ServerOptions().apiKey("s3cret").context(256).parallel(1).batchTokens(32))) {
            OpenAIClient wrong = OpenAIOkHttpClient.builder().baseUrl(keyed.baseUrl()).apiKey("guess").maxRetries(0).build();
            OpenAIClient right = OpenAIOkHttpClient.builder().baseUrl(keyed.baseUrl()).apiKey("s3cret").maxRetries(0).build();
            try {
                assertThatThrownBy(() -> wrong.models().list()).isInstanceOf(UnauthorizedException.class);
                assertThat(right.models().list().data()).hasSize(1);
                ChatCompletion c = right.chat().completions().create(ChatCompletionCreateParams.builder().model("pangu-moe-tiny")
                        .addUserMessage("hi").maxCompletionTokens(3).temperature(0.0).build());
                assertThat(c.usage().orElseThrow().completionTokens()).isBetween(1L, 3L);
            } finally {
                wrong.close();
                right.close();
            }
        }
    }

    /** The SDK's json_schema response format (what LangChain4j's structured outputs send): the answer validates. */
    @Test
    void chatWithJsonSchemaResponseFormat() throws Exception {
        String schema = "{\"type\":\"object\",\"properties\":{\"colour\":{\"type\":\"string\",\"maxLength\":10},"
                + "\"count\":{\"type\":\"integer\"}},\"required\":[\"colour\",\"count\"],\"additionalProperties\":false}";
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper()
                .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
        com.fasterxml.jackson.databind.JsonNode schemaJson = json.readTree(schema);
        com.openai.models.ResponseFormatJsonSchema.JsonSchema.Schema.Builder sb = com.openai.models.ResponseFormatJsonSchema.JsonSchema.Schema.builder();
        schemaJson.fields().forEachRemaining(e -> sb.putAdditionalProperty(e.getKey(), JsonValue.fromJsonNode(e.getValue())));
        ChatCompletionCreateParams params = chat("Name a colour and a number, as JSON.", 300)
                .responseFormat(com.openai.models.ResponseFormatJsonSchema.builder().jsonSchema(com.openai.models.ResponseFormatJsonSchema.JsonSchema
                        .builder().name("colour").strict(true).schema(sb.build()).build()).build())
                // a random model may open a think block and never close it: a budget of 0 closes it at once
                .putAdditionalBodyProperty("thinking_budget", JsonValue.from(0)).build();
        ChatCompletion c = client.chat().completions().create(params);
        String content = c.choices().getFirst().message().content().orElseThrow();
        com.fasterxml.jackson.databind.JsonNode v = json.readTree(content);
        assertThat(new moge.constrain.SubsetValidator(schemaJson).valid(v)).as(content).isTrue();
        assertThat(c.choices().getFirst().finishReason().asString()).isEqualTo("stop");

        ChatCompletion o = client.chat().completions().create(chat("Say something.", 300)
                .responseFormat(com.openai.models.ResponseFormatJsonObject.builder().build())
                .putAdditionalBodyProperty("thinking_budget", JsonValue.from(0)).build());
        assertThat(json.readTree(o.choices().getFirst().message().content().orElseThrow()).isObject()).isTrue();

        com.openai.models.ResponseFormatJsonSchema.JsonSchema.Schema bad = com.openai.models.ResponseFormatJsonSchema.JsonSchema.Schema.builder()
                .putAdditionalProperty("type", JsonValue.from("string")).putAdditionalProperty("pattern", JsonValue.from("^a+$")).build();
        assertThatThrownBy(() -> client.chat().completions().create(chat("x", 4).responseFormat(com.openai.models.ResponseFormatJsonSchema.builder()
                .jsonSchema(com.openai.models.ResponseFormatJsonSchema.JsonSchema.builder().name("a").schema(bad).build()).build()).build()))
                .isInstanceOf(BadRequestException.class)
                .satisfies(e -> assertThat(((BadRequestException) e).param()).hasValue("response_format"));
    }
}
