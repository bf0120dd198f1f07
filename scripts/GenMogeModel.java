// Writes a random MoGE checkpoint for benchmarks (outside the repository):
//   java -cp moge-cli/target/moge.jar scripts/GenMogeModel.java DIR [layers hidden experts groups k moeFF vocab heads kvHeads headDim shared]
// Defaults: 6 layers, hidden 1024, 32 experts in 8 groups, 8 active, expert FFN 128, vocab 8000, heads of 64 (hidden / 64
// query heads, a quarter as many KV heads), a shared expert of hidden / 2. bench-vs-llama.sh writes the reference MoE
// shape with it (16 2048 64 8 8 192 32000 16 4 128 0: qwen3moe's, with MoGE routing and no shared expert).
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
    int heads = a.length > 8 ? Integer.parseInt(a[8]) : hidden / 64;
    int kvHeads = a.length > 9 ? Integer.parseInt(a[9]) : Math.max(1, heads / 4), headDim = a.length > 10 ? Integer.parseInt(a[10]) : 64;
    int shared = a.length > 11 ? Integer.parseInt(a[11]) : hidden / 2;
    ModelConfig c = new ModelConfig(Arch.PANGU_PRO_MOE, vocab, hidden, layers, heads, kvHeads, headDim, 0, experts, k, groups,
            moeFF, shared, false, new boolean[layers], 16_000_000.0, 1e-5f, 131072, false, true, true, false, RouterKind.MOGE);
    HfCheckpointWriter.write(dir, c, new RandomWeights(7, 1.0f), DType.BF16, 2L << 30, 1, 2, null);
    System.out.println(dir + ": " + c + " parameters " + c.parameterCount());
}
