package moge.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.helpers.ChatCompletionAccumulator;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionChoice;
import com.openai.models.completions.CompletionCreateParams;
import moge.generate.GenerationResult;
import moge.server.MogeServer;
import moge.server.ServerOptions;
import moge.server.TestEngines;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code n} > 1: several choices of one prompt, each a sequence of its own, through the official SDK and raw HTTP. */
class ChoicesServerTest {
    static MogeServer server;
    static OpenAIClient client;
    static HttpTestClient http;
    static TestEngines.Reference ref;

    @BeforeAll
    static void start() {
        server = TestEngines.start(new ServerOptions().parallel(4).context(512).batchTokens(64).modelId("tiny"));
        client = OpenAIOkHttpClient.builder().baseUrl(server.baseUrl()).apiKey("unused").maxRetries(0).build();
        http = new HttpTestClient(server.port());
        ref = new TestEngines.Reference();
    }

    @AfterAll
    static void stop() {
        client.close();
        server.close();
        ref.close();
    }

    static ChatCompletionCreateParams.Builder chat(String user, int max, double temperature) {
        return ChatCompletionCreateParams.builder().model("tiny").addUserMessage(user).maxCompletionTokens(max).temperature(temperature);
    }

    static List<String> contents(ChatCompletion c) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < c.choices().size(); i++) {
            ChatCompletion.Choice ch = c.choices().get(i);
            assertThat(ch.index()).isEqualTo(i);
            out.add(ch.message().content().orElse("") + "|" + ch.message()._additionalProperties().get("reasoning_content"));
        }
        return out;
    }

    /** Greedy choices are the same answer n times; usage counts the prompt once and every choice's tokens. */
    @Test
    void greedyChoicesAreIdenticalAndUsageCountsThePromptOnce() {
        ChatCompletion one = client.chat().completions().create(chat("Name three birds.", 10, 0).build());
        ChatCompletion three = client.chat().completions().create(chat("Name three birds.", 10, 0).n(3).build());
        assertThat(three.choices()).hasSize(3);
        assertThat(contents(three)).containsOnly(contents(one).getFirst());
        long perChoice = one.usage().orElseThrow().completionTokens();
        var u = three.usage().orElseThrow();
        assertThat(u.promptTokens()).isEqualTo(one.usage().orElseThrow().promptTokens());
        assertThat(u.completionTokens()).isEqualTo(3 * perChoice);
        assertThat(u.totalTokens()).isEqualTo(u.promptTokens() + 3 * perChoice);
        for (ChatCompletion.Choice c : three.choices()) assertThat(c.finishReason()).isEqualTo(one.choices().getFirst().finishReason());
    }

    /**
     * With a seed S, choice i samples with seed S + i: the request is reproducible, its choices differ, and choice i is
     * what a request of one choice with seed S + i gives.
     */
    @Test
    void seededChoicesAreReproducibleAndDiffer() {
        ChatCompletion a = client.chat().completions().create(chat("Tell a story.", 12, 1.0).n(3).seed(42).build());
        ChatCompletion b = client.chat().completions().create(chat("Tell a story.", 12, 1.0).n(3).seed(42).build());
        assertThat(contents(a)).isEqualTo(contents(b));
        assertThat(new HashSet<>(contents(a))).hasSize(3);
        for (int i = 0; i < 3; i++) {
            ChatCompletion alone = client.chat().completions().create(chat("Tell a story.", 12, 1.0).seed(42 + i).build());
            assertThat(contents(alone).getFirst()).as("choice %d", i).isEqualTo(contents(a).get(i));
        }
    }

    /**
     * The SDK's accumulator rebuilds every choice of a stream; each ends with its own finish_reason and the usage comes
     * once, last. The streamed choices are the non-streamed ones.
     */
    @Test
    void streamedChoicesAccumulateAndUsageComesOnce() {
        ChatCompletionAccumulator acc = ChatCompletionAccumulator.create();
        List<ChatCompletionChunk> chunks = new ArrayList<>();
        ChatCompletionCreateParams p = chat("Count to five.", 14, 1.0).n(2).seed(7)
                .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build();
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(p)) {
            s.stream().forEach(ch -> {
                chunks.add(ch);
                acc.accumulate(ch);
            });
        }
        ChatCompletion streamed = acc.chatCompletion();
        ChatCompletion whole = client.chat().completions().create(chat("Count to five.", 14, 1.0).n(2).seed(7).build());
        assertThat(streamed.choices()).hasSize(2);
        for (int i = 0; i < 2; i++) {
            assertThat(streamed.choices().get(i).message().content()).isEqualTo(whole.choices().get(i).message().content());
            assertThat(streamed.choices().get(i).finishReason()).isEqualTo(whole.choices().get(i).finishReason());
        }
        Map<Long, Integer> finishes = new TreeMap<>();
        for (ChatCompletionChunk c : chunks) {
            for (ChatCompletionChunk.Choice ch : c.choices()) if (ch.finishReason().isPresent()) finishes.merge(ch.index(), 1, Integer::sum);
        }
        assertThat(finishes).isEqualTo(Map.of(0L, 1, 1L, 1));
        assertThat(chunks.stream().filter(c -> c.usage().isPresent()).count()).isEqualTo(1);
        assertThat(chunks.getLast().choices()).isEmpty();
        assertThat(chunks.getLast().usage().orElseThrow().completionTokens()).isEqualTo(whole.usage().orElseThrow().completionTokens());
        assertThat(chunks.getLast().usage().orElseThrow().promptTokens()).isEqualTo(whole.usage().orElseThrow().promptTokens());
    }

    /**
     * A text completion of two choices with logprobs: each choice has its own, one per generated token; greedy choices
     * are the reference's continuation.
     */
    @Test
    void completionChoicesCarryTheirOwnLogprobs() {
        Completion c = client.completions().create(CompletionCreateParams.builder().model("tiny").prompt("Once upon a time")
                .maxTokens(6).temperature(0.0).logprobs(2).n(2).build());
        GenerationResult expect = ref.continuation(ref.textPrompt("Once upon a time"), 6, List.of());
        assertThat(c.choices()).hasSize(2);
        for (int i = 0; i < 2; i++) {
            CompletionChoice ch = c.choices().get(i);
            assertThat(ch.index()).isEqualTo(i);
            assertThat(ch.text()).isEqualTo(expect.text());
            assertThat(ch.logprobs().orElseThrow().tokens().orElseThrow()).hasSize(expect.generatedIds().length);
        }
        assertThat(c.usage().orElseThrow().promptTokens()).isEqualTo(expect.promptIds().length);
        assertThat(c.usage().orElseThrow().completionTokens()).isEqualTo(2L * expect.generatedIds().length);
    }

    /**
     * Raw stream of three choices on a fresh prompt of several blocks: every chunk names one choice; the finishing
     * chunks' timings show that choices 1 and 2 took the prompt's whole blocks from the cache, which choice 0 computed.
     */
    @Test
    void streamedChoicesShareThePromptsBlocks() throws Exception {
        String prompt = "A fresh prompt, long enough to fill several blocks of sixteen tokens each: " + "lorem ipsum dolor ".repeat(12);
        int promptTokens = ref.textPrompt(prompt).length;
        HttpTestClient.Events ev = http.stream("/v1/completions", "{\"prompt\":" + HttpTestClient.JSON.writeValueAsString(prompt)
                + ",\"max_tokens\":5,\"temperature\":0,\"n\":3,\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
        assertThat(ev.status()).isEqualTo(200);
        assertThat(ev.done()).isTrue();
        Map<Integer, StringBuilder> text = new TreeMap<>();
        Map<Integer, JsonNode> timings = new TreeMap<>();
        int usage = 0;
        for (JsonNode d : ev.data()) {
            if (d.has("usage")) usage++;
            assertThat(d.path("choices").size()).isLessThanOrEqualTo(1);
            for (JsonNode c : d.path("choices")) {
                int i = c.path("index").asInt();
                text.computeIfAbsent(i, k -> new StringBuilder()).append(c.path("text").asText());
                if (c.hasNonNull("finish_reason")) assertThat(timings.put(i, d.path("timings"))).isNull();
            }
        }
        assertThat(usage).isEqualTo(1);
        assertThat(ev.data().getLast().path("usage").path("prompt_tokens").asInt()).isEqualTo(promptTokens);
        assertThat(text.keySet()).containsExactly(0, 1, 2);
        assertThat(Set.copyOf(text.values().stream().map(StringBuilder::toString).toList())).hasSize(1);
        int wholeBlocks = (promptTokens - 1) / 16 * 16;
        assertThat(wholeBlocks).isGreaterThanOrEqualTo(48);
        assertThat(timings.get(0).path("cache_n").asInt()).isLessThan(16);
        assertThat(timings.get(1).path("cache_n").asInt()).isGreaterThanOrEqualTo(wholeBlocks);
        assertThat(timings.get(2).path("cache_n").asInt()).isGreaterThanOrEqualTo(wholeBlocks);
    }

    /** A client that leaves a stream of several choices stops all of them: far fewer tokens than one choice's run. */
    @Test
    void leavingCancelsEveryChoice() throws Exception {
        int max = 480;
        String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"go on\"}],\"max_tokens\":" + max
                + ",\"ignore_eos\":true,\"n\":3,\"stream\":true}";
        double before = generated();
        try (Socket s = http.socket()) {
            HttpTestClient.write(s, HttpTestClient.requestHead("/v1/chat/completions", body.getBytes(StandardCharsets.UTF_8).length) + body);
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            assertThat(in.readLine()).contains("200");
            String line;
            int data = 0;
            while (data < 6 && (line = in.readLine()) != null) if (line.startsWith("data: ")) data++;
            assertThat(server.scheduler().running()).isEqualTo(3);
        }
        for (int i = 0; i < 400 && (server.scheduler().running() > 0 || server.scheduler().queued() > 0); i++) Thread.sleep(10);
        assertThat(server.scheduler().running()).isZero();
        assertThat(server.scheduler().queued()).isZero();
        // one choice left running would have generated all its tokens
        assertThat(generated() - before).isLessThan(max);
    }

    static double generated() {
        return server.metrics().scrape().lines().filter(l -> l.startsWith("moge_generation_tokens_total"))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
    }
}
