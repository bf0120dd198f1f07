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

    @org.junit.jupiter.api.Test
    void logitBiasInOpenAisAndLlamaServersForms() {
        assertThat(logitBias("{\"15\":-100,\"7\":2.5,\"0\":0}")).isEqualTo(java.util.Map.of(15, -100f, 7, 2.5f, 0, 0f));
        assertThat(logitBias("[[15,-100.0],[16,false],[7,3]]")).isEqualTo(java.util.Map.of(15, -100f, 16, -100f, 7, 3f));
        assertThat(logitBias("null")).isEmpty();
        assertThat(logitBias("{}")).isEmpty();
    }

    /** llama-server's text entries: every token of the text gets the bias (here a token is a character's code). */
    @org.junit.jupiter.api.Test
    void logitBiasTextEntriesBiasEveryTokenOfTheText() {
        assertThat(logitBias("[[\"ab\",1.5],[5,false]]")).isEqualTo(java.util.Map.of(97, 1.5f, 98, 1.5f, 5, -100f));
        assertThat(logitBias("[[\"aa\",2]]")).isEqualTo(java.util.Map.of(97, 2f));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
            "\"x\"           | 'logit_bias' must be an object mapping token ids to biases, e.g. {\"15043\": -100}",
            "{\"+5\":1}      | 'logit_bias' keys must be token ids (non-negative integers), got '+5' (token text is taken in the array form, [[\"text\", bias]])",
            "{\"99999999999\":1} | 'logit_bias' keys must be token ids (non-negative integers), got '99999999999' (token text is taken in the array form, [[\"text\", bias]])",
            "{\"hello\":1}   | 'logit_bias' keys must be token ids (non-negative integers), got 'hello' (token text is taken in the array form, [[\"text\", bias]])",
            "{\"5\":300}     | 'logit_bias' of token 5 must be a number between -100 and 100 (or false to ban it), got 300",
            "{\"5\":null}    | 'logit_bias' of token 5 must be a number between -100 and 100 (or false to ban it), got null",
            "[[5,1,2]]       | 'logit_bias' as an array takes [token id, bias] or [text, bias] pairs (ids non-negative integers, texts not empty); element 0 is [5,1,2]",
            "[[1,1],[-3,1]]  | 'logit_bias' as an array takes [token id, bias] or [text, bias] pairs (ids non-negative integers, texts not empty); element 1 is [-3,1]",
            "[[\"\",1]]       | 'logit_bias' as an array takes [token id, bias] or [text, bias] pairs (ids non-negative integers, texts not empty); element 0 is [\"\",1]",
            "[[2,1],[2,-1]]  | 'logit_bias' names token 2 twice",
            "[[\"ab\",1],[\"b\",2]] | 'logit_bias' names token 98 twice (element 1, \"b\", has it too)",
            "[[97,1],[\"a\",2]] | 'logit_bias' names token 97 twice (element 1, \"a\", has it too)",
            "[[\"a\",true]]   | 'logit_bias' of token \"a\" must be a number between -100 and 100 (or false to ban it), got true",
    })
    void logitBiasErrorsNameTheEntry(String json, String message) {
        ApiException e = catchThrowableOfType(ApiException.class, () -> logitBias(json));
        assertThat(e.param).isEqualTo("logit_bias");
        assertThat(e.getMessage()).isEqualTo(message);
    }

    /** Parsed and resolved with a stand-in tokenizer whose tokens are the text's characters. */
    private static java.util.Map<Integer, Float> logitBias(String json) {
        RequestParser.LogitBias b = RequestParser.logitBias(new Fields(RequestParser.parseObject(("{\"logit_bias\":" + json + "}")
                .getBytes(StandardCharsets.UTF_8))));
        return RequestParser.resolve(b, text -> text.chars().toArray());
    }

    /** The message of the 400 that parsing {@code body} answers. */
    private static String parseError(String body) {
        ApiException e = catchThrowableOfType(ApiException.class, () -> RequestParser.parseObject(body.getBytes(StandardCharsets.UTF_8)));
        assertThat(e.status).isEqualTo(400);
        assertThat(e.code).isEqualTo("invalid_json");
        return e.getMessage();
    }
}
