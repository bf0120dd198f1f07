package moge.tokenizer;

import moge.MogeException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SentencePieceModelFileTest {
    private static final byte[] MODEL = TokenizerFixtures.modelBytes();

    @Test
    void readsTheFixtureModel() {
        SentencePieceModelFile m = SentencePieceModelFile.read(TokenizerFixtures.MOE_DIR.resolve("tokenizer.model"));
        assertThat(m.pieces()).hasSize(1280);
        assertThat(m.modelType()).isEqualTo(SentencePieceModelFile.MODEL_BPE);
        assertThat(m.byteFallback()).isTrue();
        assertThat(m.normalizerName()).isEqualTo("identity");
        assertThat(m.precompiledCharsmap()).isEmpty();
        assertThat(m.addDummyPrefix()).isTrue();
        assertThat(m.removeExtraWhitespaces()).isFalse();
        assertThat(m.escapeWhitespaces()).isTrue();
        assertThat(m.unkId()).isZero();
        assertThat(m.bosId()).isEqualTo(1);
        assertThat(m.eosId()).isEqualTo(2);
        assertThat(m.padId()).isEqualTo(-1);
        assertThat(m.pieces()[14]).isEqualTo("[unused9]");
        assertThat(m.types()[14]).isEqualTo(PieceType.USER_DEFINED);
        assertThat(m.types()[1]).isEqualTo(PieceType.CONTROL);
        assertThat(m.types()[0]).isEqualTo(PieceType.UNKNOWN);
        assertThat(m.pieces()[39]).isEqualTo("<0x00>");
        assertThat(m.types()[39]).isEqualTo(PieceType.BYTE);
        assertThat(m.pieces()[1161]).isEqualTo("▁");
        assertThat(m.scores()[1161]).isEqualTo(-866f);
    }

    @Test
    void missingFileNamesThePath(@TempDir Path dir) {
        Path file = dir.resolve("tokenizer.model");
        assertThatThrownBy(() -> SentencePieceModelFile.read(file))
                .isInstanceOf(MogeException.class)
                .hasMessageStartingWith("tokenizer.model: ")
                .hasMessageContaining(file.toString())
                .hasMessageContaining("does not exist");
    }

    @Test
    void emptyAndForeignFilesAreRejected(@TempDir Path dir) throws IOException {
        Path empty = Files.write(dir.resolve("tokenizer.model"), new byte[0]);
        assertThatThrownBy(() -> SentencePieceModelFile.read(empty)).isInstanceOf(MogeException.class)
                .hasMessageContaining("no pieces");
        Path json = Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": {\"type\": \"BPE\"}}");
        assertThatThrownBy(() -> SentencePieceModelFile.read(json)).isInstanceOf(MogeException.class)
                .hasMessageStartingWith("tokenizer.json: ");
    }

    @Test
    void unigramModelsAreRefusedClearly() {
        // TrainerSpec with model_type = UNIGRAM (1) and one piece
        byte[] bytes = {0x0a, 0x05, 0x0a, 0x01, 'a', 0x18, 0x02, 0x12, 0x02, 0x18, 0x01};
        assertThatThrownBy(() -> SentencePieceModelFile.parse(bytes, "x.model"))
                .isInstanceOf(MogeException.class).hasMessageContaining("UNIGRAM");
    }

    @Test
    void everyTruncationFailsCleanly() {
        // every prefix that is a whole number of top-level fields may parse; all others must fail with MogeException
        for (int len = 0; len < MODEL.length; len += 7) assertParsesOrMogeException(Arrays.copyOf(MODEL, len));
        for (int len = MODEL.length - 300; len < MODEL.length; len++) assertParsesOrMogeException(Arrays.copyOf(MODEL, len));
        assertThatThrownBy(() -> SentencePieceModelFile.parse(Arrays.copyOf(MODEL, MODEL.length - 1), "t"))
                .isInstanceOf(MogeException.class).hasMessageStartingWith("t is not a valid SentencePiece model: ");
    }

    @Test
    void randomTruncationsFlipsAndNoiseFailCleanly() {
        java.util.SplittableRandom r = new java.util.SplittableRandom(20261129);
        for (int i = 0; i < 300; i++) {
            assertParsesOrMogeException(Arrays.copyOf(MODEL, r.nextInt(MODEL.length)));
        }
        for (int i = 0; i < 500; i++) {
            byte[] bytes = MODEL.clone();
            int flips = 1 + r.nextInt(8);
            for (int f = 0; f < flips; f++) bytes[r.nextInt(bytes.length)] = (byte) r.nextInt(256);
            assertParsesOrMogeException(bytes);
        }
        for (int i = 0; i < 300; i++) {
            byte[] bytes = new byte[r.nextInt(201)];
            r.nextBytes(bytes);
            assertParsesOrMogeException(bytes);
        }
    }

    /** Whatever the bytes, the outcome is a model or a one-line MogeException: nothing else may escape. */
    private static void assertParsesOrMogeException(byte[] bytes) {
        try {
            SentencePieceModelFile m = SentencePieceModelFile.parse(bytes, "tokenizer.model: test");
            // a model that parses must also be usable
            SentencePieceTokenizer tok = SentencePieceTokenizer.fromModel(m, true);
            tok.decode(tok.encode("Hello [unused9] 世界 😀"));
        } catch (MogeException e) {
            assertThat(e.getMessage()).startsWith("tokenizer.model: test").doesNotContain("\n");
        }
    }
}
