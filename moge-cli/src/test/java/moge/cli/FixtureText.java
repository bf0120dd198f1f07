package moge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import moge.tokenizer.SentencePieceTokenizer;
import moge.tokenizer.StreamDecoder;
import moge.tokenizer.TextMode;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The text `generate` prints for a fixture. A fixture's {@code text} is the upstream decode of its generated ids
 * alone (a reply: special tokens verbatim, leading space dropped); a raw prompt's output continues the prompt,
 * so it keeps the leading space and leaves the special tokens out (llama.cpp's and vLLM's default).
 */
final class FixtureText {
    private FixtureText() {
    }

    static String expected(JsonNode exp) {
        if (exp.get("prompt").get("mode").asText().equals("chat")) return exp.get("text").asText();
        SentencePieceTokenizer tok = SentencePieceTokenizer.loadHf(BadInputTest.FIX.resolve(exp.get("model_dir").asText()));
        int[] ids = new int[exp.get("generated_ids").size()];
        for (int i = 0; i < ids.length; i++) ids[i] = exp.get("generated_ids").get(i).asInt();
        // the same ids decoded as a reply must give the fixture's text, or the continuation below proves nothing
        assertThat(tok.decode(ids)).isEqualTo(exp.get("text").asText());
        StreamDecoder d = tok.newStreamDecoder(TextMode.CONTINUATION);
        StringBuilder sb = new StringBuilder();
        for (int id : ids) sb.append(d.push(id));
        return sb.append(d.flush()).toString();
    }
}
