package moge.generate;

import moge.MogeException;
import moge.format.DType;
import moge.format.HfCheckpoint;
import moge.format.HfConfig;
import moge.model.HfWeightLoader;
import moge.model.Model;
import moge.model.ModelConfig;
import moge.model.ReferenceModel;
import moge.model.RouterKind;
import moge.model.TestModels;
import moge.model.Weights;
import moge.spec.QuantizedCopy;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * Perplexity against the float64 reference model (llama-perplexity's chunking: BOS first, second half scored),
 * and the KL divergence through its base file against the same divergence taken directly from two models' logits.
 */
class PerplexityTest {
    private static final int CTX = 17, CHUNKS = 3, BOS = 5;

    @TempDir
    static Path tmp;
    static ModelConfig config;
    static HfCheckpoint ck;
    static Weights weights;
    static int[] tokens;

    @BeforeAll
    static void model() {
        // widths that are whole blocks of 32, so that the Q4_0 copy quantizes every matrix
        ModelConfig c = TestModels.moge(97, 64, 2, 4, 2, 16, 12, 6, 3, 32, 64, null, 0, false, 1e4);
        Path dir = TestModels.write(tmp.resolve("m"), c, DType.F32, 11);
        ck = HfCheckpoint.open(dir);
        config = HfConfig.read(ck.config(), dir.resolve("config.json"));
        weights = HfWeightLoader.load(ck, config, null);
        SplittableRandom r = new SplittableRandom(3);
        tokens = new int[CTX * CHUNKS + 6]; // a partial chunk at the end, never scored
        for (int i = 0; i < tokens.length; i++) tokens[i] = r.nextInt(config.vocabSize());
    }

    @Test
    void perplexityIsTheReferenceModelsOverTheSecondHalfOfEachChunk() {
        ReferenceModel ref = new ReferenceModel(config, ck);
        double nll = 0;
        int count = 0;
        for (int c = 0; c < CHUNKS; c++) {
            int[] chunk = Arrays.copyOfRange(tokens, c * CTX, (c + 1) * CTX);
            chunk[0] = BOS;
            double[][] l = ref.logits(chunk, RouterKind.MOGE);
            for (int p = CTX / 2; p < CTX - 1; p++, count++) nll += lse(l[p]) - l[p][tokens[c * CTX + p + 1]];
        }
        List<Perplexity.Result> partial = new ArrayList<>();
        Perplexity.Result r;
        try (Model m = new Model(config, weights, 2, 5)) { // batches of 5 cut every chunk unevenly
            r = Perplexity.run(m, tokens, CTX, BOS, CHUNKS, partial::add, null);
        }
        assertThat(r.count()).isEqualTo(count).isEqualTo(CHUNKS * Perplexity.scoredPerChunk(CTX));
        assertThat(r.ppl()).isCloseTo(Math.exp(nll / count), within(1e-4 * Math.exp(nll / count)));
        assertThat(r.pplError()).isPositive().isLessThan(r.ppl());
        assertThat(partial).extracting(Perplexity.Result::chunks).containsExactly(1, 2, 3);
        // keeping each chunk's own first token instead of BOS changes what the model sees
        try (Model m = new Model(config, weights, 1, 64)) {
            assertThat(Perplexity.run(m, tokens, CTX, -1, CHUNKS, null, null).ppl()).isNotCloseTo(r.ppl(), within(1e-6));
        }
    }

    @Test
    void klDivergenceThroughTheBaseFileMatchesTheDirectOneAndIsZeroAgainstItself() throws IOException {
        Path base = tmp.resolve("base.kld");
        Perplexity.Result baseRun;
        try (Model m = new Model(config, weights, 2, 8); KlDivergence k = KlDivergence.create(base, config.vocabSize(), CTX, CHUNKS, tokens)) {
            baseRun = Perplexity.run(m, tokens, CTX, BOS, CHUNKS, null, (c, i, l, off, v, lse, next) -> k.position(l, off, lse, next));
        }
        KlDivergence.Base header = KlDivergence.readBase(base);
        assertThat(header.ctx()).isEqualTo(CTX);
        assertThat(header.chunks()).isEqualTo(CHUNKS);
        assertThat(header.tokens()).containsExactly(Arrays.copyOf(tokens, CTX * CHUNKS));

        KlDivergence.Stats self = compare(base, weights);
        assertThat(self.sameTop()).isEqualTo(1.0);
        assertThat(self.meanKld()).isLessThan(4e-4); // only the stored log-probabilities' 16-bit steps
        assertThat(self.basePpl()).isCloseTo(baseRun.ppl(), within(1e-12 * baseRun.ppl())); // stored exactly, not in steps

        try (QuantizedCopy q = QuantizedCopy.of(weights, DType.Q4_0, null)) {
            KlDivergence.Stats quant = compare(base, q.weights);
            double direct = directKld(q.weights);
            assertThat(quant.meanKld()).isGreaterThan(10 * self.meanKld()).isCloseTo(direct, within(1e-4));
            assertThat(quant.maxKld()).isGreaterThanOrEqualTo(quant.p99Kld()).isGreaterThanOrEqualTo(quant.medianKld());
            assertThat(quant.count()).isEqualTo((long) CHUNKS * Perplexity.scoredPerChunk(CTX));
        }
    }

    @Test
    void aBaseFileThatIsNotOneOrIsCutShortOrForAnotherVocabularyIsRefusedInOneLine() throws IOException {
        Path base = tmp.resolve("b2.kld");
        try (Model m = new Model(config, weights, 1, 32); KlDivergence k = KlDivergence.create(base, config.vocabSize(), CTX, 1, tokens)) {
            Perplexity.run(m, tokens, CTX, BOS, 1, null, (c, i, l, off, v, lse, next) -> k.position(l, off, lse, next));
        }
        Path cut = tmp.resolve("cut.kld");
        Files.copy(base, cut);
        try (FileChannel ch = FileChannel.open(cut, StandardOpenOption.WRITE)) {
            ch.truncate(ch.size() - 10);
        }
        assertThatThrownBy(() -> KlDivergence.readBase(cut)).isInstanceOf(MogeException.class).hasMessageContaining("cut.kld").hasMessageContaining("truncated");
        Path text = Files.writeString(tmp.resolve("text.kld"), "hello world, not a base file");
        assertThatThrownBy(() -> KlDivergence.readBase(text)).isInstanceOf(MogeException.class).hasMessageContaining("not a KL-divergence base file");
        assertThatThrownBy(() -> KlDivergence.open(base, config.vocabSize() + 1)).isInstanceOf(MogeException.class)
                .hasMessageContaining("vocabulary of 97");
        try (Model m = new Model(config, weights, 1, 32)) {
            assertThatThrownBy(() -> Perplexity.run(m, tokens, CTX, BOS, 4, null, null)).isInstanceOf(MogeException.class)
                    .hasMessageContaining("not 4");
        }
    }

    private static KlDivergence.Stats compare(Path base, Weights w) {
        try (Model m = new Model(config, w, 2, 8); KlDivergence k = KlDivergence.open(base, config.vocabSize())) {
            Perplexity.Result r = Perplexity.run(m, tokens, CTX, BOS, CHUNKS, null, (c, i, l, off, v, lse, next) -> k.position(l, off, lse, next));
            return k.stats(r);
        }
    }

    /** Mean KL(original || other) over the scored positions, from both models' logits in float64, no file between. */
    private static double directKld(Weights other) {
        List<double[]> p = logProbs(weights), q = logProbs(other);
        double sum = 0;
        for (int i = 0; i < p.size(); i++) {
            for (int v = 0; v < config.vocabSize(); v++) sum += Math.exp(p.get(i)[v]) * (p.get(i)[v] - q.get(i)[v]);
        }
        return sum / p.size();
    }

    private static List<double[]> logProbs(Weights w) {
        List<double[]> out = new ArrayList<>();
        try (Model m = new Model(config, w, 2, 8)) {
            Perplexity.run(m, tokens, CTX, BOS, CHUNKS, null, (c, i, l, off, v, lse, next) -> {
                double[] row = new double[v];
                for (int j = 0; j < v; j++) row[j] = l[off + j] - lse;
                out.add(row);
            });
        }
        return out;
    }

    private static double lse(double[] x) {
        double m = Double.NEGATIVE_INFINITY, s = 0;
        for (double v : x) m = Math.max(m, v);
        for (double v : x) s += Math.exp(v - m);
        return m + Math.log(s);
    }
}
