package moge.model;

import moge.format.DType;
import moge.format.HfCheckpointWriter;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/** Small configurations of awkward sizes, written as checkpoints for tests. */
public final class TestModels {
    private TestModels() {
    }

    public static ModelConfig moge(int vocab, int hidden, int layers, int heads, int kvHeads, int headDim, int experts, int k,
                                   int groups, int moeFF, int sharedFF, boolean[] dense, int denseFF, boolean tied, double theta) {
        return new ModelConfig(Arch.PANGU_PRO_MOE, vocab, hidden, layers, heads, kvHeads, headDim, denseFF, experts, k, groups,
                moeFF, sharedFF, false, dense == null ? new boolean[layers] : dense, theta, 1e-5f, 4096, tied, true, true, false,
                RouterKind.MOGE);
    }

    public static ModelConfig embedded(int vocab, int hidden, int layers, int heads, int kvHeads, int headDim, int ff, boolean tied,
                                       double theta, boolean bias) {
        return new ModelConfig(Arch.PANGU_EMBEDDED, vocab, hidden, layers, heads, kvHeads, headDim, ff, 0, 0, 0, 0, 0, false,
                new boolean[layers], theta, 1e-5f, 4096, tied, bias, bias, false, null);
    }

    public static Path write(Path dir, ModelConfig c, DType dtype, long seed) {
        try {
            HfCheckpointWriter.write(dir, c, new RandomWeights(seed, 1.0f), dtype, Long.MAX_VALUE, 1, 2, null);
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
