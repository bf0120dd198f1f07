package moge.cli;

import moge.MogeException;
import moge.chat.ChatTemplate;
import moge.model.LoadedModel;
import moge.tokenizer.Tokenizer;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Function;

/** Options shared by every command that runs a model (mixed into each with @Mixin). */
public final class ModelOptions {
    @Option(names = {"-m", "--model"}, paramLabel = "PATH",
            description = "Model directory (Hugging Face layout) or .gguf file; default: the shipped demo model.")
    public Path model;

    /** Threads of the forward pass; {@link #threadCounts} keeps a list that bench runs one by one. */
    public int threads = Runtime.getRuntime().availableProcessors();

    /** Every count of a "-t 1,2" list (llama-bench's habit); other commands accept only one. */
    int[] threadCounts;

    @Option(names = {"-t", "--threads"}, paramLabel = "N", description = "Threads (default: all cores; bench takes a list, -t 1,2).")
    void threads(String value) {
        String[] parts = value.split(",", -1);
        threadCounts = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                threadCounts[i] = Integer.parseInt(parts[i].strip());
            } catch (NumberFormatException e) {
                throw new picocli.CommandLine.ParameterException(mixee.commandLine(),
                        "Invalid value for option '--threads' (N): '" + value + "' is not an int or a list of ints");
            }
        }
        threads = threadCounts[0];
    }

    @picocli.CommandLine.Spec(picocli.CommandLine.Spec.Target.MIXEE)
    picocli.CommandLine.Model.CommandSpec mixee;

    @Option(names = "--router", paramLabel = "moge|topk", description = "MoE router: moge (grouped, default) or topk (global).")
    public String router;

    @Option(names = {"-c", "--ctx"}, paramLabel = "N", description = "Context length in tokens (default: 4096, capped by the model; 0 = the model's own maximum, as llama.cpp).")
    public int ctx = 4096;

    @Option(names = {"-b", "--batch"}, paramLabel = "N", description = "Tokens per forward pass during prefill (default: 256).")
    public int batch = 256;

    @Option(names = "--devices", paramLabel = "N",
            description = "Split the expert groups over N devices (thread teams sharing the cores) on this machine; N must divide the group count (default 1).")
    public int devices = 1;

    @Option(names = "--workers", split = ",", paramLabel = "HOST:PORT",
            description = "Expert workers (`moge worker`) serving some expert groups; groups no worker serves run here.")
    public List<String> workers;

    @Option(names = "--worker-timeout", paramLabel = "SECONDS", description = "Deadline of every call to a worker (default 10).")
    public double workerTimeout = 10;

    @Option(names = "--transport", paramLabel = "f32|bf16",
            description = "Activations sent to workers as float32 (exact, default) or bfloat16 (half the bytes).")
    public String transport = "f32";

    @Option(names = "--activations", paramLabel = "f32|q8",
            description = "Activations of Q8_0/Q4_0 products: f32 (default; products of a few tokens turn them into integers per block of 32 on grids never coarser than llama.cpp's int8 one: Q8_0's up to 13 tokens, Q4_0's kernels at every token count with 512-bit vectors, else up to 128 tokens; longer prompts go through the GEMM in float) or q8 (rounded to the Q8_0 grid as llama.cpp does, Q8_0 products summed in its order token by token, so prefill is slower; for token-for-token comparisons with it).")
    public String activations = "f32";

    @Option(names = "--kv-type", paramLabel = "f32|f16",
            description = "How the KV cache stores keys and values: f32 (default, exact) or f16 (half the memory, so twice the context or sequences, and half the bytes attention reads per key; llama.cpp's default cache type).")
    public String kvType = "f32";

    // llama.cpp users type -ngl by habit; without its own name picocli read it as -n with the value "gl"
    @Option(names = {"-ngl", "--n-gpu-layers", "--gpu-layers"}, hidden = true, paramLabel = "N",
            description = "Accepted for llama.cpp's sake and ignored: moge runs on the CPU.")
    public String gpuLayers;

    @Option(names = "--chat-template", paramLabel = "NAME|JINJA",
            description = "Chat template instead of the model's own: openpangu, chatml, or Jinja text (as llama.cpp's and vLLM's).")
    public String chatTemplate;

    @Option(names = "--chat-template-file", paramLabel = "FILE", description = "Chat template (Jinja) read from FILE instead of the model's own.")
    public Path chatTemplateFile;

    @Option(names = "--debug", description = "Show stack traces of errors.")
    public boolean debug;

    /** Whether Q8_0/Q4_0 products round their activations as llama.cpp does (--activations q8). */
    public boolean roundActivations() {
        return switch (activations) {
            case "f32" -> false;
            case "q8" -> true;
            default -> throw new MogeException("--activations must be f32 or q8, got " + activations);
        };
    }

    /** Checks what every command checks before loading anything: one thread count, a sane context and batch. */
    void checkBasics() {
        if (threadCounts != null && threadCounts.length > 1) {
            throw new MogeException("-t takes one thread count here, got " + threadCounts.length + " (lists are for bench)");
        }
        if (threads < 1) throw new MogeException("--threads must be >= 1, got " + threads);
        if (ctx != 0 && ctx < 2) throw new MogeException("--ctx must be 0 (the model's maximum) or >= 2, got " + ctx);
        if (batch < 1) throw new MogeException("--batch must be >= 1, got " + batch);
        if (chatTemplate != null && chatTemplateFile != null) throw new MogeException("give --chat-template or --chat-template-file, not both");
        chatTemplateOverride();
    }

    /**
     * The chat template the options ask for instead of the model's, or null. The file is read and the template
     * rendered once (with placeholder BOS/EOS) before the model loads, so a typo costs no loading time and a server
     * never opens its port with it; the real one is built once the tokenizer is known.
     */
    Function<Tokenizer, ChatTemplate> chatTemplateOverride() {
        if (chatTemplate != null) {
            ChatTemplate.named(chatTemplate, "<s>", "</s>");
            return tok -> ChatTemplate.named(chatTemplate, tok);
        }
        if (chatTemplateFile == null) return null;
        String text;
        try {
            text = Files.readString(chatTemplateFile);
        } catch (NoSuchFileException e) {
            throw new MogeException("--chat-template-file " + chatTemplateFile + ": no such file");
        } catch (IOException | UncheckedIOException e) {
            throw new MogeException("--chat-template-file " + chatTemplateFile + ": cannot read it (" + e.getMessage() + ")");
        }
        ChatTemplate.fromFile(chatTemplateFile, text, "<s>", "</s>");
        return tok -> ChatTemplate.fromFile(chatTemplateFile, text, tok);
    }

    public Path modelPath() {
        if (model != null) return model;
        return DefaultRun.defaultModel();
    }

    /** The model's path, or an error when nothing is there (checked before any slow start-up work). */
    public Path existingModelPath() {
        Path p = modelPath();
        if (!Files.exists(p)) throw new MogeException(p + ": no such model");
        return p;
    }

    /**
     * Loads the model and builds the forward pass with its experts placed as the options say (--devices,
     * --workers, --router); every command that runs a model goes through here.
     *
     * @param loadHistory forward passes of per-device load to keep for plots (0 = none)
     */
    public ModelHandle open(int loadHistory) {
        return ModelHandle.open(this, loadHistory, batch);
    }

    /** As {@link #open(int)} with the forward pass sized for {@code maxBatch} tokens instead of --batch. */
    public ModelHandle open(int loadHistory, int maxBatch) {
        return ModelHandle.open(this, loadHistory, maxBatch);
    }

    public ModelHandle open() {
        return open(0);
    }

    /** The usable context: the requested one, capped by the model's position limit. */
    public int context(LoadedModel m) {
        return ctx == 0 ? m.config.maxPositions() : Math.min(ctx, m.config.maxPositions());
    }
}
