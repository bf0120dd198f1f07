package moge.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import moge.server.sched.SequenceResult;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class ResponseJsonTest {
    @Test
    void timingRatesAreTheCountsOverTheTimesShownNextToThem() {
        // 40 prompt tokens, 10 of them cached; 32 generated
        SequenceResult r = new SequenceResult("stop", "", new int[32], 40, 10, 32, 0, 120.5, 410.76, 1.0, 0, 0);
        JsonNode t = ResponseJson.timings(r);
        assertThat(t.path("prompt_n").asInt()).isEqualTo(30);
        assertThat(t.path("prompt_per_second").asDouble()).isCloseTo(30 / 120.5 * 1000, within(1e-9));
        assertThat(t.path("prompt_per_token_ms").asDouble()).isCloseTo(120.5 / 30, within(1e-9));
        assertThat(t.path("predicted_n").asInt()).isEqualTo(32);
        assertThat(t.path("predicted_per_second").asDouble()).isCloseTo(32 / 410.76 * 1000, within(1e-9));
        assertThat(t.path("predicted_per_token_ms").asDouble()).isCloseTo(410.76 / 32, within(1e-9));
        assertThat(t.has("draft_n")).isFalse();
    }

    /** Which text fields a streamed chat delta has: content is left out of a delta of reasoning alone. */
    @Test
    void chatDeltaShapes() {
        assertThat(ResponseJson.chatDelta("let me see", "", false).toString())
                .isEqualTo("{\"reasoning_content\":\"let me see\",\"reasoning\":\"let me see\"}");
        assertThat(ResponseJson.chatDelta("so 5.", "It is", false).toString())
                .isEqualTo("{\"content\":\"It is\",\"reasoning_content\":\"so 5.\",\"reasoning\":\"so 5.\"}");
        assertThat(ResponseJson.chatDelta("", " 5", false).toString()).isEqualTo("{\"content\":\" 5\"}");
        assertThat(ResponseJson.chatDelta("", "", false).toString()).isEqualTo("{\"content\":\"\"}");
        assertThat(ResponseJson.chatDelta("", "", true).toString()).isEqualTo("{}");
    }

    @Test
    void nothingTimedIsRateZero() {
        JsonNode t = ResponseJson.timings(new SequenceResult("length", "", new int[1], 5, 5, 1, 0, 0, 0, 0, 0, 0));
        assertThat(t.path("predicted_per_second").asDouble()).isZero();
        assertThat(t.path("prompt_per_second").asDouble()).isZero();
        assertThat(t.path("prompt_per_token_ms").asDouble()).isZero();
    }
}
