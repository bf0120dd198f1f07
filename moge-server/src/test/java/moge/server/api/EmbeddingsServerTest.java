package moge.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.models.embeddings.CreateEmbeddingResponse;
import com.openai.models.embeddings.EmbeddingCreateParams;
import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.openai.OpenAiEmbeddingModel;
import moge.generate.Embedder;
import moge.model.LoadedModel;
import moge.model.Model;
import moge.model.ModelLoader;
import moge.server.MogeServer;
import moge.server.ServerOptions;
import moge.server.TestEngines;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Base64;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * POST /v1/embeddings on the demo model: the vectors are the core embedder's (last-token pooling, unit length) for
 * the same tokens, whatever the form of the input and the other inputs of the request; base64 and dimensions as
 * OpenAI defines them; the OpenAI SDK and LangChain4j's embedding model read them; bad input is a 400.
 */
class EmbeddingsServerTest {
    static final String EMB = "/v1/embeddings";
    static MogeServer server;
    static HttpTestClient http;
    static LoadedModel lm;
    static Embedder reference;

    @BeforeAll
    static void start() {
        server = TestEngines.startDemo(new ServerOptions().parallel(1).context(256).batchTokens(64).modelId("demo"));
        http = new HttpTestClient(server.port());
        lm = ModelLoader.load(TestEngines.DEMO);
        reference = new Embedder(new Model(lm.config, lm.weights, 1, 16), 256, Embedder.Pooling.LAST);
    }

    @AfterAll
    static void stop() {
        reference.close();
        lm.close();
        server.close();
    }

    static float[] vector(JsonNode data) {
        JsonNode e = data.path("embedding");
        float[] v = new float[e.size()];
        for (int i = 0; i < v.length; i++) v[i] = e.get(i).floatValue();
        return v;
    }

    static void assertClose(float[] got, float[] want) {
        assertThat(got).hasSameSizeAs(want);
        for (int i = 0; i < want.length; i++) assertThat(got[i]).as("dim %d", i).isCloseTo(want[i], within(1e-5f));
    }

    @Test
    void vectorsAreTheEmbeddersWhateverTheInputsForm() throws Exception {
        String[] texts = {"What is 4+5?", "hello there", "7*8"};
        JsonNode r = http.post(EMB, "{\"model\":\"demo\",\"input\":[\"" + String.join("\",\"", texts) + "\"]}").json();
        assertThat(r.path("object").asText()).isEqualTo("list");
        long tokens = 0;
        for (int i = 0; i < texts.length; i++) {
            int[] ids = lm.tokenizer.encodePrompt(texts[i]);
            tokens += ids.length;
            JsonNode d = r.path("data").path(i);
            assertThat(d.path("index").asInt()).isEqualTo(i);
            assertThat(d.path("object").asText()).isEqualTo("embedding");
            float[] want = reference.embed(ids);
            assertClose(vector(d), want);
            // alone, as a string, and as token ids: the same vector
            assertClose(vector(http.post(EMB, "{\"input\":\"" + texts[i] + "\"}").json().path("data").path(0)), want);
            StringBuilder idList = new StringBuilder();
            for (int id : ids) idList.append(idList.isEmpty() ? "" : ",").append(id);
            assertClose(vector(http.post(EMB, "{\"input\":[" + idList + "]}").json().path("data").path(0)), want);
            assertClose(vector(http.post(EMB, "{\"input\":[[" + idList + "]]}").json().path("data").path(0)), want);
        }
        assertThat(r.path("usage").path("prompt_tokens").asLong()).isEqualTo(tokens);
        assertThat(r.path("usage").path("total_tokens").asLong()).isEqualTo(tokens);
        assertThat(vector(r.path("data").path(0))).isNotEqualTo(vector(r.path("data").path(1)));
    }

    @Test
    void base64IsLittleEndianFloat32AndDimensionsKeepAUnitPrefix() throws Exception {
        float[] full = vector(http.post(EMB, "{\"input\":\"What is 4+5?\"}").json().path("data").path(0));
        String b64 = http.post(EMB, "{\"input\":\"What is 4+5?\",\"encoding_format\":\"base64\"}").json().path("data").path(0).path("embedding").asText();
        ByteBuffer b = ByteBuffer.wrap(Base64.getDecoder().decode(b64)).order(ByteOrder.LITTLE_ENDIAN);
        float[] decoded = new float[full.length];
        for (int i = 0; i < decoded.length; i++) decoded[i] = b.getFloat();
        assertThat(b.remaining()).isZero();
        assertThat(decoded).containsExactly(full);

        float[] cut = vector(http.post(EMB, "{\"input\":\"What is 4+5?\",\"dimensions\":8}").json().path("data").path(0));
        assertThat(cut).hasSize(8);
        double norm = 0, prefix = 0;
        for (int i = 0; i < 8; i++) {
            norm += (double) cut[i] * cut[i];
            prefix += (double) full[i] * full[i];
        }
        assertThat(norm).isCloseTo(1.0, within(1e-5));
        for (int i = 0; i < 8; i++) assertThat(cut[i]).isCloseTo((float) (full[i] / Math.sqrt(prefix)), within(1e-5f));
    }

    @Test
    void theOpenAiSdkAndLangChain4jReadThem() {
        OpenAIClient client = OpenAIOkHttpClient.builder().baseUrl(server.baseUrl()).apiKey("unused").maxRetries(0).build();
        try {
            CreateEmbeddingResponse r = client.embeddings().create(EmbeddingCreateParams.builder().model("demo")
                    .inputOfArrayOfStrings(List.of("hello there", "7*8")).build());
            assertThat(r.data()).hasSize(2);
            List<Float> v = r.data().getFirst().embedding();
            assertThat(v).hasSize(lm.config.hidden());
            float[] want = reference.embed(lm.tokenizer.encodePrompt("hello there"));
            for (int i = 0; i < want.length; i++) assertThat(v.get(i)).isCloseTo(want[i], within(1e-5f));
            assertThat(r.usage().promptTokens()).isPositive();
        } finally {
            client.close();
        }
        OpenAiEmbeddingModel model = OpenAiEmbeddingModel.builder().baseUrl(server.baseUrl()).apiKey("unused").modelName("demo")
                .maxRetries(0).build();
        List<Embedding> all = model.embedAll(List.of(TextSegment.from("hello there"), TextSegment.from("What is 4+5?"))).content();
        assertThat(all).hasSize(2);
        assertThat(all.getFirst().dimension()).isEqualTo(lm.config.hidden());
        assertClose(all.get(1).vector(), reference.embed(lm.tokenizer.encodePrompt("What is 4+5?")));
    }

    @ParameterizedTest(name = "{1}")
    @CsvSource(delimiter = '|', value = {
            "{}|input",
            "{\"input\":\"\"}|input",
            "{\"input\":[]}|input",
            "{\"input\":[\"ok\",\"\"]}|input[1]",
            "{\"input\":[\"ok\",3]}|input[1]",
            "{\"input\":[1,-2]}|input",
            "{\"input\":[[1,99999999]]}|input[0]",
            "{\"input\":\"hi\",\"encoding_format\":\"int8\"}|encoding_format",
            "{\"input\":\"hi\",\"dimensions\":0}|dimensions",
            "{\"input\":\"hi\",\"dimensions\":100000}|dimensions",
    })
    void badInputIsA400NamingTheField(String body, String param) throws Exception {
        HttpTestClient.Reply r = http.post(EMB, body);
        assertThat(r.status()).as(r.text()).isEqualTo(400);
        assertThat(r.error().path("param").asText()).isEqualTo(param);
    }

    @Test
    void anUnknownModelIs404AndATooLongInputNamesTheContext() throws Exception {
        HttpTestClient.Reply m = http.post(EMB, "{\"model\":\"gpt-4\",\"input\":\"hi\"}");
        assertThat(m.status()).isEqualTo(404);
        HttpTestClient.Reply longer = http.post(EMB, "{\"input\":\"" + "1+2=3 ".repeat(200) + "\"}");
        assertThat(longer.status()).isEqualTo(400);
        assertThat(longer.error().path("code").asText()).isEqualTo("context_length_exceeded");
        assertThat(longer.error().path("message").asText()).contains("context is 256 tokens");
    }
}
