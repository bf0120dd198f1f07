package moge.model;

import moge.format.DType;
import moge.format.HfCheckpointWriter;

import java.nio.file.Path;

/**
 * Writes a random Hugging Face checkpoint with the reference benchmark shapes (shared/peer/README.md:
 * hidden 2048, 16 query / 4 KV heads of 128, vocab 32000; dense ffn 1536, or 64 experts of 192 with 8
 * active): {@code java ... moge.model.WriteBenchModel embedded|moge LAYERS DTYPE DIR}.
 */
public final class WriteBenchModel {
    public static void main(String[] a) throws Exception {
        int layers = Integer.parseInt(a[1]);
        DType dtype = DType.valueOf(a[2]);
        ModelConfig c = switch (a[0]) {
            case "embedded" -> TestModels.embedded(32000, 2048, layers, 16, 4, 128, 1536, false, 1e6, true);
            case "moge" -> TestModels.moge(32000, 2048, layers, 16, 4, 128, 64, 8, 8, 192, 0, null, 0, false, 1e6);
            default -> throw new IllegalArgumentException(a[0]);
        };
        HfCheckpointWriter.write(Path.of(a[3]), c, new RandomWeights(1, 1.0f), dtype, 2L << 30, 1, 2, null);
    }
}
