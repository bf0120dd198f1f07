package moge.constrain;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Properties over random texts: every text the matcher lets through to an accepting state parses as one JSON
 * value and validates against the schema (an independent validator), every state it reaches can still be
 * completed, and the compact re-serialisation of each value is accepted too.
 */
class JsonMatcherPropertyTest {
    private static final ObjectMapper STRICT = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    static final String[] SCHEMAS = {
            "{\"type\":\"object\"}",
            JsonMatcherTest.PERSON,
            "{\"type\":\"array\",\"items\":{\"type\":[\"number\",\"string\",\"null\"],\"maxLength\":3},\"minItems\":2,\"maxItems\":4}",
            "{\"anyOf\":[{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}},\"required\":[\"a\"]},"
                    + "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"boolean\"}},\"required\":[\"b\"]}]}",
            "{\"$ref\":\"#/$defs/n\",\"$defs\":{\"n\":{\"type\":\"object\",\"properties\":{\"v\":{\"enum\":[1,2,10,\"x\",null]},"
                    + "\"k\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/n\"},\"maxItems\":2}},\"required\":[\"v\"]}}}",
            "{\"type\":\"object\",\"properties\":{\"ab\":{\"type\":\"number\"},\"a\":{\"type\":\"string\"},\"abc\":{\"const\":[1,{\"q\":\"é\"}]}}}",
    };

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 2, 3, 4, 5})
    void everyAcceptedTextIsValidJsonOfTheSchema(int which) throws Exception {
        JsonNode schemaJson = STRICT.readTree(SCHEMAS[which]);
        JsonMatcher m = which == 0 ? new JsonMatcher(Schema.ANY_OBJECT) : new JsonMatcher(SchemaCompiler.compile(schemaJson));
        SubsetValidator v = new SubsetValidator(schemaJson);
        Random rnd = new Random(1234 + which);
        MatchState.Out out = new MatchState.Out();
        for (int run = 0; run < 300; run++) {
            byte[] text = walk(m, rnd, out);
            String s = new String(text, StandardCharsets.UTF_8);
            JsonNode value = STRICT.readTree(s);
            assertThat(v.valid(value)).as("%s against %s", s, SCHEMAS[which]).isTrue();
            String compact = STRICT.writeValueAsString(value);
            assertThat(JsonMatcherTest.accepts(m, compact)).as("re-serialised %s", compact).isTrue();
        }
    }

    /** A random text the matcher accepts; fails if a state is reached from which no text completes. */
    private static byte[] walk(JsonMatcher m, Random rnd, MatchState.Out out) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        MatchState s = m.start();
        int[] allowed = new int[256];
        for (int step = 0; step < 5000; step++) {
            int n = 0;
            for (int x = 0; x < 256; x++) if (m.advance(s, x, out) != null) allowed[n++] = x;
            boolean accepting = m.accepting(s);
            if (accepting && (n == 0 || rnd.nextInt(8) == 0 || step > 200)) return b.toByteArray();
            assertThat(n).as("a dead end after %s", b.toString(StandardCharsets.UTF_8)).isPositive();
            int pick = allowed[rnd.nextInt(n)];
            if (step > 60) {
                // wind down: prefer what closes values, so that the walk ends
                for (char c : "\"}]0n,:".toCharArray()) {
                    if (m.advance(s, c, out) != null && rnd.nextInt(4) > 0) {
                        pick = c;
                        break;
                    }
                }
            }
            b.write(pick);
            s = m.advance(s, pick, out);
        }
        throw new AssertionError("no end after 5000 bytes: " + b.toString(StandardCharsets.UTF_8));
    }
}
