package moge.tokenizer;

import moge.chat.ChatMessage;
import moge.chat.ChatTemplate;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The reference prompts must tokenize to exactly the expected ids, and the generated ids decode to the expected text. */
class FixtureTokenizationTest {

    static List<TokenizerFixtures.Expected> expected() {
        return TokenizerFixtures.expected();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("expected")
    void promptIds(TokenizerFixtures.Expected e) {
        SentencePieceTokenizer tok = SentencePieceTokenizer.loadHf(e.modelDir());
        int[] want = e.ids("prompt_ids");
        switch (e.mode()) {
            case "text" -> assertThat(tok.encodePrompt(e.prompt("text"))).containsExactly(want);
            case "chat" -> {
                List<ChatMessage> messages = new ArrayList<>();
                if (e.prompt("system") != null) messages.add(ChatMessage.system(e.prompt("system")));
                messages.add(ChatMessage.user(e.prompt("user")));
                ChatTemplate template = ChatTemplate.load(e.modelDir(), tok);
                assertThat(template.isBuiltIn()).isFalse();
                assertThat(tok.encodePrompt(template.render(messages, true))).containsExactly(want);
                // the built-in fallback must agree with the shipped template
                assertThat(tok.encodePrompt(ChatTemplate.openPangu().render(messages, true))).containsExactly(want);
            }
            case "ids" -> assertThat(want).isNotEmpty(); // used verbatim: nothing to encode
            default -> throw new AssertionError("unknown prompt mode " + e.mode());
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("expected")
    void generatedIdsDecodeToText(TokenizerFixtures.Expected e) {
        SentencePieceTokenizer tok = SentencePieceTokenizer.loadHf(e.modelDir());
        int[] generated = e.ids("generated_ids");
        String text = e.json().get("text").asText();
        assertThat(tok.decode(generated)).isEqualTo(text);

        StreamDecoder stream = tok.newStreamDecoder();
        StringBuilder sb = new StringBuilder();
        for (int id : generated) sb.append(stream.push(id));
        sb.append(stream.flush());
        assertThat(sb.toString()).isEqualTo(text);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("expected")
    void eosIsEndOfTurn(TokenizerFixtures.Expected e) {
        SentencePieceTokenizer tok = SentencePieceTokenizer.loadHf(e.modelDir());
        assertThat(tok.special().eos()).isEqualTo(e.json().get("eos_id").asInt());
        assertThat(tok.piece(tok.special().eos())).isEqualTo(ChatTemplate.END_OF_TURN);
    }
}
