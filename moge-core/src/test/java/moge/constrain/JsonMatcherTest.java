package moge.constrain;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

class JsonMatcherTest {
    static final ObjectMapper JSON = new ObjectMapper();

    static JsonNode json(String s) {
        try {
            return JSON.readTree(s);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    static JsonMatcher schema(String s) {
        return new JsonMatcher(SchemaCompiler.compile(json(s)));
    }

    /** Whether the whole text is accepted (every byte continues, and the end is accepting). */
    static boolean accepts(JsonMatcher m, String text) {
        MatchState s = m.advance(m.start(), text.getBytes(StandardCharsets.UTF_8));
        return s != null && m.accepting(s);
    }

    /** Whether the text can be continued to an accepted one (every byte continues). */
    static boolean prefix(JsonMatcher m, String text) {
        return m.advance(m.start(), text.getBytes(StandardCharsets.UTF_8)) != null;
    }

    static final JsonMatcher OBJECT = new JsonMatcher(Schema.ANY_OBJECT);

    @ParameterizedTest
    @ValueSource(strings = {"{}", "{\"a\":1}", " {\"a\": [1, 2.5e-3, -0, true, false, null, \"x\\n\\u00e9\"]}", "{\"a\":{\"b\":{}}}",
            "{\n  \"a\": \"ünï\",\n  \"b\": []\n}\n", "{\"\":\"\"}", "{\"a\":-12.0E+5}", "{\"a\":\"\\\"\\\\\\/\\b\\f\\r\\t\"}"})
    void jsonModeAcceptsObjects(String text) {
        assertThat(accepts(OBJECT, text)).as(text).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"[]", "1", "\"a\"", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{a:1}", "{\"a\":01}", "{\"a\":1.}",
            "{\"a\":.5}", "{\"a\":tru}", "{\"a\":\"\t\"}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12G4\"}", "{}{}", "{}  ", "{  \"a\":1}",
            "{\"a\" :1}", "{\"a\":[1,]}", "{\"a\":+1}", "{\"a\":1e}", "{\n\n\"a\":1}", "{\"a\":\"\u0000\"}"})
    void jsonModeRejects(String text) {
        assertThat(accepts(OBJECT, text)).as(text).isFalse();
    }

    @Test
    void whiteSpaceIsOneRunOfLimitedIndentation() {
        assertThat(accepts(OBJECT, "{\n" + " ".repeat(20) + "\"a\":1}")).isTrue();
        assertThat(accepts(OBJECT, "{\n" + " ".repeat(21) + "\"a\":1}")).isFalse();
        assertThat(accepts(OBJECT, "{ \n\"a\":1}")).isFalse();
        assertThat(accepts(OBJECT, "{\"a\":1}\n")).isTrue();
        assertThat(accepts(OBJECT, "{\"a\":1}\n\n")).isFalse();
    }

    @Test
    void numbersAreCapped() {
        assertThat(accepts(OBJECT, "{\"a\":" + "9".repeat(16) + "}")).isTrue();
        assertThat(accepts(OBJECT, "{\"a\":" + "9".repeat(17) + "}")).isFalse();
        assertThat(accepts(OBJECT, "{\"a\":1e99}")).isTrue();
        assertThat(accepts(OBJECT, "{\"a\":1e123}")).isFalse();
    }

    @Test
    void utf8IsCheckedBytewise() {
        MatchState s = OBJECT.advance(OBJECT.start(), "{\"a\":\"".getBytes(StandardCharsets.UTF_8));
        byte[] e = "é".getBytes(StandardCharsets.UTF_8);
        MatchState half = OBJECT.advance(s, new byte[]{e[0]});
        assertThat(half).isNotNull();
        assertThat(OBJECT.advance(half, "\"".getBytes(StandardCharsets.UTF_8))).as("a quote inside a character").isNull();
        assertThat(OBJECT.advance(half, new byte[]{e[1], '"', '}'})).isNotNull();
        assertThat(OBJECT.advance(s, new byte[]{(byte) 0x80})).as("a stray continuation byte").isNull();
        assertThat(OBJECT.advance(s, new byte[]{(byte) 0xC0})).as("an overlong lead").isNull();
    }

    static final String PERSON = """
            {"type":"object","properties":{
              "name":{"type":"string","minLength":1,"maxLength":5},
              "age":{"type":"integer"},
              "nick":{"type":"string"},
              "tags":{"type":"array","items":{"enum":["a","b","ab"]},"minItems":1,"maxItems":2},
              "kind":{"const":"person"}},
             "required":["name","age","kind"],"additionalProperties":false}""";

    @ParameterizedTest
    @ValueSource(strings = {"{\"name\":\"Al\",\"age\":3,\"kind\":\"person\"}", "{\"name\":\"Alice\",\"age\":-3,\"nick\":\"x\",\"kind\":\"person\"}",
            "{\"name\":\"é\",\"age\":0,\"tags\":[\"ab\"],\"kind\":\"person\"}", "{ \"name\": \"A\", \"age\": 1, \"tags\": [\"a\", \"b\"], \"kind\": \"person\" }"})
    void schemaAcceptsValidObjects(String text) {
        JsonMatcher m = schema(PERSON);
        assertThat(accepts(m, text)).as(text).isTrue();
        assertThat(new SubsetValidator(json(PERSON)).valid(json(text))).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"{\"name\":\"Al\",\"age\":3}", "{\"age\":3,\"name\":\"Al\",\"kind\":\"person\"}", "{\"name\":\"\",\"age\":3,\"kind\":\"person\"}",
            "{\"name\":\"Alicia\",\"age\":3,\"kind\":\"person\"}", "{\"name\":\"A\",\"age\":3.5,\"kind\":\"person\"}",
            "{\"name\":\"A\",\"age\":3,\"kind\":\"robot\"}", "{\"name\":\"A\",\"age\":3,\"tags\":[],\"kind\":\"person\"}",
            "{\"name\":\"A\",\"age\":3,\"tags\":[\"a\",\"b\",\"a\"],\"kind\":\"person\"}", "{\"name\":\"A\",\"age\":3,\"tags\":[\"c\"],\"kind\":\"person\"}",
            "{\"name\":\"A\",\"age\":3,\"kind\":\"person\",\"x\":1}", "{\"name\":\"A\",\"name\":\"B\",\"age\":3,\"kind\":\"person\"}",
            "{\"name\":\"A\",\"age\":1e3,\"kind\":\"person\"}"})
    void schemaRejects(String text) {
        assertThat(accepts(schema(PERSON), text)).as(text).isFalse();
    }

    @Test
    void anyOfFollowsEveryReadingUntilOneIsLeft() {
        JsonMatcher m = schema("""
                {"anyOf":[{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]},
                          {"type":"object","properties":{"a":{"type":"string"},"b":{"type":"null"}},"required":["a","b"]},
                          {"type":["number","null"]}]}""");
        assertThat(accepts(m, "{\"a\":1}")).isTrue();
        assertThat(accepts(m, "{\"a\":\"x\",\"b\":null}")).isTrue();
        assertThat(accepts(m, "{\"a\":\"x\"}")).isFalse();
        assertThat(accepts(m, "{\"a\":1,\"b\":null}")).isFalse();
        assertThat(accepts(m, "2.5")).isTrue();
        assertThat(accepts(m, "null")).isTrue();
        assertThat(accepts(m, "true")).isFalse();
    }

    @Test
    void enumsOfNumbersEndAtTheNextByte() {
        JsonMatcher m = schema("{\"type\":\"object\",\"properties\":{\"n\":{\"enum\":[1,12,\"x\"]}},\"required\":[\"n\"]}");
        assertThat(accepts(m, "{\"n\":1}")).isTrue();
        assertThat(accepts(m, "{\"n\":12}")).isTrue();
        assertThat(accepts(m, "{\"n\":\"x\"}")).isTrue();
        assertThat(accepts(m, "{\"n\":13}")).isFalse();
        assertThat(accepts(m, "{\"n\":123}")).isFalse();
        assertThat(accepts(m, "{\"n\":1 }")).isTrue();
    }

    @Test
    void recursiveDefinitions() {
        JsonMatcher m = schema("""
                {"$ref":"#/$defs/node","$defs":{"node":{"type":"object","properties":{
                  "v":{"type":"integer"},"kids":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["v"]}}}""");
        assertThat(accepts(m, "{\"v\":1,\"kids\":[{\"v\":2},{\"v\":3,\"kids\":[{\"v\":4}]}]}")).isTrue();
        assertThat(accepts(m, "{\"v\":1,\"kids\":[{\"w\":2}]}")).isFalse();
    }

    @Test
    void optionalPropertiesMayAllBeLeftOut() {
        JsonMatcher m = schema("{\"properties\":{\"a\":{\"type\":\"boolean\"},\"b\":{\"type\":\"null\"}}}");
        assertThat(accepts(m, "{}")).isTrue();
        assertThat(accepts(m, "{\"b\":null}")).isTrue();
        assertThat(accepts(m, "{\"a\":true,\"b\":null}")).isTrue();
        assertThat(accepts(m, "{\"b\":null,\"a\":true}")).as("declared order").isFalse();
        assertThat(prefix(m, "{\"a\":true,")).isTrue();
        assertThat(accepts(m, "{\"a\":true,}")).isFalse();
    }

    @Test
    void topLevelScalarsAndTheEnd() {
        JsonMatcher m = schema("{\"type\":\"integer\"}");
        assertThat(accepts(m, "42")).isTrue();
        assertThat(accepts(m, "42 ")).isTrue();
        assertThat(accepts(m, "4 2")).isFalse();
        MatchState done = m.advance(m.start(), "{}".getBytes(StandardCharsets.UTF_8));
        assertThat(done).isNull();
        MatchState closed = OBJECT.advance(OBJECT.start(), "{} ".getBytes(StandardCharsets.UTF_8));
        assertThat(OBJECT.accepting(closed)).isTrue();
        assertThat(OBJECT.canContinue(closed)).as("one run of white space after the value, then the end").isFalse();
    }
}
