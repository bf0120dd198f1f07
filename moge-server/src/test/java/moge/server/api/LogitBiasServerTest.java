package moge.server.api;

import moge.generate.GenerationResult;
import moge.sample.SamplerParams;
import moge.server.MogeServer;
import moge.server.ServerOptions;
import moge.server.TestEngines;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * logit_bias over HTTP, in OpenAI's object form and llama-server's array form: the answer is the reference
 * model's under the same bias (a ban keeps greedy decoding off its favourite, a large boost forces a token).
 * Malformed biases are in {@link BadInputTest}, the draft's part in {@link SpeculationServerTest}, a chat through
 * the OpenAI SDK in {@link OpenAiSdkTest}.
 */
class LogitBiasServerTest {
    static final String TEXT = "/v1/completions";
    static MogeServer server;
    static HttpTestClient client;
    static TestEngines.Reference ref;

    @BeforeAll
    static void start() {
        server = TestEngines.start(new ServerOptions().parallel(2).context(256).batchTokens(32).modelId("tiny"));
        client = new HttpTestClient(server.port());
        ref = new TestEngines.Reference();
    }

    @AfterAll
    static void stop() {
        server.close();
        ref.close();
    }

    /** The text of a completion of {@code prompt} (token ids) with these extra fields. */
    static String complete(int[] prompt, int max, String fields) throws Exception {
        HttpTestClient.Reply r = client.post(TEXT, "{\"prompt\":" + Arrays.toString(prompt) + ",\"max_tokens\":" + max + fields + "}");
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        return r.json().path("choices").path(0).path("text").asText();
    }

    @Test
    void aBannedGreedyChoiceIsNotProducedAndTheAnswerIsTheBiasedModels() throws Exception {
        int[] prompt = ref.textPrompt("The river ran past the old mill");
        GenerationResult plain = ref.continuation(prompt, 8, SamplerParams.greedy());
        int first = plain.generatedIds()[0];
        GenerationResult banned = ref.continuation(prompt, 8, SamplerParams.greedy().withLogitBias(Map.of(first, SamplerParams.BAN)));
        assertThat(banned.generatedIds()).doesNotContain(first);
        assertThat(banned.text()).isNotEqualTo(plain.text());

        assertThat(complete(prompt, 8, ",\"temperature\":0")).isEqualTo(plain.text());
        assertThat(complete(prompt, 8, ",\"temperature\":0,\"logit_bias\":{\"" + first + "\":-100}")).isEqualTo(banned.text());
        assertThat(complete(prompt, 8, ",\"temperature\":0,\"logit_bias\":[[" + first + ",false]]")).isEqualTo(banned.text());
        HttpTestClient.Reply outside = client.post(TEXT, "{\"prompt\":\"a\",\"logit_bias\":{\"5\":1,\"1280\":-100}}");
        assertThat(outside.status()).isEqualTo(400);
        assertThat(outside.error().path("param").asText()).isEqualTo("logit_bias");
        assertThat(outside.error().path("message").asText()).isEqualTo("logit_bias token ids must be in the vocabulary (0..1279), got 1280");
        // the bias went with those requests only
        assertThat(complete(prompt, 8, ",\"temperature\":0,\"logit_bias\":{}")).isEqualTo(plain.text());
    }

    @Test
    void aLargeBoostForcesATokenGreedyOrSampled() throws Exception {
        int[] prompt = ref.textPrompt("Once upon a time");
        // an ordinary word of the prompt, which the model would not repeat five times over on its own
        int forced = prompt[prompt.length - 1];
        GenerationResult expect = ref.continuation(prompt, 5, SamplerParams.greedy().withLogitBias(Map.of(forced, 100f)));
        assertThat(expect.generatedIds()).containsOnly(forced);
        assertThat(complete(prompt, 5, ",\"temperature\":0,\"logit_bias\":{\"" + forced + "\":100}")).isEqualTo(expect.text());
        assertThat(complete(prompt, 5, ",\"temperature\":1,\"seed\":3,\"logit_bias\":[[" + forced + ",100]]")).isEqualTo(expect.text());
    }

    /**
     * llama-server's text entries: the text is tokenized (no BOS) and every one of its tokens gets the bias. Banning
     * the text of the greedy first token bans that token; a boost on a text of several tokens is the reference's
     * with each of them boosted.
     */
    @Test
    void aTextEntryBiasesEveryTokenOfTheText() throws Exception {
        int[] prompt = ref.textPrompt("The river ran past the old mill");
        var tok = ref.lm.tokenizer;
        GenerationResult plain = ref.continuation(prompt, 8, SamplerParams.greedy());
        String word = tok.decode(new int[]{plain.generatedIds()[0]}).strip();
        int[] ids = tok.encode(word);
        assertThat(ids).contains(plain.generatedIds()[0]);
        Map<Integer, Float> ban = new java.util.HashMap<>();
        for (int id : ids) ban.put(id, SamplerParams.BAN);
        GenerationResult banned = ref.continuation(prompt, 8, SamplerParams.greedy().withLogitBias(ban));
        assertThat(banned.text()).isNotEqualTo(plain.text());
        String text = HttpTestClient.JSON.writeValueAsString(word);
        assertThat(complete(prompt, 8, ",\"temperature\":0,\"logit_bias\":[[" + text + ",false]]")).isEqualTo(banned.text());

        String several = "mill stream";
        int[] parts = tok.encode(several);
        assertThat(parts.length).isGreaterThan(1);
        Map<Integer, Float> boost = new java.util.HashMap<>();
        for (int id : parts) boost.put(id, 8f);
        GenerationResult boosted = ref.continuation(prompt, 8, SamplerParams.greedy().withLogitBias(boost));
        assertThat(boosted.text()).isNotEqualTo(plain.text());
        assertThat(complete(prompt, 8, ",\"temperature\":0,\"logit_bias\":[[\"" + several + "\",8]]")).isEqualTo(boosted.text());
        // the object form stays OpenAI's: ids only
        HttpTestClient.Reply r = client.post(TEXT, "{\"prompt\":\"a\",\"logit_bias\":{\"" + several + "\":8}}");
        assertThat(r.status()).isEqualTo(400);
        assertThat(r.error().path("param").asText()).isEqualTo("logit_bias");
    }
}
