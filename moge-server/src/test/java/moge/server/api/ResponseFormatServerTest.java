package moge.server.api;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import moge.Fixtures;
import moge.constrain.SubsetValidator;
import moge.model.LoadedModel;
import moge.model.Model;
import moge.model.ModelLoader;
import moge.server.MogeServer;
import moge.server.ServerOptions;
import moge.spec.SpecConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * response_format with the shipped demo model, a small arithmetic model that never writes JSON on its own: the
 * answer must still parse and validate against the schema, greedy and sampled, streamed and not, with a
 * speculative draft (whose proposals are unconstrained: verification must reject what the schema forbids, so
 * the answer is the unspeculated one) and after a think block.
 */
class ResponseFormatServerTest {
    static final String CHAT = "/v1/chat/completions";
    static final ObjectMapper STRICT = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    static final String[] SCHEMAS = {
            """
            {"type":"object","properties":{"name":{"type":"string","maxLength":12},"age":{"type":"integer"},"ok":{"type":"boolean"}},
             "required":["name","age","ok"],"additionalProperties":false}""",
            """
            {"type":"object","properties":{"answer":{"type":"number"},
             "steps":{"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":3}},"required":["answer","steps"]}""",
            """
            {"type":"object","properties":{"op":{"enum":["add","mul"]},"result":{"anyOf":[{"type":"integer"},{"type":"null"}]},
             "note":{"type":"string","maxLength":8},"tags":{"$ref":"#/$defs/tags"}},"required":["op","result"],
             "$defs":{"tags":{"type":"array","items":{"const":"x"},"maxItems":2}}}""",
    };
    static MogeServer server;
    static HttpTestClient client;

    @BeforeAll
    static void start() {
        LoadedModel lm = ModelLoader.load(Fixtures.ROOT.getParent().getParent().resolve("models/demo"));
        // the default draft of the demo model (models/draft); requests opt out with "speculative": false
        server = MogeServer.start(new ServerOptions().host("127.0.0.1").port(0).parallel(3).context(1024).batchTokens(64)
                        .speculation(SpecConfig.draft(null).withAdaptive(false)),
                new MogeServer.Engine(lm, new Model(lm.config, lm.weights, 2, 64)));
        client = new HttpTestClient(server.port());
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    static String body(String question, String format, String extra) {
        return "{\"messages\":[{\"role\":\"user\",\"content\":\"" + question + "\"}],\"max_tokens\":400,\"response_format\":" + format + extra + "}";
    }

    static String schemaFormat(int which) {
        return "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"answer\",\"strict\":true,\"schema\":" + SCHEMAS[which] + "}}";
    }

    static JsonNode choice(String body) throws Exception {
        HttpTestClient.Reply r = client.post(CHAT, body);
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        return r.json().path("choices").path(0);
    }

    /** The content parsed strictly (one JSON value, nothing after it), checked against the schema. */
    static JsonNode valid(String content, int which) throws Exception {
        JsonNode v = STRICT.readTree(content);
        assertThat(new SubsetValidator(STRICT.readTree(SCHEMAS[which])).valid(v)).as("%s against schema %d", content, which).isTrue();
        return v;
    }

    @ParameterizedTest(name = "schema {0}, {1}")
    @CsvSource({"0, temperature 0", "1, temperature 0", "2, temperature 0", "0, temperature 1 seed 5", "1, temperature 0.8 seed 11",
            "2, temperature 1.2 seed 2"})
    void answersValidateGreedyAndSampledStreamedAndWhole(int which, String sampling) throws Exception {
        String[] s = sampling.split(" ");
        String extra = ",\"temperature\":" + s[1] + (s.length > 2 ? ",\"seed\":" + s[3] : "");
        String question = "What is 12+30? /no_think";
        JsonNode c = choice(body(question, schemaFormat(which), extra));
        assertThat(c.path("finish_reason").asText()).as(c.toString()).isEqualTo("stop");
        String whole = c.path("message").path("content").asText();
        valid(whole, which);

        HttpTestClient.Events ev = client.stream(CHAT, body(question, schemaFormat(which), extra + ",\"stream\":true"));
        StringBuilder streamed = new StringBuilder();
        String finish = null;
        for (JsonNode d : ev.data()) {
            JsonNode ch = d.path("choices").path(0);
            streamed.append(ch.path("delta").path("content").asText(""));
            if (ch.path("finish_reason").isTextual()) finish = ch.path("finish_reason").asText();
        }
        assertThat(finish).isEqualTo("stop");
        valid(streamed.toString(), which);
        // the same seed or greedy: the same answer either way
        assertThat(streamed.toString()).isEqualTo(whole);
    }

    @Test
    void withoutAFormatTheModelDoesNotWriteJson() throws Exception {
        String text = choice(body("What is 12+30? /no_think", "{\"type\":\"text\"}", ",\"temperature\":0")).path("message").path("content").asText();
        assertThat(text).doesNotStartWith("{");
        JsonNode obj = STRICT.readTree(choice(body("What is 12+30? /no_think", "{\"type\":\"json_object\"}", ",\"temperature\":0"))
                .path("message").path("content").asText());
        assertThat(obj.isObject()).isTrue();
    }

    @Test
    void speculationGivesTheUnspeculatedAnswer() throws Exception {
        for (int which = 0; which < SCHEMAS.length; which++) {
            String plain = choice(body("What is 7*6? /no_think", schemaFormat(which), ",\"temperature\":0,\"speculative\":false"))
                    .path("message").path("content").asText();
            HttpTestClient.Reply r = client.post(CHAT, body("What is 7*6? /no_think", schemaFormat(which), ",\"temperature\":0"));
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.json().path("timings").path("draft_n").asInt()).as("the draft proposed tokens").isPositive();
            assertThat(r.json().path("choices").path(0).path("message").path("content").asText()).isEqualTo(plain);
            valid(plain, which);
        }
    }

    @Test
    void theSchemaAppliesAfterTheThinkBlock() throws Exception {
        JsonNode c = choice(body("What is 12+30?", schemaFormat(1), ",\"temperature\":0,\"max_tokens\":900"));
        assertThat(c.path("message").path("reasoning_content").asText()).as("the model thought first").isNotBlank();
        assertThat(c.path("finish_reason").asText()).isEqualTo("stop");
        valid(c.path("message").path("content").asText(), 1);
    }

    @Test
    void maxTokensCutsTheJsonShortWithFinishReasonLength() throws Exception {
        JsonNode c = choice(body("What is 12+30? /no_think", schemaFormat(0), ",\"temperature\":0,\"max_tokens\":4"));
        assertThat(c.path("finish_reason").asText()).isEqualTo("length");
        String content = c.path("message").path("content").asText();
        assertThat(content.strip()).startsWith("{");
        assertThat(content).doesNotEndWith("}");
    }

    @Test
    void rawCompletionsTakeAFormatToo() throws Exception {
        HttpTestClient.Reply r = client.post("/v1/completions",
                "{\"prompt\":\"12+30=\",\"max_tokens\":200,\"temperature\":0,\"response_format\":" + schemaFormat(2) + "}");
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        valid(r.json().path("choices").path(0).path("text").asText(), 2);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '~', value = {
            "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"a\",\"schema\":{\"type\":\"string\",\"pattern\":\"a+\"}}} | 'pattern' is not supported",
            "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"a\",\"schema\":{\"properties\":{\"d\":{\"type\":\"string\",\"format\":\"date\"}}}}} | schema at properties.d: 'format' is not supported",
            "{\"type\":\"json_schema\",\"json_schema\":{\"schema\":{\"$ref\":\"https://example.com/s.json\"}}} | '$ref' must point into this schema",
            "{\"type\":\"json_schema\",\"json_schema\":{\"schema\":{\"type\":\"integer\",\"minimum\":3}}} | 'minimum' is not supported",
            "{\"type\":\"json_schema\",\"json_schema\":{\"schema\":{\"type\":\"object\",\"required\":[\"x\"]}}} | required property 'x' is not in 'properties'",
            "{\"type\":\"json_schema\",\"json_schema\":{\"schema\":{\"enum\":[1,2],\"type\":\"string\"}}} | no value of 'enum' fits",
            "{\"type\":\"json_schema\"} | needs 'json_schema'",
            "{\"type\":\"yaml\"} | 'response_format.type' must be",
            "\"json\" | 'response_format' must be an object",
    })
    void unsupportedSchemasAreRefusedNamingTheKeyword(String format, String message) throws Exception {
        HttpTestClient.Reply r = client.post(CHAT, body("hi", format, ""));
        assertThat(r.status()).as(r.text()).isEqualTo(400);
        assertThat(r.error().path("param").asText()).isEqualTo("response_format");
        assertThat(r.error().path("message").asText()).contains(message);
    }

    /** Several choices (n) each follow the schema on their own: every sampled answer validates. */
    @Test
    void everyChoiceOfASampledRequestValidates() throws Exception {
        HttpTestClient.Reply r = client.post(CHAT, body("What is 12+7?", schemaFormat(0), ",\"n\":3,\"temperature\":1.2,\"seed\":5"));
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        JsonNode choices = r.json().path("choices");
        assertThat(choices).hasSize(3);
        for (JsonNode c : choices) valid(c.path("message").path("content").asText(), 0);
    }
}
