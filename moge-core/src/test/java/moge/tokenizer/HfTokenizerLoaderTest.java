package moge.tokenizer;

import moge.MogeException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class HfTokenizerLoaderTest {

    /** A copy of the fixture tokenizer files, to be edited by a test. */
    private static Path copyFixture(Path dir) throws IOException {
        for (String f : new String[]{"tokenizer.model", "tokenizer_config.json", "special_tokens_map.json",
                "generation_config.json", "config.json"}) {
            Files.copy(TokenizerFixtures.MOE_DIR.resolve(f), dir.resolve(f));
        }
        return dir;
    }

    @Test
    void specialTokensAreResolvedByName() {
        SentencePieceTokenizer tok = SentencePieceTokenizer.loadHf(TokenizerFixtures.MOE_DIR);
        SpecialTokens s = tok.special();
        assertThat(s.bos()).isEqualTo(tok.tokenId("<s>").orElseThrow()).isEqualTo(1);
        assertThat(s.eos()).isEqualTo(tok.tokenId("[unused10]").orElseThrow()).isEqualTo(15);
        assertThat(s.pad()).isEqualTo(0);
        assertThat(s.unk()).isEqualTo(0);
        assertThat(s.addBos()).isTrue();
        assertThat(tok.eosIds()).containsExactly(15);
    }

    @Test
    void eosIdsCollectTheConfigsWithTheNamedEosFirst(@TempDir Path tmp) throws IOException {
        Path dir = copyFixture(tmp);
        Files.writeString(dir.resolve("generation_config.json"), "{\"eos_token_id\": [2, 15], \"bos_token_id\": 1}");
        Files.writeString(dir.resolve("config.json"), "{\"eos_token_id\": 22}");
        SentencePieceTokenizer tok = SentencePieceTokenizer.loadHf(dir);
        assertThat(tok.special().eos()).isEqualTo(15);
        assertThat(tok.eosIds()).containsExactly(15, 2, 22);
    }

    @Test
    void bosPolicyAndNamesComeFromTheConfig(@TempDir Path tmp) throws IOException {
        Path dir = copyFixture(tmp);
        String cfg = Files.readString(dir.resolve("tokenizer_config.json"))
                .replace("\"add_bos_token\": true", "\"add_bos_token\": \"false\"")
                .replace("\"eos_token\": \"[unused10]\"", "\"eos_token\": {\"content\": \"</s>\", \"lstrip\": false}");
        Files.writeString(dir.resolve("tokenizer_config.json"), cfg);
        SentencePieceTokenizer tok = SentencePieceTokenizer.loadHf(dir);
        assertThat(tok.special().addBos()).isFalse();
        assertThat(tok.special().eos()).isEqualTo(2);
        assertThat(tok.eosIds()).containsExactly(2, 15);
        assertThat(tok.encodePrompt("hi")).doesNotContain(1);
    }

    @Test
    void withoutHfConfigsTheModelsOwnSpecialPiecesAreUsed(@TempDir Path dir) throws IOException {
        Files.copy(TokenizerFixtures.MOE_DIR.resolve("tokenizer.model"), dir.resolve("tokenizer.model"));
        SentencePieceTokenizer tok = SentencePieceTokenizer.loadHf(dir);
        assertThat(tok.special()).isEqualTo(new SpecialTokens(1, 2, -1, 0, true));
        String chat = "[unused9]系统：[unused10][unused9]用户：hi[unused10][unused9]助手：";
        assertThat(tok.encode(chat)).containsExactly(TokenizerFixtures.tokenizer().encode(chat));
    }

    @Test
    void addedTokensPastTheModelGetTheirOwnIds(@TempDir Path tmp) throws IOException {
        Path dir = copyFixture(tmp);
        String cfg = Files.readString(dir.resolve("tokenizer_config.json")).replace("\"added_tokens_decoder\": {",
                "\"added_tokens_decoder\": {\"1300\": {\"content\": \"<tool_call>\", \"special\": false},");
        Files.writeString(dir.resolve("tokenizer_config.json"), cfg);
        SentencePieceTokenizer tok = SentencePieceTokenizer.loadHf(dir);
        assertThat(tok.vocabSize()).isEqualTo(1301);
        assertThat(tok.encode("a<tool_call>b")).containsExactly(297, 1300, 308);
        assertThat(tok.decode(new int[]{297, 1300, 308})).isEqualTo("a<tool_call>b");
        assertThat(tok.piece(1290)).isEmpty();
    }

    @Test
    void missingModelFileIsNamed(@TempDir Path dir) {
        assertThatThrownBy(() -> SentencePieceTokenizer.loadHf(dir))
                .isInstanceOf(MogeException.class)
                .hasMessageStartingWith("tokenizer.model: ")
                .hasMessageContaining(dir.toString());
    }

    @Test
    void corruptModelFileIsNamed(@TempDir Path tmp) throws IOException {
        Path dir = copyFixture(tmp);
        byte[] model = Files.readAllBytes(dir.resolve("tokenizer.model"));
        Files.write(dir.resolve("tokenizer.model"), Arrays.copyOf(model, model.length / 2));
        assertThatThrownBy(() -> SentencePieceTokenizer.loadHf(dir))
                .isInstanceOf(MogeException.class)
                .hasMessageStartingWith("tokenizer.model: " + dir.resolve("tokenizer.model"))
                .hasMessageContaining("not a valid SentencePiece model");
    }

    @Test
    void brokenJsonAndBadEosIdsAreNamed(@TempDir Path tmp) throws IOException {
        Path dir = copyFixture(tmp);
        Files.writeString(dir.resolve("generation_config.json"), "{\"eos_token_id\": 99999}");
        assertThatThrownBy(() -> SentencePieceTokenizer.loadHf(dir))
                .isInstanceOf(MogeException.class).hasMessageStartingWith("generation_config.json: eos_token_id 99999");
        Files.writeString(dir.resolve("generation_config.json"), "{\"eos_token_id\": 15}");
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"add_bos_token\": tru");
        assertThatThrownBy(() -> SentencePieceTokenizer.loadHf(dir))
                .isInstanceOf(MogeException.class).hasMessageStartingWith("tokenizer_config.json: cannot parse")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
    }
}
