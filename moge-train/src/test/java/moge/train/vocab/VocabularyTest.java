package moge.train.vocab;

import moge.chat.ChatMessage;
import moge.chat.ChatTemplate;
import moge.tokenizer.HfTokenizerLoader;
import moge.tokenizer.SentencePieceModelFile;
import moge.tokenizer.SentencePieceTokenizer;
import moge.train.data.ChatFormat;
import moge.train.data.DataMix;
import moge.train.data.Problem;
import moge.train.data.Tasks;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** The written tokenizer.model and tokenizer configs load with the project's SentencePiece reader and behave. */
class VocabularyTest {
    @TempDir
    static Path dir;
    static Vocabulary vocab;
    static SentencePieceTokenizer tok;

    @BeforeAll
    static void build() throws Exception {
        vocab = Vocabulary.train(Vocabulary.segments(DataMix.tokenizerText()), 768);
        vocab.write(dir);
        tok = HfTokenizerLoader.load(dir);
    }

    @Test
    void modelFileDeclaresBpeWithByteFallbackAndIdentityNormalizer() {
        SentencePieceModelFile m = SentencePieceModelFile.read(dir.resolve("tokenizer.model"));
        assertThat(m.pieces()).hasSize(768);
        assertThat(m.modelType()).isEqualTo(SentencePieceModelFile.MODEL_BPE);
        assertThat(m.byteFallback()).isTrue();
        assertThat(m.addDummyPrefix()).isTrue();
        assertThat(m.removeExtraWhitespaces()).isFalse();
        assertThat(m.escapeWhitespaces()).isTrue();
        assertThat(m.normalizerName()).isEqualTo("identity");
        assertThat(m.pieces()[0]).isEqualTo("<unk>");
        assertThat(m.pieces()[39]).isEqualTo("<0x00>");
        assertThat(m.pieces()[39 + 255]).isEqualTo("<0xFF>");
    }

    @Test
    void specialTokensAreFoundByName() {
        assertThat(tok.special().bos()).isEqualTo(tok.tokenId("<s>").getAsInt());
        assertThat(tok.special().eos()).isEqualTo(tok.tokenId("[unused10]").getAsInt());
        for (String s : List.of("[unused9]", "[unused10]", "[unused16]", "[unused17]", "<|User|>:", "<|Bot|>:", "[unused33]")) {
            assertThat(tok.tokenId(s)).as(s).isPresent();
            assertThat(tok.encode(s)).as(s).containsExactly(tok.tokenId(s).getAsInt());
        }
    }

    @Test
    void digitsAreSinglePiecesAndTextRoundTrips() {
        int[] ids = tok.encode("4738+2586=7324");
        assertThat(ids).hasSize(1 + 14); // "▁" then one piece per character
        SplittableRandom r = new SplittableRandom(1);
        for (String cls : List.of("add_small", "sub", "mul", "add_big", "chat")) {
            for (int i = 0; i < 20; i++) {
                Problem p = Tasks.generate(cls, r);
                for (String s : List.of(p.question(), p.working(), p.answer())) {
                    assertThat(tok.decode(tok.encode(s))).isEqualTo(s);
                }
            }
        }
        // every character of a working is its own token, so copies between lines are at fixed token distances
        for (String cls : List.of("add_small", "sub", "mul", "add_big")) {
            Problem p = Tasks.generate(cls, r);
            assertThat(tok.encode(p.working())).as(p.working()).hasSize(1 + p.working().length());
        }
        // characters the vocabulary never saw fall back to bytes and still round-trip
        String rare = "naïve ☃ 𝔘 Zürich";
        int[] rareIds = tok.encode(rare);
        assertThat(tok.decode(rareIds)).isEqualTo(rare);
        assertThat(rareIds).contains(tok.tokenId("<0xE2>").getAsInt());
    }

    @Test
    void chatFormatMatchesTheShippedTemplateAndTokenizesIdentically() throws Exception {
        ChatTemplate t = ChatTemplate.load(dir, tok);
        assertThat(t.isBuiltIn()).isFalse();
        SplittableRandom r = new SplittableRandom(3);
        Problem p1 = Tasks.generate("add_big", r), p2 = Tasks.generate("mul", r);
        List<ChatFormat.Part> parts = ChatFormat.conversation(null, List.of(p1, p2),
                List.of(ChatFormat.Mode.FAST, ChatFormat.Mode.SLOW), true);
        String rendered = t.render(List.of(
                new ChatMessage("user", p1.question() + " /no_think"),
                new ChatMessage("assistant", p1.answer()),
                new ChatMessage("user", p2.question())), true);
        assertThat(parts.get(0).text()).isEqualTo(rendered);
        String full = rendered + parts.get(1).text();
        ChatFormat.Example e = ChatFormat.encode(tok, parts, false);
        assertThat(e.tokens()).containsExactly(tok.encodePrompt(full));
        assertThat(Files.readString(dir.resolve("tokenizer_config.json"))).contains("\"chat_template\"", "PanguTokenizer");
    }

    @Test
    void trainingIsDeterministic() {
        Vocabulary again = Vocabulary.train(Vocabulary.segments(DataMix.tokenizerText()), 768);
        assertThat(again.modelBytes()).isEqualTo(vocab.modelBytes());
    }
}
