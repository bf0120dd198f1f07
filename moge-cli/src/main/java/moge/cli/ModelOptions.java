package moge.cli;

import moge.MogeException;
import moge.model.LoadedModel;
import moge.model.ModelLoader;
import moge.model.RouterKind;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;

/** Options shared by every command that runs a model (mixed into each with @Mixin). */
public final class ModelOptions {
    @Option(names = {"-m", "--model"}, paramLabel = "PATH",
            description = "Model directory (Hugging Face layout) or .gguf file; default: the shipped demo model.")
    public Path model;

    @Option(names = {"-t", "--threads"}, paramLabel = "N", description = "Threads (default: all cores).")
    public int threads = Runtime.getRuntime().availableProcessors();

    @Option(names = "--router", paramLabel = "moge|topk", description = "MoE router: moge (grouped, default) or topk (global).")
    public String router;

    @Option(names = {"-c", "--ctx"}, paramLabel = "N", description = "Context length in tokens (default: 4096, capped by the model).")
    public int ctx = 4096;

    @Option(names = {"-b", "--batch"}, paramLabel = "N", description = "Tokens per forward pass during prefill (default: 256).")
    public int batch = 256;

    @Option(names = "--debug", description = "Show stack traces of errors.")
    public boolean debug;

    public Path modelPath() {
        if (model != null) return model;
        return DefaultRun.defaultModel();
    }

    public LoadedModel load() {
        if (threads < 1) throw new MogeException("--threads must be >= 1, got " + threads);
        if (ctx < 2) throw new MogeException("--ctx must be >= 2, got " + ctx);
        if (batch < 1) throw new MogeException("--batch must be >= 1, got " + batch);
        Path p = modelPath();
        if (!Files.exists(p)) throw new MogeException(p + ": no such model");
        return ModelLoader.load(p, router == null ? null : RouterKind.parse(router), null);
    }

    /** The usable context: the requested one, capped by the model's position limit. */
    public int context(LoadedModel m) {
        return Math.min(ctx, m.config.maxPositions());
    }
}
