package moge.cli;

import moge.MogeException;
import moge.format.DType;
import moge.train.merge.CheckpointMerge;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;

/** `moge merge`: weighted average of compatible checkpoints (checkpoint merging as in openPangu fine-tuning). */
@Command(name = "merge", mixinStandardHelpOptions = true,
        description = "Average compatible checkpoints (same config, shapes and tokenizer) into a new one.")
public final class MergeCommand implements Runnable {
    @Parameters(arity = "2..*", paramLabel = "MODEL", description = "Model directories to merge (at least two).")
    List<Path> inputs;

    @Option(names = "--weights", split = ",", paramLabel = "W", description = "One weight per model (normalised to sum to 1; default equal).")
    double[] weights;

    @Option(names = {"-o", "--out"}, required = true, paramLabel = "DIR", description = "Output model directory.")
    Path out;

    @Option(names = "--type", paramLabel = "bf16|f16|f32", description = "Output dtype (default: that of the first model).")
    String type;

    @Option(names = "--force", description = "Write into an output directory that is not empty (its old weights are removed).")
    boolean force;

    // read by Main (the README promises --debug on every failing command); declared so that picocli accepts it
    @Option(names = "--debug", description = "Show stack traces of errors.")
    boolean debug;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        DType dt = type == null ? null : switch (type.toLowerCase(java.util.Locale.ROOT)) {
            case "bf16" -> DType.BF16;
            case "f16" -> DType.F16;
            case "f32" -> DType.F32;
            default -> throw new MogeException("--type: expected bf16, f16 or f32, got " + type);
        };
        double[] w = CheckpointMerge.weights(inputs.size(), weights);
        CheckpointMerge.checkCompatible(inputs);
        CheckpointMerge.checkOutput(inputs, out);
        OutputDir.requireFree(out, force);
        if (force) OutputDir.removeOldWeights(out);
        try {
            CheckpointMerge.merge(inputs, weights, out, dt);
        } catch (IOException e) {
            throw MogeException.io(out, e);
        }
        PrintWriter o = spec.commandLine().getOut();
        StringBuilder sb = new StringBuilder("merged ");
        for (int i = 0; i < inputs.size(); i++) sb.append(i == 0 ? "" : " + ").append(String.format(java.util.Locale.ROOT, "%.3g·%s", w[i], inputs.get(i)));
        o.println(sb + " -> " + out);
        o.flush();
    }
}
