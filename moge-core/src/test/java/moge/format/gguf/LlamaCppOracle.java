package moge.format.gguf;

import moge.format.DType;
import moge.model.Arch;
import moge.model.ModelConfig;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The small models whose llama.cpp outputs are pinned in testdata/gguf/llama-cpp-expected.json. Run
 * {@code main(dir)} to write them (same seed, same bytes), then scripts/gguf-oracle/oracle.mjs (node-llama-cpp)
 * records what llama.cpp computes on them; LlamaCppParityTest compares moge with those records.
 */
public final class LlamaCppOracle {
    static final long SEED = 2024;
    static final int MERGES = 200;

    private LlamaCppOracle() {
    }

    static TestGguf.Vocab vocab(String arch) {
        return TestGguf.vocab(MERGES, arch.startsWith("qwen") ? "qwen2" : "llama-bpe");
    }

    static Map<String, ModelConfig> models() {
        int V = vocab("llama").size();
        Map<String, ModelConfig> m = new LinkedHashMap<>();
        m.put("pangu-embedded", TestGguf.config(Arch.PANGU_EMBEDDED, V, 64, 2, 4, 2, 16, 96, 0, 0, 0, 0, 0, false));
        m.put("qwen3", TestGguf.config(Arch.QWEN3, V, 64, 2, 4, 2, 32, 96, 0, 0, 0, 0, 0, false));
        m.put("qwen3moe", TestGguf.config(Arch.QWEN3_MOE, V, 64, 2, 4, 2, 16, 0, 8, 2, 1, 32, 0, false));
        m.put("llama", TestGguf.config(Arch.LLAMA, V, 64, 2, 4, 2, 16, 96, 0, 0, 0, 0, 0, false));
        return m;
    }

    static Path write(Path dir, String name, DType type) {
        String file = name + "-" + type.name().toLowerCase() + ".gguf";
        return TestGguf.write(dir.resolve(file), models().get(name), type, SEED, vocab(name));
    }

    static int[] prompt(String name) {
        return new SplittableRandom(name.hashCode()).ints(12, 0, models().get(name).vocabSize() - 3).toArray();
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        Files.createDirectories(dir);
        StringBuilder json = new StringBuilder("[\n");
        boolean first = true;
        for (String name : models().keySet()) {
            for (DType t : new DType[]{DType.F32, DType.Q8_0}) {
                Path p = write(dir, name, t);
                if (!first) json.append(",\n");
                first = false;
                json.append("{\"name\":\"").append(name).append("\",\"type\":\"").append(t).append("\",\"file\":\"")
                        .append(p.toAbsolutePath()).append("\",\"prompt\":").append(java.util.Arrays.toString(prompt(name))).append('}');
            }
        }
        json.append("\n]\n");
        Files.writeString(dir.resolve("models.json"), json);
        System.out.println(dir.resolve("models.json"));
    }
}
