package moge.server.api;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** Finding calls in answer text: whole, and streamed in pieces cut anywhere (inside the markers too). */
class ToolCallStreamTest {
    static final String OPEN = "[unused11]", CLOSE = "[unused12]";

    static ToolSpec spec(String extra) {
        return ToolSpec.parse((ObjectNode) RequestParser.parseObject(("""
                {"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}},
                          {"type":"function","function":{"name":"add","parameters":{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}}}}}]"""
                + extra + "}").getBytes()));
    }

    static ToolCallStream.Out whole(ToolSpec s, String text) {
        return ToolCallStream.parse(s, OPEN, CLOSE, text);
    }

    /** The text fed in random pieces: what comes out in total must not depend on where the pieces were cut. */
    static ToolCallStream.Out pieces(ToolSpec s, String text, long seed) {
        return pieces(new ToolCallStream(s, OPEN, CLOSE), text, seed);
    }

    static ToolCallStream.Out pieces(ToolCallStream st, String text, long seed) {
        Random r = new Random(seed);
        StringBuilder content = new StringBuilder();
        List<ToolCallStream.ToolCall> calls = new ArrayList<>();
        List<ToolCallStream.Delta> deltas = new ArrayList<>();
        for (int i = 0; i < text.length(); ) {
            int n = Math.min(text.length() - i, 1 + r.nextInt(6));
            ToolCallStream.Out o = st.push(text.substring(i, i + n));
            content.append(o.content());
            calls.addAll(o.calls());
            deltas.addAll(o.deltas());
            i += n;
        }
        ToolCallStream.Out o = st.finish();
        content.append(o.content());
        calls.addAll(o.calls());
        deltas.addAll(o.deltas());
        return new ToolCallStream.Out(content.toString(), calls, deltas);
    }

    static void sameEitherWay(ToolSpec s, String text, String content, String... callText) {
        for (long seed = 0; seed < 20; seed++) {
            ToolCallStream.Out o = seed == 0 ? whole(s, text) : pieces(s, text, seed);
            assertThat(o.content()).as("seed %d", seed).isEqualTo(content);
            assertThat(o.calls().stream().map(c -> c.name() + c.arguments()).toList()).as("seed %d", seed).containsExactly(callText);
            for (ToolCallStream.ToolCall c : o.calls()) assertThat(c.id()).matches("call_[A-Za-z0-9]{24}");
            assertThat(joined(o.deltas())).as("seed %d: the streamed parts make the calls", seed).isEqualTo(o.calls());
        }
    }

    /** The calls the deltas spell: a head opens call i (its index), pieces add to its arguments. */
    static List<ToolCallStream.ToolCall> joined(List<ToolCallStream.Delta> deltas) {
        List<String[]> calls = new ArrayList<>();
        for (ToolCallStream.Delta d : deltas) {
            if (d.head()) {
                assertThat(d.index()).isEqualTo(calls.size());
                assertThat(d.arguments()).isEmpty();
                calls.add(new String[]{d.id(), d.name(), ""});
            } else {
                assertThat(d.index()).isLessThan(calls.size());
                calls.get(d.index())[2] += d.arguments();
            }
        }
        return calls.stream().map(c -> new ToolCallStream.ToolCall(c[0], c[1], c[2])).toList();
    }

    @Test
    void callsAfterTextAreFoundAndTheTextKept() {
        sameEitherWay(spec(""), "Let me look.[unused11][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}][unused12]",
                "Let me look.", "get_weather{\"city\":\"Paris\"}");
    }

    @Test
    void severalCallsInOneBlockOrSeveralBlocks() {
        sameEitherWay(spec(""), "[unused11][{\"name\":\"add\",\"arguments\":{\"a\":1,\"b\":2}},{\"name\":\"get_weather\",\"arguments\":{}}][unused12]"
                + "\n[unused11]{\"name\":\"add\",\"arguments\":\"{\\\"a\\\": 5}\"}[unused12]", "\n",
                "add{\"a\":1,\"b\":2}", "get_weather{}", "add{\"a\":5}");
    }

    @Test
    void withoutParallelCallsOnlyTheFirstIsKept() {
        sameEitherWay(spec(",\"parallel_tool_calls\":false"),
                "[unused11][{\"name\":\"add\",\"arguments\":{\"a\":1}},{\"name\":\"add\",\"arguments\":{\"a\":2}}][unused12]", "", "add{\"a\":1}");
    }

    @Test
    void anUnclosedBlockAtTheEndIsJudgedAsItStands() {
        sameEitherWay(spec(""), "ok [unused11][{\"name\":\"add\",\"arguments\":{\"a\":1}}]", "ok ", "add{\"a\":1}");
        sameEitherWay(spec(""), "ok [unused11][{\"name\":\"add\",\"argu", "ok [unused11][{\"name\":\"add\",\"argu[unused12]");
    }

    @Test
    void whatIsNotACallStaysText() {
        // not JSON, an undeclared function, arguments that are not an object, a marker's prefix that never completes
        sameEitherWay(spec(""), "a [unused11]not json[unused12] b", "a [unused11]not json[unused12] b");
        sameEitherWay(spec(""), "[unused11]{\"name\":\"rm_rf\",\"arguments\":{}}[unused12]", "[unused11]{\"name\":\"rm_rf\",\"arguments\":{}}[unused12]");
        sameEitherWay(spec(""), "[unused11]{\"name\":\"add\",\"arguments\":[1]}[unused12]", "[unused11]{\"name\":\"add\",\"arguments\":[1]}[unused12]");
        sameEitherWay(spec(""), "plain text [unused1", "plain text [unused1");
        sameEitherWay(spec(""), "no calls at all", "no calls at all");
    }

    @Test
    void aForcedAnswerIsTheCallsJson() {
        ToolSpec required = spec(",\"tool_choice\":\"required\"");
        sameEitherWay(required, "[{\"name\": \"add\", \"arguments\": {\"a\": 1, \"b\": 2}}]", "", "add{\"a\":1,\"b\":2}");
        sameEitherWay(required, " [unused11][{\"name\":\"add\",\"arguments\":{}}][unused12]", "", "add{}");
        // cut short (max_tokens): the text is the content
        sameEitherWay(required, "[{\"name\": \"add\", \"argum", "[{\"name\": \"add\", \"argum");
    }

    /** Enforced blocks, read as they stream: the arguments are the model's JSON without its white space. */
    static void incremental(ToolSpec s, String text, String content, boolean truncated, String... callText) {
        for (long seed = 0; seed < 30; seed++) {
            ToolCallStream st = new ToolCallStream(s, OPEN, CLOSE, true);
            ToolCallStream.Out o = seed == 0 ? ToolCallStream.all(st, text) : pieces(st, text, seed);
            assertThat(o.content()).as("seed %d", seed).isEqualTo(content);
            assertThat(o.calls().stream().map(c -> c.name() + c.arguments()).toList()).as("seed %d", seed).containsExactly(callText);
            assertThat(joined(o.deltas())).as("seed %d", seed).isEqualTo(o.calls());
            assertThat(st.truncated()).isEqualTo(truncated);
        }
    }

    @Test
    void enforcedCallsStreamTheirArgumentsAsTheyCome() {
        incremental(spec(""), "Let me add.[unused11][{\"name\": \"add\", \"arguments\": {\"a\": 1, \"b\": [2, \"x y\"]}}, "
                + "{\"name\":\"get_weather\",\"arguments\":{\"city\":\"New \\\"York\\\" }\"}}][unused12] done",
                "Let me add. done", false, "add{\"a\":1,\"b\":[2,\"x y\"]}", "get_weather{\"city\":\"New \\\"York\\\" }\"}");
        incremental(spec(""), "[unused11]{\"name\": \"add\", \"arguments\": {}}[unused12]", "", false, "add{}");
        incremental(spec(",\"parallel_tool_calls\":false"), "[unused11][{\"name\":\"add\",\"arguments\":{\"a\":1}}][unused12]"
                + "[unused11][{\"name\":\"add\",\"arguments\":{\"a\":2}}][unused12]", "", false, "add{\"a\":1}");
        ToolSpec required = spec(",\"tool_choice\":\"required\"");
        incremental(required, " [{\"name\": \"add\", \"arguments\": {\"a\": 10}}, {\"name\": \"add\", \"arguments\": {\"b\": 2}}]\n",
                "", false, "add{\"a\":10}", "add{\"b\":2}");
    }

    @Test
    void aCallCutShortStaysACallWithTheArgumentsItGot() {
        incremental(spec(",\"tool_choice\":\"required\""), "[{\"name\": \"add\", \"arguments\": {\"a\": 1, \"b", "", true,
                "add{\"a\":1,\"b");
        incremental(spec(""), "ok [unused11][{\"name\":\"add\",\"arguments\":{\"a\":", "ok ", true, "add{\"a\":");
        // cut before the name was whole: nothing was announced, the text stays text as before
        incremental(spec(",\"tool_choice\":\"required\""), "[{\"name\": \"ad", "[{\"name\": \"ad", false);
        incremental(spec(""), "ok [unused11][{\"na", "ok [unused11][{\"na[unused12]", false);
    }

    @Test
    void whatTheReaderCannotFollowIsParsedWhole() {
        // arguments as a JSON string (some models' habit): not streamed, but still a call once the block is whole
        incremental(spec(""), "[unused11]{\"name\":\"add\",\"arguments\":\"{\\\"a\\\": 5}\"}[unused12]", "", false, "add{\"a\":5}");
        incremental(spec(",\"tool_choice\":\"required\""), " [unused11][{\"name\":\"add\",\"arguments\":{}}][unused12]", "", false, "add{}");
        incremental(spec(""), "a [unused11]not json[unused12] b", "a [unused11]not json[unused12] b", false);
    }

    @Test
    void partialMarkerIsTheLongestTailThatStartsTheMarker() {
        assertThat(ToolCallStream.partialMarker("abc[unu", OPEN)).isEqualTo(4);
        assertThat(ToolCallStream.partialMarker("abc[unused11", OPEN)).isEqualTo(9);
        assertThat(ToolCallStream.partialMarker("abc", OPEN)).isZero();
        assertThat(ToolCallStream.partialMarker("[", OPEN)).isEqualTo(1);
    }
}
