package moge.cli;

import moge.MogeException;
import moge.format.gguf.GgufFileType;
import moge.format.gguf.HfToGguf;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/** Hugging Face openPangu checkpoint to GGUF (docs/gguf.md describes the layout). */
@Command(name = "convert", mixinStandardHelpOptions = true,
        description = "Convert a Hugging Face openPangu checkpoint (Embedded or Pro MoE) to a GGUF file.")
public final class ConvertCommand implements Runnable {
    @Parameters(index = "0", paramLabel = "DIR", description = "Model directory (config.json, safetensors, tokenizer.model).")
    Path dir;

    @Option(names = "--type", paramLabel = "f32|f16|bf16|q8_0|q4_0|q5_0|q4_k|q5_k|q6_k|q3_k|q2_k|iq4_nl|iq4_xs|q2_k_m|q3_k_m|q4_k_m|q5_k_m",
            description = "Storage type of the weight matrices (default bf16; also q4_1, q5_1), or q2_k_m/q3_k_m/q4_k_m/q5_k_m/iq4_nl/iq4_xs: "
                    + "llama.cpp's mixtures of those names (q2_k_m is llama-quantize's Q2_K; Q6_K for the head, more bits for attn_v/ffn_down in some layers, "
                    + "Q4_0/Q5_0/Q5_1/IQ4_NL for rows that are not whole 256-value blocks; docs/gguf.md). Norms, biases and the "
                    + "router stay F32.")
    String type = "bf16";

    @Option(names = {"-o", "--out"}, required = true, paramLabel = "FILE.gguf", description = "Output file.")
    Path out;

    @Option(names = "--force", description = "Overwrite an existing output file.")
    boolean force;

    @Option(names = "--debug", description = "Show stack traces of errors.")
    boolean debug;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    /** Whether {@code f} lies in the input directory and is not a .gguf written there earlier. */
    private boolean isCheckpointFile(Path f) {
        try {
            return Files.isSameFile(f.toAbsolutePath().getParent(), dir) && !f.getFileName().toString().endsWith(".gguf");
        } catch (java.io.IOException e) {
            return false;
        }
    }

    @Override
    public void run() {
        GgufFileType t = GgufFileType.parse(type);
        if (!Files.isDirectory(dir)) throw new MogeException(dir + ": not a model directory");
        // the input is checked before the output, so a wrong command names its first mistake
        if (!Files.isRegularFile(dir.resolve("config.json"))) throw new MogeException(dir + ": not a model directory (no config.json)");
        Path parent = out.toAbsolutePath().getParent();
        if (parent != null && !Files.isDirectory(parent)) throw new MogeException(out + ": cannot write: the directory " + parent + " does not exist");
        if (Files.exists(out) && !force) throw new MogeException(out + ": already exists (use --force to overwrite)");
        if (Files.exists(out) && isCheckpointFile(out)) {
            throw new MogeException(out + ": is a file of the checkpoint being converted; --force does not overwrite that");
        }
        PrintWriter err = spec.commandLine().getErr();
        Progress[] bar = {null};
        HfToGguf.Result r = HfToGguf.convert(dir, t, out, (done, total) -> {
            if (bar[0] == null) bar[0] = new Progress(err, "converting " + dir.getFileName(), total);
            bar[0].update(done);
        });
        if (bar[0] != null) bar[0].done();
        spec.commandLine().getOut().printf("%s: %s, %d tensors, %s of weights (%s)%n", out, r.config().arch().ggufName, r.tensors(),
                InspectCommand.bytes(r.tensorBytes()), t.name().toLowerCase(Locale.ROOT));
    }
}
