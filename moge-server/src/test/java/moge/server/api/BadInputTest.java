package moge.server.api;

import moge.server.MogeServer;
import moge.server.ServerOptions;
import moge.server.TestEngines;
import moge.server.sched.Scheduler;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/** Malformed, hostile and misbehaving requests: the right 4xx in the OpenAI shape, and the server keeps serving. */
class BadInputTest {
    static final String CHAT = "/v1/chat/completions", TEXT = "/v1/completions";
    static MogeServer server;
    static HttpTestClient client;

    @BeforeAll
    static void start() {
        server = TestEngines.start(new ServerOptions().parallel(2).context(4096).batchTokens(64).modelId("tiny")
                .idleTimeout(Duration.ofSeconds(2)));
        client = new HttpTestClient(server.port());
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    /** After every misbehaviour: a normal request still works and nothing is left running or holding blocks. */
    @AfterEach
    void stillServing() throws Exception {
        HttpTestClient.Reply r = client.post(CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":3,\"temperature\":0}");
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        Scheduler s = server.scheduler();
        for (int i = 0; i < 300 && (s.running() > 0 || s.kvBlocksUsed() > 0); i++) Thread.sleep(10);
        assertThat(s.running()).isZero();
        assertThat(s.kvBlocksUsed()).isZero();
    }

    static void assertError(HttpTestClient.Reply r, int status, String param, String code) {
        assertThat(r.status()).as(r.text()).isEqualTo(status);
        assertThat(r.error().path("message").asText()).isNotBlank().doesNotContain("Exception").doesNotContain("\tat ");
        assertThat(r.error().has("type")).isTrue();
        if (param != null) assertThat(r.error().path("param").asText()).isEqualTo(param);
        else assertThat(r.error().path("param").isNull()).isTrue();
        if (code != null) assertThat(r.error().path("code").asText()).isEqualTo(code);
    }

    @Test
    void malformedJson() throws Exception {
        assertError(client.post(CHAT, "{\"messages\":"), 400, null, "invalid_json");
        assertError(client.post(CHAT, "{\"messages\":[]} trailing"), 400, null, "invalid_json");
        assertError(client.post(CHAT, "[1,2]"), 400, null, "invalid_json");
        assertError(client.post(CHAT, ""), 400, null, "invalid_json");
        assertError(client.post(CHAT, "\"just a string\""), 400, null, "invalid_json");
        assertError(client.post(CHAT, "[".repeat(5000)), 400, null, "invalid_json");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "messages is a string          | {\"messages\":\"hi\"}                                              | messages",
            "messages missing              | {\"max_tokens\":3}                                                | messages",
            "messages empty                | {\"messages\":[]}                                                 | messages",
            "message not an object         | {\"messages\":[\"hi\"]}                                           | messages[0]",
            "role missing                  | {\"messages\":[{\"content\":\"hi\"}]}                             | messages[0].role",
            "role unknown                  | {\"messages\":[{\"role\":\"wizard\",\"content\":\"hi\"}]}         | messages[0].role",
            "content a number              | {\"messages\":[{\"role\":\"user\",\"content\":5}]}                | messages[0].content",
            "user content missing          | {\"messages\":[{\"role\":\"user\"}]}                             | messages[0].content",
            "system content null           | {\"messages\":[{\"role\":\"system\",\"content\":null},{\"role\":\"user\",\"content\":\"hi\"}]} | messages[0].content",
            "developer content missing     | {\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"developer\"}]} | messages[1].content",
            "content part not text         | {\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]} | messages[0].content[0].type",
            "temperature a string          | {#,\"temperature\":\"hot\"}                                       | temperature",
            "temperature too high          | {#,\"temperature\":3}                                             | temperature",
            "top_p above one               | {#,\"top_p\":1.5}                                                 | top_p",
            "max_tokens a string           | {#,\"max_tokens\":\"5\"}                                          | max_tokens",
            "max_tokens negative           | {#,\"max_tokens\":-1}                                             | max_tokens",
            "max_tokens zero               | {#,\"max_tokens\":0}                                              | max_tokens",
            "max_tokens fractional         | {#,\"max_tokens\":2.5}                                            | max_tokens",
            "max_tokens beyond int         | {#,\"max_tokens\":1000000000000}                                  | max_tokens",
            "max_completion_tokens bad     | {#,\"max_completion_tokens\":true}                                | max_completion_tokens",
            "stream not boolean            | {#,\"stream\":\"yes\"}                                            | stream",
            "stop a number                 | {#,\"stop\":5}                                                    | stop",
            "stop with a number            | {#,\"stop\":[\"a\",5]}                                            | stop",
            "logprobs an integer in chat   | {#,\"logprobs\":3}                                                | logprobs",
            "top_logprobs too many         | {#,\"logprobs\":true,\"top_logprobs\":50}                         | top_logprobs",
            "top_logprobs without logprobs | {#,\"top_logprobs\":2}                                            | top_logprobs",
            "n zero                        | {#,\"n\":0}                                                       | n",
            "n above the server parallel  | {#,\"n\":3}                                                       | n",
            "n above any server cap        | {#,\"n\":129}                                                     | n",
            "n with a cascade              | {#,\"n\":2,\"thinking\":{\"mode\":\"cascade\"}}                 | n",
            "seed a string                 | {#,\"seed\":\"x\"}                                                | seed",
            "presence_penalty out of range | {#,\"presence_penalty\":5}                                        | presence_penalty",
            "include_usage not boolean     | {#,\"stream\":true,\"stream_options\":{\"include_usage\":1}}      | stream_options.include_usage",
            "stream_options not an object  | {#,\"stream_options\":true}                                       | stream_options",
            "model not a string            | {#,\"model\":7}                                                   | model",
            "template kwargs not an object | {#,\"chat_template_kwargs\":[1]}                                  | chat_template_kwargs",
            "logit_bias a number           | {#,\"logit_bias\":5}                                            | logit_bias",
            "logit_bias key not an id      | {#,\"logit_bias\":{\"hello\":1}}                               | logit_bias",
            "logit_bias key negative       | {#,\"logit_bias\":{\"-1\":1}}                                  | logit_bias",
            "logit_bias key fractional     | {#,\"logit_bias\":{\"1.5\":1}}                                 | logit_bias",
            "logit_bias value too large    | {#,\"logit_bias\":{\"5\":100.5}}                               | logit_bias",
            "logit_bias value a string     | {#,\"logit_bias\":{\"5\":\"-100\"}}                            | logit_bias",
            "logit_bias value true         | {#,\"logit_bias\":{\"5\":true}}                                | logit_bias",
            "logit_bias id beyond vocab    | {#,\"logit_bias\":{\"1280\":-100}}                             | logit_bias",
    })
    void wrongChatFieldsNameTheField(String what, String body, String param) throws Exception {
        String b = body.replace("#", "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]");
        assertError(client.post(CHAT, b), 400, param, null);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "prompt missing          | {\"max_tokens\":3}                 | prompt",
            "prompt a number         | {\"prompt\":5}                     | prompt",
            "prompt empty            | {\"prompt\":\"\"}                  | prompt",
            "prompt empty array      | {\"prompt\":[]}                    | prompt",
            "several prompts         | {\"prompt\":[\"a\",\"b\"]}         | prompt",
            "negative token id       | {\"prompt\":[1,-2]}                | prompt",
            "token id not an integer | {\"prompt\":[1,\"x\"]}             | prompt",
            "token id beyond vocab   | {\"prompt\":[1,999999]}            | prompt",
            "logprobs a boolean      | {\"prompt\":\"a\",\"logprobs\":true} | logprobs",
            "echo not a boolean      | {\"prompt\":\"a\",\"echo\":\"yes\"}  | echo",
            "max_tokens 0 sans echo  | {\"prompt\":\"a\",\"max_tokens\":0}  | max_tokens",
            "best_of                 | {\"prompt\":\"a\",\"best_of\":3}    | best_of",
            "best_of other than n    | {\"prompt\":\"a\",\"n\":2,\"best_of\":3} | best_of",
            "logit_bias pair short   | {\"prompt\":\"a\",\"logit_bias\":[[5]]}          | logit_bias",
            "logit_bias text empty   | {\"prompt\":\"a\",\"logit_bias\":[[\"\",1]]}     | logit_bias",
            "logit_bias text twice   | {\"prompt\":\"a\",\"logit_bias\":[[\"hi\",1],[\"hi\",2]]} | logit_bias",
            "logit_bias id twice     | {\"prompt\":\"a\",\"logit_bias\":[[5,1],[5,2]]}  | logit_bias",
            "logit_bias below -100   | {\"prompt\":\"a\",\"logit_bias\":[[5,-101]]}     | logit_bias",
            "logit_bias beyond vocab | {\"prompt\":\"a\",\"logit_bias\":[[99999,1]]}    | logit_bias",
    })
    void wrongCompletionFieldsNameTheField(String what, String body, String param) throws Exception {
        assertError(client.post(TEXT, body), 400, param, null);
    }

    @Test
    void unknownFieldsAreIgnored() throws Exception {
        HttpTestClient.Reply r = client.post(CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":2,"
                + "\"frobnicate\":{\"x\":[1,2]},\"tools\":[],\"user\":\"u1\",\"metadata\":null,\"temperature\":null}");
        assertThat(r.status()).as(r.text()).isEqualTo(200);
    }

    @Test
    void contextLimits() throws Exception {
        String ids = IntStream.range(0, 5000).mapToObj(i -> Integer.toString(20 + i % 1000)).collect(Collectors.joining(","));
        assertError(client.post(TEXT, "{\"prompt\":[" + ids + "],\"max_tokens\":2}"), 400, "prompt", "context_length_exceeded");
        String longText = "word ".repeat(6000);
        assertError(client.post(CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"" + longText + "\"}]}"), 400, "messages",
                "context_length_exceeded");
        assertError(client.post(CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":100000}"), 400,
                "max_tokens", "context_length_exceeded");
        assertError(client.post(CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_completion_tokens\":100000}"), 400,
                "max_completion_tokens", "context_length_exceeded");
    }

    @Test
    void unknownModelAndRoutes() throws Exception {
        assertError(client.post(CHAT, "{\"model\":\"gpt-5\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"), 404, "model",
                "model_not_found");
        assertError(client.get("/v1/models/gpt-5"), 404, "model", "model_not_found");
        // the model that is served: its architecture by its GGUF name, as llama-server's meta gives it
        assertThat(client.get("/v1/models").json().path("data").path(0).path("meta").path("architecture").asText()).isEqualTo("pangu-pro-moe");
        assertError(client.get("/v1/nothing"), 404, null, "not_found");
        assertError(client.post("/v2/chat/completions", "{}"), 404, null, "not_found");
    }

    @Test
    void aKnownRouteWithTheWrongMethodIs405WithAllow() throws Exception {
        for (String[] c : new String[][]{{"GET", CHAT, "POST"}, {"GET", TEXT, "POST"}, {"DELETE", "/v1/models/tiny", "GET"},
                {"POST", "/health", "GET"}}) {
            HttpResponse<String> r = client.http.send(HttpRequest.newBuilder(URI.create(client.root + c[1]))
                    .method(c[0], HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
            assertError(new HttpTestClient.Reply(r.statusCode(), HttpTestClient.JSON.readTree(r.body()), r.body()), 405, null,
                    "method_not_allowed");
            assertThat(r.headers().firstValue("Allow")).as(c[0] + " " + c[1]).hasValue(c[2]);
            assertThat(r.body()).contains(c[0] + " " + c[1]);
        }
    }

    @Test
    void topPZeroKeepsOnlyTheMostLikelyToken() throws Exception {
        String ask = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":6,\"seed\":3,";
        HttpTestClient.Reply greedy = client.post(CHAT, ask + "\"temperature\":0}");
        HttpTestClient.Reply topP0 = client.post(CHAT, ask + "\"temperature\":2,\"top_p\":0}");
        assertThat(topP0.status()).as(topP0.text()).isEqualTo(200);
        assertThat(topP0.json().path("choices").get(0).path("message").path("content"))
                .isEqualTo(greedy.json().path("choices").get(0).path("message").path("content"));
    }

    @Test
    void assistantTurnsMayHaveNoContent() throws Exception {
        HttpTestClient.Reply r = client.post(CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\","
                + "\"content\":null},{\"role\":\"user\",\"content\":\"and?\"}],\"max_tokens\":2}");
        assertThat(r.status()).as(r.text()).isEqualTo(200);
    }

    @Test
    void tenMegabyteBodyIs413() throws Exception {
        byte[] big = new byte[10 << 20];
        Arrays.fill(big, (byte) ' ');
        // declared length: refused before the body is read
        assertThat(client.postRefused(CHAT, big).status()).isEqualTo(413);
        // no declared length (chunked): refused once the limit (1 MiB) is passed. Just over it: this client reads
        // the answer only after sending everything, and a server closing on megabytes it never read resets the
        // connection, which can drop the answer before the client reads it (seen on CI).
        byte[] over = Arrays.copyOf(big, (1 << 20) + 4096);
        HttpResponse<String> r = client.http.send(HttpRequest.newBuilder(URI.create(client.root + CHAT))
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new java.io.ByteArrayInputStream(over))).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(413);
        assertThat(r.body()).contains("request_too_large");
    }

    @Test
    void slowClientsDoNotBlockOthers() throws Exception {
        try (Socket headers = client.socket(); Socket body = client.socket()) {
            // one stops in the middle of its headers, one in the middle of its body
            HttpTestClient.write(headers, "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-");
            HttpTestClient.write(body, HttpTestClient.requestHead(CHAT, 100) + "{\"messages\":");
            for (int i = 0; i < 3; i++) {
                HttpTestClient.Reply r = client.post(CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}],\"max_tokens\":4}");
                assertThat(r.status()).isEqualTo(200);
            }
            // both are cut off by the idle timeout (2 s here): a 400 for the body, nothing or 408 for the headers
            long t0 = System.nanoTime();
            assertThat(HttpTestClient.readStatus(body)).isIn(400, -1);
            assertThat(HttpTestClient.readStatus(headers)).isIn(400, 408, -1);
            assertThat(System.nanoTime() - t0).isLessThan(Duration.ofSeconds(15).toNanos());
        }
    }

    @Test
    void halfClosedBodyIs400() throws Exception {
        try (Socket s = client.socket()) {
            HttpTestClient.write(s, HttpTestClient.requestHead(CHAT, 200) + "{\"messages\":[");
            s.shutdownOutput();
            assertThat(HttpTestClient.readStatus(s)).isIn(400, -1);
        }
    }

    @Test
    void clientLeavingAStreamCancelsIt() throws Exception {
        String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"go\"}],\"max_tokens\":4000,\"ignore_eos\":true,\"stream\":true}";
        try (Socket s = client.socket()) {
            HttpTestClient.write(s, HttpTestClient.requestHead(CHAT, body.getBytes(StandardCharsets.UTF_8).length) + body);
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            assertThat(in.readLine()).contains("200");
            String line;
            int data = 0;
            while (data < 3 && (line = in.readLine()) != null) if (line.startsWith("data: ")) data++;
            assertThat(server.scheduler().running()).isEqualTo(1);
        }
        assertStopsSoon();
    }

    @Test
    void clientLeavingANonStreamingRequestCancelsIt() throws Exception {
        String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"go\"}],\"max_tokens\":4000,\"ignore_eos\":true}";
        try (Socket s = client.socket()) {
            HttpTestClient.write(s, HttpTestClient.requestHead(CHAT, body.getBytes(StandardCharsets.UTF_8).length) + body);
            for (int i = 0; i < 500 && server.scheduler().running() == 0; i++) Thread.sleep(5);
            assertThat(server.scheduler().running()).isEqualTo(1);
        }
        assertStopsSoon();
        for (int i = 0; i < 200 && !server.metrics().scrape().contains("status=\"499\""); i++) Thread.sleep(10);
        assertThat(server.metrics().scrape()).contains("moge_requests_total{endpoint=\"/v1/chat/completions\",status=\"499\"}");
    }

    @Test
    void halfClosedClientAfterTheRequestIsCancelledToo() throws Exception {
        String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"go\"}],\"max_tokens\":4000,\"ignore_eos\":true}";
        try (Socket s = client.socket()) {
            HttpTestClient.write(s, HttpTestClient.requestHead(CHAT, body.getBytes(StandardCharsets.UTF_8).length) + body);
            s.shutdownOutput();
            assertStopsSoon();
        }
    }

    /** The sequence ends and frees its blocks well before its 4000 tokens could have been generated. */
    private static void assertStopsSoon() throws InterruptedException {
        long t0 = System.nanoTime();
        while (server.scheduler().running() > 0 && System.nanoTime() - t0 < Duration.ofSeconds(3).toNanos()) Thread.sleep(5);
        assertThat(server.scheduler().running()).isZero();
        assertThat(server.scheduler().kvBlocksUsed()).isZero();
    }

    @Test
    void apiKeyGuardsTheApiOnly() throws Exception {
        try (MogeServer keyed = TestEngines.start(new ServerOptions().apiKey("k3y").context(256).parallel(1).batchTokens(32))) {
            HttpTestClient c = new HttpTestClient(keyed.port());
            assertError(c.get("/v1/models"), 401, null, "invalid_api_key");
            for (String header : new String[]{"Bearer wrong", "k3y", "Basic k3y", "Bearer k3yy", "Bearer "}) {
                HttpResponse<String> r = c.http.send(HttpRequest.newBuilder(URI.create(c.root + "/v1/models"))
                        .header("Authorization", header).GET().build(), HttpResponse.BodyHandlers.ofString());
                assertThat(r.statusCode()).as(header).isEqualTo(401);
                assertThat(r.headers().firstValue("WWW-Authenticate")).hasValue("Bearer");
            }
            HttpResponse<String> ok = c.http.send(HttpRequest.newBuilder(URI.create(c.root + "/v1/models"))
                    .header("Authorization", "Bearer k3y").GET().build(), HttpResponse.BodyHandlers.ofString());
            assertThat(ok.statusCode()).isEqualTo(200);
            assertThat(c.get("/health").status()).isEqualTo(200);
        }
    }

    @Test
    void rawSocketGarbageIsRefused() throws Exception {
        try (Socket s = client.socket()) {
            OutputStream o = s.getOutputStream();
            o.write("HELLO THERE\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            o.flush();
            assertThat(HttpTestClient.readStatus(s)).isIn(400, 505, -1);
        }
    }
}
