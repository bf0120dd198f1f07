package moge.cli;

import moge.MogeException;
import moge.format.DType;
import moge.format.HfCheckpointWriter;
import moge.model.Arch;
import moge.model.ModelConfig;
import moge.model.RandomWeights;
import moge.model.RouterKind;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * Writes a checkpoint with random weights in the exact openPangu layout, for benchmarks and experiments
 * where no trained model of that size exists (nothing can be downloaded here).
 */
@Command(name = "random-model", mixinStandardHelpOptions = true,
        description = "Write a random-weight checkpoint in the openPangu Hugging Face layout (for benchmarks).")
public final class RandomModelCommand implements Runnable {
    @Option(names = "--preset", required = true, paramLabel = "NAME",
            description = "moge-1g (~860 MB BF16 MoGE, 8 groups), moge-small (~16 MB), embedded-small (~19 MB dense), "
                    + "embedded-1g (~950 MB dense, openPangu-Embedded-1B layers); sizes with the demo tokenizer's vocabulary.")
    String preset;

    @Option(names = {"-o", "--out"}, required = true, paramLabel = "DIR", description = "Output directory.")
    Path out;

    @Option(names = "--type", paramLabel = "bf16|f16|f32", description = "Weight dtype (default bf16).")
    String type = "bf16";

    @Option(names = "--seed", description = "Random seed (default 1).")
    long seed = 1;

    @Option(names = "--shard-mb", description = "Shard size in MiB (default 512).")
    long shardMb = 512;

    @Option(names = "--force", description = "Write into an output directory that is not empty.")
    boolean force;

    @Option(names = "--tokenizer-from", paramLabel = "DIR",
            description = "Copy tokenizer files from this model (default: the shipped demo model when its vocabulary fits).")
    Path tokenizerFrom;

    // read by Main (the README promises --debug on every failing command); declared so that picocli accepts it
    @Option(names = "--debug", description = "Show stack traces of errors.")
    boolean debug;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    static ModelConfig preset(String name, int vocab) {
        return switch (name) {
            case "moge-1g" -> moe(vocab, 1024, 8, 16, 4, 8, 8, 256, 1024);
            case "moge-small" -> moe(vocab, 256, 4, 8, 2, 4, 4, 128, 256);
            case "embedded-small" -> new ModelConfig(Arch.PANGU_EMBEDDED, vocab, 384, 6, 6, 2, 64, 1024, 0, 0, 0, 0, 0, false,
                    new boolean[6], 1.6e7, 1e-5f, 32768, true, true, true, false, null);
            // openPangu-Embedded-1B's layer shape (hidden 1536, 12/6 heads of 128, FFN 6144), 14 of its 26 layers
            case "embedded-1g" -> new ModelConfig(Arch.PANGU_EMBEDDED, vocab, 1536, 14, 12, 6, 128, 6144, 0, 0, 0, 0, 0, false,
                    new boolean[14], 4e6, 1e-5f, 32768, true, true, true, false, null);
            default -> throw new MogeException("--preset: unknown preset '" + name + "' (moge-1g, moge-small, embedded-small, embedded-1g)");
        };
    }

    private static ModelConfig moe(int vocab, int hidden, int layers, int heads, int kv, int groups, int expertsPerGroup,
                                   int moeFF, int sharedFF) {
        return new ModelConfig(Arch.PANGU_PRO_MOE, vocab, hidden, layers, heads, kv, hidden / heads, 0, groups * expertsPerGroup,
                groups, groups, moeFF, sharedFF, false, new boolean[layers], 1.6e7, 1e-5f, 131072, false, true, true, false,
                RouterKind.MOGE);
    }

    @Override
    public void run() {
        OutputDir.requireFree(out, force);
        Path tokDir = tokenizerFrom;
        if (tokDir == null) {
            try {
                tokDir = DefaultRun.defaultModel();
            } catch (MogeException e) {
                tokDir = null;
            }
        }
        int vocab = 32000;
        if (tokDir != null && Files.isRegularFile(tokDir.resolve("config.json"))) {
            vocab = moge.format.HfCheckpoint.readJson(tokDir.resolve("config.json")).path("vocab_size").asInt(vocab);
        }
        ModelConfig c = preset(preset, vocab);
        DType dt = switch (type.toLowerCase()) {
            case "bf16" -> DType.BF16;
            case "f16" -> DType.F16;
            case "f32" -> DType.F32;
            default -> throw new MogeException("--type: expected bf16, f16 or f32, got " + type);
        };
        PrintWriter err = spec.commandLine().getErr();
        if (force) OutputDir.removeOldWeights(out);
        long total = c.parameterCount() * (dt == DType.F32 ? 4 : 2);
        Progress bar = new Progress(err, "writing " + out.getFileName(), total);
        try {
            HfCheckpointWriter.write(out, c, new RandomWeights(seed, 1.0f), dt, shardMb << 20, 1, eos(tokDir), bar::update);
            bar.done();
            if (tokDir != null) {
                for (String f : List.of("tokenizer.model", "tokenizer_config.json", "special_tokens_map.json")) {
                    Path src = tokDir.resolve(f);
                    if (Files.isRegularFile(src)) Files.copy(src, out.resolve(f), StandardCopyOption.REPLACE_EXISTING);
                }
            }
        } catch (IOException e) {
            throw new MogeException(out + ": cannot write (" + e.getMessage() + ")");
        }
        spec.commandLine().getOut().printf("%s: %s, %s parameters (%s active per token), %s%n", out, c.arch().hfName,
                InspectCommand.human(c.parameterCount()), InspectCommand.human(c.activeParameterCount()), InspectCommand.bytes(total));
    }

    private static int eos(Path tokDir) {
        if (tokDir == null) return 2;
        return moge.format.HfCheckpoint.readJson(tokDir.resolve("config.json")).path("eos_token_id").asInt(2);
    }
}
