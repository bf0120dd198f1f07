package moge.spec;

import moge.Fixtures;
import moge.MogeException;
import moge.format.DType;
import moge.model.LoadedModel;
import moge.model.Model;
import moge.model.ModelConfig;
import moge.model.ModelLoader;
import moge.model.TestModels;
import moge.model.Weights;
import moge.tensor.Matrix;
import moge.tokenizer.SpecialTokens;
import moge.tokenizer.StreamDecoder;
import moge.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalInt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Building drafts: the quantized self-copy, vocabulary checks, the factory and the shipped demo draft. */
class DraftSetupTest {
    @TempDir
    Path tmp;

    @Test
    void quantizedCopyQuantizesWholeBlockMatricesAndSharesTheRest() {
        // hidden 64 and ff 96 divide into blocks; the tied head is quantized, the embedding stays.
        ModelConfig c = TestModels.embedded(150, 64, 2, 4, 2, 16, 96, true, 1e4, true);
        try (LoadedModel lm = ModelLoader.load(TestModels.write(tmp.resolve("m"), c, DType.BF16, 3))) {
            for (DType t : new DType[]{DType.Q8_0, DType.Q4_0}) {
                try (QuantizedCopy q = QuantizedCopy.of(lm.weights, t, RefBlockMatrix::create, null)) {
                    Weights w = q.weights;
                    assertThat(w.embed).isSameAs(lm.weights.embed);
                    assertThat(w.finalNorm).isSameAs(lm.weights.finalNorm);
                    assertThat(w.lmHead.type()).isEqualTo(t);
                    Weights.Layer a = lm.weights.layers[1], b = w.layers[1];
                    for (Matrix[] pair : new Matrix[][]{{a.wq, b.wq}, {a.wk, b.wk}, {a.wv, b.wv}, {a.wo, b.wo}, {a.gate, b.gate},
                            {a.up, b.up}, {a.down, b.down}, {lm.weights.lmHead, w.lmHead}}) {
                        closeRows(pair[0], pair[1], t);
                    }
                    assertThat(b.bq).isSameAs(a.bq);
                    assertThat(b.attnNorm).isSameAs(a.attnNorm);
                    assertThat(q.quantizedMatrices()).isEqualTo(2 * 7 + 1);
                    assertThat(q.keptMatrices()).isZero();
                    long expect = 0;
                    for (Weights.Layer l : w.layers) {
                        for (Matrix m : new Matrix[]{l.wq, l.wk, l.wv, l.wo, l.gate, l.up, l.down}) expect += m.bytes();
                    }
                    assertThat(q.quantizedBytes()).isEqualTo(expect + w.lmHead.bytes());
                }
            }
        }
    }

    private static void closeRows(Matrix orig, Matrix quant, DType t) {
        assertThat(quant.type()).isEqualTo(t);
        assertThat(quant.rows).isEqualTo(orig.rows);
        assertThat(quant.cols).isEqualTo(orig.cols);
        float[] x = new float[orig.cols], y = new float[orig.cols];
        for (int r = 0; r < orig.rows; r += 7) {
            orig.row(r, x, 0);
            quant.row(r, y, 0);
            float amax = 0;
            for (float v : x) amax = Math.max(amax, Math.abs(v));
            double tol = (t == DType.Q8_0 ? 1.0 / 127 : 1.0 / 8) * amax * 1.01;
            for (int i = 0; i < x.length; i++) assertThat((double) Math.abs(x[i] - y[i])).isLessThanOrEqualTo(tol);
        }
    }

    @Test
    void quantizedCopyKeepsAwkwardWidthsAndMoeRouters() {
        // hidden 72 is not whole blocks: every matrix reading the hidden state stays as it is.
        ModelConfig c = TestModels.moge(90, 72, 1, 3, 1, 24, 4, 2, 2, 32, 0, null, 0, false, 1e4);
        try (LoadedModel lm = ModelLoader.load(TestModels.write(tmp.resolve("moe"), c, DType.F32, 4));
             QuantizedCopy q = QuantizedCopy.of(lm.weights, DType.Q8_0, RefBlockMatrix::create, null)) {
            Weights.Layer a = lm.weights.layers[0], b = q.weights.layers[0];
            assertThat(b.wq).isSameAs(a.wq);
            assertThat(b.router).isSameAs(a.router);
            assertThat(b.routerScale).isSameAs(a.routerScale);
            // expert down projections read the 32-wide expert hidden state: quantized
            for (int e = 0; e < 4; e++) {
                assertThat(b.expertGate[e]).isSameAs(a.expertGate[e]);
                assertThat(b.expertDown[e].type()).isEqualTo(DType.Q8_0);
            }
        }
        assertThatThrownBy(() -> QuantizedCopy.of(null, DType.Q4_K, RefBlockMatrix::create, null))
                .isInstanceOf(MogeException.class).hasMessageContaining("q8_0 or q4_0");
    }

    @Test
    void sharedVocabularyChecks() {
        try (LoadedModel a = ModelLoader.load(Fixtures.model("pangu-embedded-tiny"));
             LoadedModel b = ModelLoader.load(Fixtures.model("pangu-embedded-tiny-tied"))) {
            assertThat(ModelDraft.sharedVocab(a, b)).isEqualTo(1280);
            LoadedModel renamed = new LoadedModel(b.path, b.config, b.weights, new OnePieceChanged(b.tokenizer, 77), b.chatTemplate, null);
            assertThatThrownBy(() -> ModelDraft.sharedVocab(a, renamed)).isInstanceOf(MogeException.class)
                    .hasMessageContaining("token 77").hasMessageContaining("share the target's vocabulary");
            ModelConfig small = TestModels.embedded(1000, 32, 1, 2, 1, 16, 32, true, 1e4, false);
            try (LoadedModel noTok = ModelLoader.load(TestModels.write(tmp.resolve("small"), small, DType.F32, 1))) {
                assertThat(noTok.tokenizer).isNull();
                assertThatThrownBy(() -> ModelDraft.sharedVocab(a, noTok)).isInstanceOf(MogeException.class)
                        .hasMessageContaining("vocab_size 1000 differs from the target's 1280");
            }
        }
    }

    @Test
    void factoryOpensEachKindOfSource() {
        try (LoadedModel lm = ModelLoader.load(Fixtures.model("pangu-embedded-tiny")); Model m = new Model(lm.config, lm.weights, 1, 8)) {
            assertThat(Speculation.open(SpecConfig.none(), lm, m, 64)).isNull();
            try (SpeculativeDecoder d = Speculation.open(SpecConfig.ngram().withNgram(1, 5), lm, m, 64)) {
                assertThat(d.source()).isInstanceOf(NgramDraft.class);
            }
            String other = Fixtures.model("pangu-embedded-tiny-tied").toString();
            try (SpeculativeDecoder d = Speculation.open(SpecConfig.draft(other), lm, m, 64)) {
                assertThat(d.source()).isInstanceOf(ModelDraft.class);
                assertThat(d.source().name()).isEqualTo(other);
            }
            assertThatThrownBy(() -> Speculation.open(SpecConfig.draft("self:q5_1"), lm, m, 64))
                    .isInstanceOf(MogeException.class).hasMessageContaining("self:q8_0 or self:q4_0");
            assertThatThrownBy(() -> Speculation.open(SpecConfig.draft(null), lm, m, 64))
                    .isInstanceOf(MogeException.class).hasMessageContaining("--draft-model");
            assertThatThrownBy(() -> Speculation.open(SpecConfig.ngram().withDraft(3, 2), lm, m, 64))
                    .isInstanceOf(MogeException.class).hasMessageContaining("--draft-max");
            assertThatThrownBy(() -> Speculation.open(SpecConfig.ngram().withNgram(0, 2), lm, m, 64))
                    .isInstanceOf(MogeException.class).hasMessageContaining("--ngram-min");
            assertThatThrownBy(() -> Speculation.open(SpecConfig.draft(tmp.resolve("none").toString()), lm, m, 64))
                    .isInstanceOf(MogeException.class).hasMessageContaining("no such file");
        }
        assertThatThrownBy(() -> SpecConfig.Mode.parse("medusa")).isInstanceOf(MogeException.class).hasMessageContaining("none, ngram, draft");
    }

    @Test
    void theDemoModelFindsItsShippedDraft() throws Exception {
        Path demo = Files.createDirectories(tmp.resolve("models/demo"));
        assertThat(Speculation.shippedDraft(demo)).isNull();
        Path draft = Files.createDirectories(tmp.resolve("models/draft"));
        Files.writeString(draft.resolve("config.json"), "{}");
        assertThat(Speculation.shippedDraft(demo)).isEqualTo(draft);
        Path other = Files.createDirectories(tmp.resolve("models/other"));
        assertThat(Speculation.shippedDraft(other)).isNull();
        assertThat(Speculation.defaultDraft(demo)).isEqualTo(draft);
        assertThatThrownBy(() -> Speculation.defaultDraft(other)).isInstanceOf(MogeException.class)
                .hasMessageStartingWith("--spec draft needs --draft-model");
        // a draft_model file names the draft of any model, relative to the model directory
        Files.writeString(other.resolve(Speculation.DRAFT_FILE), "../draft\n");
        assertThat(Speculation.defaultDraft(other)).isEqualTo(draft);
        Files.writeString(other.resolve(Speculation.DRAFT_FILE), " ");
        assertThatThrownBy(() -> Speculation.defaultDraft(other)).isInstanceOf(MogeException.class).hasMessageContaining("empty");
        Files.delete(draft.resolve("config.json"));
        assertThatThrownBy(() -> Speculation.defaultDraft(demo)).isInstanceOf(MogeException.class)
                .hasMessageContaining("the demo model's draft is missing");
    }

    /** A tokenizer that differs from another in one piece. */
    private record OnePieceChanged(Tokenizer base, int id) implements Tokenizer {
        public int[] encode(String text) {
            return base.encode(text);
        }

        public String decode(int[] ids) {
            return base.decode(ids);
        }

        public StreamDecoder newStreamDecoder(moge.tokenizer.TextMode mode) {
            return base.newStreamDecoder(mode);
        }

        public int vocabSize() {
            return base.vocabSize();
        }

        public String piece(int i) {
            return i == id ? base.piece(i) + "x" : base.piece(i);
        }

        public OptionalInt tokenId(String piece) {
            return base.tokenId(piece);
        }

        public SpecialTokens special() {
            return base.special();
        }
    }
}
