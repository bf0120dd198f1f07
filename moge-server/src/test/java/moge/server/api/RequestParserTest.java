package moge.server.api;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

class RequestParserTest {
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "{\"messages\":[         | malformed JSON at line 1, column 14: unexpected end of input",
            "{\"messages\":[]} {}    | malformed JSON at line 1, column 17: unexpected text after the JSON value",
            "{\"a\":x}              | malformed JSON at line 1, column 8: unrecognized token 'x': was expecting (JSON String",
            "{'a':1}                 | malformed JSON at line 1, column 2: unexpected character (''' (code 39)): was expecting double-quote",
            "{\"messages\": [}         | malformed JSON at line 1, column 15: unexpected close marker '}': expected ']'",
    })
    void malformedJsonIsNamedByPlaceAndProblemOnly(String body, String message) {
        assertThat(parseError(body)).startsWith(message).doesNotContain("Source", "REDACTED", "`", "start marker", "(for ", "\n");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {"65 | nested too deeply", "1 | unexpected end of input"})
    void deepNestingIsRefusedInPlainWords(int depth, String problem) {
        assertThat(parseError("[".repeat(depth))).contains(problem).doesNotContain("StreamReadConstraints", "`");
    }

    @org.junit.jupiter.api.Test
    void aNumberPastTheParsersLimitIsNotCalledNesting() {
        assertThat(parseError("{\"a\":" + "1".repeat(1001) + "}")).contains("too long").doesNotContain("nested", "`");
    }

    /** The message of the 400 that parsing {@code body} answers. */
    private static String parseError(String body) {
        ApiException e = catchThrowableOfType(ApiException.class, () -> RequestParser.parseObject(body.getBytes(StandardCharsets.UTF_8)));
        assertThat(e.status).isEqualTo(400);
        assertThat(e.code).isEqualTo("invalid_json");
        return e.getMessage();
    }
}
