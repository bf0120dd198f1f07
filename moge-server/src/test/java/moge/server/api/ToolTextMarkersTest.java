package moge.server.api;

import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.constrain.OutputConstraint;
import moge.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * "auto" tool calls when the vocabulary has no single token for the call markers (a template's {@code <tool_call>}
 * in a plain vocabulary): the lazy constraint finds the marker in the text, enforces the calls' JSON after it and
 * then the closing text. Driven by the demo tokenizer with random logits, so every token the constraint lets through
 * is tried at some step; the text that comes out must hold one valid call, closed.
 */
class ToolTextMarkersTest {
    static final Tokenizer DEMO = ToolPromptTest.DEMO;
    static final ToolSpec SPEC = ToolSpec.parse((ObjectNode) RequestParser.parseObject(
            ("{\"messages\":[]," + ToolsServerTest.TOOLS + ",\"parallel_tool_calls\":false}").getBytes()));
    static final ToolPrompt TEXT_MARKERS = new ToolPrompt(piece -> -1);

    @Test
    void theMarkersAreTextsOfSeveralTokens() {
        assertThat(DEMO.encode(ToolPrompt.TEXT_OPEN).length).isGreaterThan(1);
        assertThat(DEMO.encode(ToolPrompt.TEXT_CLOSE).length).isGreaterThan(1);
        OutputConstraint c = new ResponseFormat(DEMO, DEMO.vocabSize()).autoCalls(SPEC, TEXT_MARKERS);
        assertThat(c.lazy()).isTrue();
        assertThat(c.triggerId()).isNegative();
        assertThat(new String(c.triggerText())).isEqualTo(ToolPrompt.TEXT_OPEN);
        assertThat(new String(c.triggerCloseText())).isEqualTo(ToolPrompt.TEXT_CLOSE);
    }

    @Test
    void aCallWrittenAfterATextMarkerIsValidAndClosed() throws Exception {
        OutputConstraint c = new ResponseFormat(DEMO, DEMO.vocabSize()).autoCalls(SPEC, TEXT_MARKERS);
        int vocab = DEMO.vocabSize();
        int[] prompt = DEMO.encodePrompt("What is 12+30?");
        int[] free = DEMO.encode("Let me add them. " + ToolPrompt.TEXT_OPEN);
        for (long seed = 0; seed < 6; seed++) {
            OutputConstraint.Tracker t = c.track(prompt.length, DEMO.eosIds());
            int[] h = Arrays.copyOf(prompt, prompt.length + free.length + 400);
            System.arraycopy(free, 0, h, prompt.length, free.length);
            int len = prompt.length + free.length;
            assertThat(t.inCall(h, len - 1)).as("the marker's last token is still missing").isFalse();
            assertThat(t.inCall(h, len)).as("the marker is written").isTrue();
            Random rnd = new Random(seed);
            float[] logits = new float[vocab];
            boolean closed = false;
            while (len < h.length) {
                for (int i = 0; i < vocab; i++) logits[i] = (float) rnd.nextGaussian();
                // a model that does not end the output here (an end is allowed too, and ends an unclosed call)
                for (int e : DEMO.eosIds()) logits[e] = Float.NEGATIVE_INFINITY;
                t.apply(logits, vocab, h, len);
                int best = 0;
                for (int i = 1; i < vocab; i++) if (logits[i] > logits[best]) best = i;
                h[len++] = best;
                if (!t.inCall(h, len)) {
                    closed = true;
                    break;
                }
            }
            assertThat(closed).as("seed %d: the call closed within 400 tokens: %s", seed, DEMO.decode(Arrays.copyOfRange(h, prompt.length, len))).isTrue();
            String text = DEMO.decode(Arrays.copyOfRange(h, prompt.length, len));
            assertThat(text).as("seed %d", seed).endsWith(ToolPrompt.TEXT_CLOSE);
            ToolCallStream.Out out = ToolCallStream.parse(SPEC, ToolPrompt.TEXT_OPEN, ToolPrompt.TEXT_CLOSE, text);
            assertThat(out.calls()).as("seed %d: %s", seed, text).hasSize(1);
            assertThat(ToolsAutoTest.valid(out.calls().getFirst())).as("seed %d: %s", seed, text).isTrue();
        }
    }
}
