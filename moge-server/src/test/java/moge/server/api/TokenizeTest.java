package moge.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import moge.server.MogeServer;
import moge.server.ServerOptions;
import moge.server.TestEngines;
import moge.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** POST /tokenize and /detokenize in llama-server's and vLLM's shapes, against the model's own tokenizer. */
class TokenizeTest {
    private static final String TEXT = "Hello! I am a tiny MoGE model, 42.";
    private static MogeServer server;
    private static HttpTestClient client;
    private static TestEngines.Reference ref;

    @BeforeAll
    static void start() {
        server = TestEngines.start(new ServerOptions().parallel(1).context(256).batchTokens(32));
        client = new HttpTestClient(server.port());
        ref = new TestEngines.Reference();
    }

    @AfterAll
    static void stop() {
        server.close();
        ref.close();
    }

    private static List<Integer> ids(JsonNode tokens) {
        List<Integer> out = new ArrayList<>();
        for (JsonNode t : tokens) out.add(t.isObject() ? t.get("id").asInt() : t.asInt());
        return out;
    }

    private static List<Integer> list(int[] a) {
        List<Integer> out = new ArrayList<>();
        for (int v : a) out.add(v);
        return out;
    }

    private static String json(String s) {
        return HttpTestClient.JSON.valueToTree(s).toString();
    }

    @Test
    void tokenizeAsEitherServerDoes() throws Exception {
        Tokenizer tok = ref.lm.tokenizer;
        int[] plain = tok.encode(TEXT), withBos = tok.encodePrompt(TEXT);
        assertThat(withBos).hasSize(plain.length + 1); // the tiny model's tokenizer adds BOS, so the two defaults differ

        // llama-server: "content", no BOS unless add_special
        HttpTestClient.Reply r = client.post("/tokenize", "{\"content\":" + json(TEXT) + "}");
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        assertThat(ids(r.json().get("tokens"))).isEqualTo(list(plain));
        assertThat(r.json().get("count").asInt()).isEqualTo(plain.length);
        assertThat(r.json().get("max_model_len").asInt()).isEqualTo(256);
        r = client.post("/tokenize", "{\"content\":" + json(TEXT) + ",\"add_special\":true,\"with_pieces\":true}");
        assertThat(ids(r.json().get("tokens"))).isEqualTo(list(withBos));
        assertThat(r.json().get("tokens").get(1).get("piece").asText()).isEqualTo(tok.piece(withBos[1]));

        // vLLM: "prompt", BOS unless add_special_tokens is false
        r = client.post("/tokenize", "{\"model\":\"tiny\",\"prompt\":" + json(TEXT) + "}");
        assertThat(ids(r.json().get("tokens"))).isEqualTo(list(withBos));
        r = client.post("/tokenize", "{\"prompt\":" + json(TEXT) + ",\"add_special_tokens\":false}");
        assertThat(ids(r.json().get("tokens"))).isEqualTo(list(plain));

        // and back
        r = client.post("/detokenize", "{\"tokens\":" + list(plain) + "}");
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        assertThat(r.json().get("content").asText()).isEqualTo(tok.decode(plain)).isEqualTo(TEXT);
        assertThat(r.json().get("prompt").asText()).isEqualTo(TEXT);
    }

    /**
     * vLLM's chat form: the messages rendered and encoded as a chat completion runs them, so the count is that
     * completion's prompt_tokens; without the generation prompt the reply's opening is left out, without special
     * tokens the tokenizer's BOS.
     */
    @Test
    void tokenizeMessagesAsAChatCompletionRunsThem() throws Exception {
        String messages = "[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":" + json(TEXT) + "}]";
        HttpTestClient.Reply r = client.post("/tokenize", "{\"model\":\"tiny\",\"messages\":" + messages + "}");
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        List<Integer> full = ids(r.json().get("tokens"));
        List<Integer> expect = list(ref.chatPrompt(List.of(moge.chat.ChatMessage.system("Be brief."), moge.chat.ChatMessage.user(TEXT))));
        assertThat(full).isEqualTo(expect);
        assertThat(r.json().get("count").asInt()).isEqualTo(full.size());
        HttpTestClient.Reply c = client.post("/v1/chat/completions", "{\"messages\":" + messages + ",\"max_tokens\":1}");
        assertThat(c.json().path("usage").path("prompt_tokens").asInt()).isEqualTo(full.size());

        r = client.post("/tokenize", "{\"messages\":" + messages + ",\"add_generation_prompt\":false,\"with_pieces\":true}");
        List<Integer> bare = ids(r.json().get("tokens"));
        assertThat(bare.size()).isLessThan(full.size());
        assertThat(full.subList(0, bare.size())).isEqualTo(bare);

        r = client.post("/tokenize", "{\"messages\":" + messages + ",\"add_generation_prompt\":true,\"add_special_tokens\":false}");
        assertThat(ids(r.json().get("tokens"))).isEqualTo(full.subList(1, full.size())); // the tiny tokenizer's BOS
        // a thinking switch the chat completion would add is in the count too
        r = client.post("/tokenize", "{\"messages\":" + messages + ",\"reasoning_effort\":\"low\"}");
        c = client.post("/v1/chat/completions", "{\"messages\":" + messages + ",\"reasoning_effort\":\"low\",\"max_tokens\":1}");
        assertThat(r.json().get("count").asInt()).isEqualTo(c.json().path("usage").path("prompt_tokens").asInt()).isNotEqualTo(full.size());
    }

    @Test
    void badRequestsAreFourHundreds() throws Exception {
        int vocab = ref.lm.tokenizer.vocabSize();
        String[][] cases = {
                {"/tokenize", "{}", "prompt"},
                {"/tokenize", "{\"messages\":\"hi\"}", "messages"},
                {"/tokenize", "{\"messages\":[]}", "messages"},
                {"/tokenize", "{\"messages\":[{\"role\":\"wizard\",\"content\":\"hi\"}]}", "messages[0].role"},
                {"/tokenize", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"prompt\":\"hi\"}", "messages"},
                {"/tokenize", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"add_generation_prompt\":\"yes\"}", "add_generation_prompt"},
                {"/tokenize", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"add_special_tokens\":1}", "add_special_tokens"},
                {"/tokenize", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"continue_final_message\":true}", "continue_final_message"},
                {"/tokenize", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"chat_template_kwargs\":{\"messages\":1}}", "chat_template_kwargs"},
                {"/tokenize", "{\"content\":5}", "content"},
                {"/tokenize", "{\"content\":\"a\",\"prompt\":\"b\"}", "prompt"},
                {"/tokenize", "{\"content\":\"a\",\"add_special\":\"yes\"}", "add_special"},
                {"/detokenize", "{}", "tokens"},
                {"/detokenize", "{\"tokens\":\"1 2\"}", "tokens"},
                {"/detokenize", "{\"tokens\":[1,-2]}", "tokens"},
                {"/detokenize", "{\"tokens\":[" + vocab + "]}", "tokens"},
                {"/detokenize", "{\"tokens\":[1.5]}", "tokens"},
        };
        for (String[] c : cases) {
            HttpTestClient.Reply r = client.post(c[0], c[1]);
            assertThat(r.status()).as(c[0] + " " + c[1]).isEqualTo(400);
            assertThat(r.error().get("param").asText()).as(c[1]).isEqualTo(c[2]);
        }
        assertThat(client.post("/tokenize", "{not json").status()).isEqualTo(400);
        assertThat(client.get("/tokenize").status()).isEqualTo(405);
    }

    @Test
    void theApiKeyGuardsThemToo() throws Exception {
        try (MogeServer keyed = TestEngines.start(new ServerOptions().apiKey("k3y").context(256).parallel(1).batchTokens(32))) {
            HttpTestClient c = new HttpTestClient(keyed.port());
            assertThat(c.post("/tokenize", "{\"content\":\"hi\"}").status()).isEqualTo(401);
            assertThat(c.post("/detokenize", "{\"tokens\":[1]}").status()).isEqualTo(401);
            HttpResponse<String> ok = c.http.send(HttpRequest.newBuilder(URI.create(c.root + "/tokenize")).header("Authorization", "Bearer k3y")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"content\":\"hi\"}")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(ok.statusCode()).isEqualTo(200);
        }
    }
}
