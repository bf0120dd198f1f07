// Writes a random MoGE checkpoint for benchmarks (outside the repository):
//   java -cp moge-cli/target/moge.jar scripts/GenMogeModel.java DIR [layers hidden experts groups k moeFF vocab]
import moge.format.DType;
import moge.format.HfCheckpointWriter;
import moge.model.Arch;
import moge.model.ModelConfig;
import moge.model.RandomWeights;
import moge.model.RouterKind;

import java.nio.file.Path;

void main(String[] a) throws Exception {
    Path dir = Path.of(a[0]);
    int layers = a.length > 1 ? Integer.parseInt(a[1]) : 6, hidden = a.length > 2 ? Integer.parseInt(a[2]) : 1024;
    int experts = a.length > 3 ? Integer.parseInt(a[3]) : 32, groups = a.length > 4 ? Integer.parseInt(a[4]) : 8;
    int k = a.length > 5 ? Integer.parseInt(a[5]) : 8, moeFF = a.length > 6 ? Integer.parseInt(a[6]) : 128;
    int vocab = a.length > 7 ? Integer.parseInt(a[7]) : 8000;
    int heads = hidden / 64;
    ModelConfig c = new ModelConfig(Arch.PANGU_PRO_MOE, vocab, hidden, layers, heads, Math.max(1, heads / 4), 64, 0, experts, k, groups,
            moeFF, hidden / 2, false, new boolean[layers], 16_000_000.0, 1e-5f, 131072, false, true, true, false, RouterKind.MOGE);
    HfCheckpointWriter.write(dir, c, new RandomWeights(7, 1.0f), DType.BF16, 2L << 30, 1, 2, null);
    System.out.println(dir + ": " + c + " parameters " + c.parameterCount());
}
