package moge.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import moge.Fixtures;
import moge.server.MogeServer;
import moge.server.ServerOptions;
import moge.server.TestEngines;
import moge.tokenizer.StreamDecoder;
import moge.tokenizer.TextMode;
import moge.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The text of a raw completion continues the prompt's: prompt + text reads as the whole text (the first word keeps
 * its space), and special tokens stay out of it unless {@code skip_special_tokens} is false (vLLM's field).
 * The fixture's prompt makes the tiny MoGE model generate {@code [unused0]} within 16 tokens.
 */
class CompletionTextTest {
    private static final JsonNode EXP = Fixtures.read(Fixtures.ROOT.resolve("expected/pangu-moe-tiny.text.json"));
    private static MogeServer server;
    private static HttpTestClient client;

    @BeforeAll
    static void start() {
        server = TestEngines.start(new ServerOptions().parallel(2).context(256).batchTokens(64));
        client = new HttpTestClient(server.port());
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static String body(boolean skipSpecial, boolean stream) {
        return "{\"prompt\":" + HttpTestClient.JSON.valueToTree(EXP.get("prompt").get("text").asText())
                + ",\"max_tokens\":16,\"temperature\":0,\"ignore_eos\":true,\"logprobs\":1,\"stream\":" + stream
                + (skipSpecial ? "" : ",\"skip_special_tokens\":false") + "}";
    }

    @Test
    void textContinuesThePromptWithoutSpecialTokens() throws Exception {
        HttpTestClient.Reply r = client.post("/v1/completions", body(true, false));
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        String text = r.json().path("choices").path(0).path("text").asText();
        assertThat(text).isEqualTo(continuation(TextMode.CONTINUATION)).doesNotContain("[unused");
        // the per-token strings of the logprobs read as the text, bar the hidden special token
        StringBuilder tokens = new StringBuilder();
        for (JsonNode t : r.json().path("choices").path(0).path("logprobs").path("tokens")) {
            if (!t.asText().startsWith("[unused")) tokens.append(t.asText());
        }
        assertThat(tokens.toString()).isEqualTo(text);
        // and each shown token sits at its text_offset (the hidden one takes no room)
        JsonNode lp = r.json().path("choices").path(0).path("logprobs");
        for (int i = 0; i < lp.path("tokens").size(); i++) {
            String t = lp.path("tokens").get(i).asText();
            int at = lp.path("text_offset").get(i).asInt();
            if (!t.startsWith("[unused")) assertThat(text.substring(at, at + t.length())).as("token %d at %d", i, at).isEqualTo(t);
        }
        assertThat(client.stream("/v1/completions", body(true, true)).text()).isEqualTo(text);
    }

    @Test
    void specialTokensShowWhenAskedFor() throws Exception {
        HttpTestClient.Reply r = client.post("/v1/completions", body(false, false));
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        assertThat(r.json().path("choices").path(0).path("text").asText())
                .isEqualTo(continuation(TextMode.CONTINUATION_WITH_SPECIAL)).contains("[unused0]");
        assertThat(client.post("/v1/completions", body(false, false).replace("false}", "\"no\"}")).status()).isEqualTo(400);
    }

    /** The fixture's generated ids decoded in the given mode; its own text is their decode as a reply. */
    private static String continuation(TextMode mode) {
        Tokenizer tok = moge.model.ModelLoader.load(TestEngines.TINY).tokenizer;
        int[] ids = new int[EXP.get("generated_ids").size()];
        for (int i = 0; i < ids.length; i++) ids[i] = EXP.get("generated_ids").get(i).asInt();
        assertThat(tok.decode(ids)).isEqualTo(EXP.get("text").asText());
        StreamDecoder d = tok.newStreamDecoder(mode);
        StringBuilder sb = new StringBuilder();
        for (int id : ids) sb.append(d.push(id));
        return sb.append(d.flush()).toString();
    }
}
