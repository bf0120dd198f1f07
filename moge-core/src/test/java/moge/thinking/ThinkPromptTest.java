package moge.thinking;

import moge.Fixtures;
import moge.chat.ChatMessage;
import moge.chat.ChatTemplate;
import moge.tokenizer.SentencePieceTokenizer;
import moge.tokenizer.SpecialTokens;
import moge.tokenizer.StreamDecoder;
import moge.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ThinkPromptTest {
    static final Path DIR = Fixtures.model("pangu-embedded-tiny");
    static final SentencePieceTokenizer TOK = SentencePieceTokenizer.loadHf(DIR);

    @Test
    void markersAreFoundByNameInTheFixtureVocabulary() {
        ThinkProtocol p = ThinkProtocol.of(TOK);
        assertThat(p.openId()).isEqualTo(21);
        assertThat(p.closeId()).isEqualTo(22);
        assertThat(p.open()).isEqualTo("[unused16]");
        assertThat(p.fastSuffix()).isEqualTo(" /no_think");
        assertThat(p.autoSuffix()).isEqualTo(" /auto_think");
    }

    @Test
    void otherVocabulariesUseThinkTagsOrNothing() {
        ThinkProtocol qwen = ThinkProtocol.of(new NamesOnly(Map.of("<think>", 151667, "</think>", 151668)));
        assertThat(qwen).isEqualTo(new ThinkProtocol("<think>", "</think>", 151667, 151668, " /no_think", null));
        assertThat(ThinkProtocol.of(new NamesOnly(Map.of("<s>", 1))).hasMarkers()).isFalse();
        assertThat(ThinkProtocol.of(new NamesOnly(Map.of("[unused16]", 5)))).isEqualTo(ThinkProtocol.NONE);
        // auto mode on a protocol without an automatic switch is the model's default, in the CLI and the server alike
        assertThat(ThinkingRunner.autoReason(qwen, true)).isEqualTo("the model's default (its protocol has no automatic switch)");
        ThinkProtocol pangu = ThinkProtocol.of(new NamesOnly(Map.of("[unused16]", 5, "[unused17]", 6)));
        assertThat(ThinkingRunner.autoReason(pangu, false)).isEqualTo("the model chose to answer directly (auto mode)");
    }

    @Test
    void modesRenderThroughTheModelsTemplateExactly() {
        ChatTemplate t = ChatTemplate.load(DIR, TOK);
        assertThat(t.isBuiltIn()).isFalse();
        ThinkProtocol p = ThinkProtocol.of(TOK);
        List<ChatMessage> conv = List.of(ChatMessage.user("What is 12+30?"));
        String base = "[unused9]系统：[unused10][unused9]用户：What is 12+30?";
        assertThat(ThinkPrompt.render(t, conv, ThinkingMode.SLOW, p)).isEqualTo(base + "[unused10][unused9]助手：");
        assertThat(ThinkPrompt.render(t, conv, ThinkingMode.FAST, p)).isEqualTo(base + " /no_think[unused10][unused9]助手：");
        assertThat(ThinkPrompt.render(t, conv, ThinkingMode.AUTO, p)).isEqualTo(base + " /auto_think[unused10][unused9]助手：");
        // the built-in format gives the same strings
        for (ThinkingMode m : List.of(ThinkingMode.SLOW, ThinkingMode.FAST, ThinkingMode.AUTO)) {
            assertThat(ThinkPrompt.render(ChatTemplate.openPangu(), conv, m, p)).isEqualTo(ThinkPrompt.render(t, conv, m, p));
        }
        // and the token ids: the switch is ordinary text before the end-of-turn token
        int[] ids = TOK.encodePrompt(ThinkPrompt.render(t, conv, ThinkingMode.FAST, p));
        assertThat(TOK.decode(ids)).endsWith("What is 12+30? /no_think[unused10][unused9]助手：");
    }

    @Test
    void onlyTheLastUserTurnIsSwitchedAndNeverTwice() {
        ThinkProtocol p = ThinkProtocol.of(TOK);
        List<ChatMessage> conv = List.of(ChatMessage.system("Be brief."), ChatMessage.user("a"), ChatMessage.assistant("b"),
                ChatMessage.user("c /no_think"));
        assertThat(ThinkPrompt.rewrite(conv, ThinkingMode.FAST, p)).containsExactlyElementsOf(conv);
        assertThat(ThinkPrompt.rewrite(conv, ThinkingMode.AUTO, p).get(3).content()).isEqualTo("c /no_think /auto_think");
        assertThat(ThinkPrompt.rewrite(conv, ThinkingMode.AUTO, p).subList(0, 3)).containsExactlyElementsOf(conv.subList(0, 3));
        assertThat(ThinkPrompt.rewrite(conv, ThinkingMode.SLOW, p)).containsExactlyElementsOf(conv);
        assertThat(ThinkPrompt.rewrite(conv, ThinkingMode.FAST, ThinkProtocol.NONE)).containsExactlyElementsOf(conv);
        assertThatThrownBy(() -> ThinkPrompt.rewrite(conv, ThinkingMode.CASCADE, p)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aSwitchTypedAtTheEndOfTheLastUserTurnDecidesTheMode() {
        ThinkProtocol p = ThinkProtocol.of(TOK);
        ThinkingOptions slow = ThinkingOptions.of(ThinkingMode.SLOW);
        assertThat(ThinkPrompt.typedMode(List.of(ChatMessage.user("What is 4721*1? /no_think")), p)).isEqualTo(ThinkingMode.FAST);
        assertThat(ThinkPrompt.typedMode(List.of(ChatMessage.user("hi /auto_think \n")), p)).isEqualTo(ThinkingMode.AUTO);
        assertThat(ThinkPrompt.typedMode(List.of(ChatMessage.user("/no_think")), p)).isEqualTo(ThinkingMode.FAST);
        // only at the end, only in the last user turn, only with the protocol's own switches
        assertThat(ThinkPrompt.typedMode(List.of(ChatMessage.user("what does /no_think do?")), p)).isNull();
        assertThat(ThinkPrompt.typedMode(List.of(ChatMessage.user("a /no_think"), ChatMessage.assistant("b"), ChatMessage.user("c")), p))
                .isNull();
        assertThat(ThinkPrompt.typedMode(List.of(ChatMessage.user("a /no_think")), ThinkProtocol.NONE)).isNull();
        List<ChatMessage> typed = List.of(ChatMessage.user("c /no_think "));
        assertThat(ThinkPrompt.withTypedMode(slow, typed, p).mode()).isEqualTo(ThinkingMode.FAST);
        assertThat(ThinkPrompt.withTypedMode(slow, List.of(ChatMessage.user("c")), p)).isSameAs(slow);
        // a switch followed by white space is not added again
        assertThat(ThinkPrompt.rewrite(typed, ThinkingMode.FAST, p)).containsExactlyElementsOf(typed);
    }

    @Test
    void templatesThatReadEnableThinkingSeeTheMode() {
        String src = "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}<assistant>"
                + "{% if enable_thinking is defined and not enable_thinking %}<think></think>{% else %}<think>{% endif %}"
                + "[{{ thinking_mode }}/{{ reasoning_effort }}]";
        ChatTemplate t = ChatTemplate.of("test", src, "<s>", "</s>");
        List<ChatMessage> conv = List.of(ChatMessage.user("hi"));
        assertThat(ThinkPrompt.render(t, conv, ThinkingMode.FAST, ThinkProtocol.NONE)).isEqualTo("<user>hi<assistant><think></think>[fast/low]");
        assertThat(ThinkPrompt.render(t, conv, ThinkingMode.SLOW, ThinkProtocol.NONE)).isEqualTo("<user>hi<assistant><think>[slow/high]");
        assertThat(ThinkPrompt.render(t, conv, ThinkingMode.AUTO, ThinkProtocol.NONE)).isEqualTo("<user>hi<assistant><think>[auto/medium]");
        // caller kwargs win over the mode's
        assertThat(ThinkPrompt.render(t, conv, ThinkingMode.SLOW, ThinkProtocol.NONE, Map.of("enable_thinking", false)))
                .isEqualTo("<user>hi<assistant><think></think>[slow/high]");
    }

    @Test
    void modeNamesAndAliases() {
        assertThat(ThinkingMode.parse(" Cascade ")).isEqualTo(ThinkingMode.CASCADE);
        assertThat(ThinkingMode.fromReasoningEffort("low")).isEqualTo(ThinkingMode.FAST);
        assertThat(ThinkingMode.fromReasoningEffort("medium")).isEqualTo(ThinkingMode.AUTO);
        assertThat(ThinkingMode.fromReasoningEffort("high")).isEqualTo(ThinkingMode.SLOW);
        assertThatThrownBy(() -> ThinkingMode.parse("deep")).isInstanceOf(moge.MogeException.class).hasMessageContaining("'deep'");
        assertThatThrownBy(() -> ThinkingMode.fromReasoningEffort("max")).isInstanceOf(moge.MogeException.class);
    }

    /** A vocabulary that only answers name lookups. */
    record NamesOnly(Map<String, Integer> ids) implements Tokenizer {
        public int[] encode(String text) {
            throw new UnsupportedOperationException();
        }

        public String decode(int[] ids) {
            throw new UnsupportedOperationException();
        }

        public StreamDecoder newStreamDecoder(moge.tokenizer.TextMode mode) {
            throw new UnsupportedOperationException();
        }

        public int vocabSize() {
            return 200000;
        }

        public String piece(int id) {
            return "";
        }

        public OptionalInt tokenId(String piece) {
            Integer id = ids.get(piece);
            return id == null ? OptionalInt.empty() : OptionalInt.of(id);
        }

        public SpecialTokens special() {
            return new SpecialTokens(-1, -1, -1, -1, false);
        }
    }
}
