package moge.cli;

import moge.format.TensorData;
import moge.model.ModelConfig;
import moge.model.ModelDescription;
import moge.model.ModelLoader;
import moge.model.RouterKind;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/** Architecture, shapes, dtypes, parameter counts and tokenizer facts of a model. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Show a model's architecture, tensor shapes and dtypes, parameter counts and tokenizer.")
public final class InspectCommand implements Runnable {
    @Parameters(index = "0", arity = "0..1", paramLabel = "PATH", description = "Model directory or .gguf file.")
    Path path;

    @Option(names = "--tensors", description = "List every tensor (default: a summary by kind).")
    boolean tensors;

    @Mixin
    ModelOptions model;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    /** What gguf-dump's header shows: version, metadata count, the file's name and type, its size. */
    private static void printGguf(PrintWriter out, moge.format.gguf.GgufFile g, java.nio.file.Path path) {
        var md = g.metadata();
        String name = md.has("general.name") ? md.string("general.name", "") : "-";
        String type = md.has("general.file_type") ? fileType(md.count("general.file_type")) : "-";
        long size;
        try {
            size = java.nio.file.Files.size(path);
        } catch (java.io.IOException e) {
            size = -1;
        }
        out.printf("gguf:         v%d, %d metadata keys, %d tensors, name %s, file type %s, %s%n", g.version(), md.asMap().size(),
                g.tensors().size(), name, type, size < 0 ? "?" : bytes(size));
    }

    /** llama.cpp's words for the type, as its loader prints them ("Q4_K - Medium"), and the number itself. */
    private static String fileType(int t) {
        String n = moge.format.gguf.GgufFileType.llamaName(t);
        return n == null ? String.valueOf(t) : n + " (" + t + ")";
    }

    @Override
    public void run() {
        if (path != null) model.model = path;
        PrintWriter out = spec.commandLine().getOut();
        // the description alone: repacking the weights would take seconds on a large file and show nothing more
        try (ModelDescription m = ModelLoader.describe(model.existingModelPath(),
                model.router == null ? null : RouterKind.parse(model.router))) {
            ModelConfig c = m.config();
            out.printf("model:        %s%n", m.path());
            out.printf("architecture: %s (GGUF %s)%n", c.arch().hfName, c.arch().ggufName);
            if (m.source() instanceof moge.format.gguf.GgufFile g) printGguf(out, g, m.path());
            out.printf("layers:       %d   hidden: %d   heads: %d (kv %d, head_dim %d)%n", c.layers(), c.hidden(), c.heads(),
                    c.kvHeads(), c.headDim());
            if (c.hasExperts()) {
                if (c.expertGroups() > 1) {
                    out.printf("experts:      %d routed in %d groups of %d, %d active per token (%d per group), expert ffn %d%n",
                            c.numExperts(), c.expertGroups(), c.expertsPerGroup(), c.expertsPerTok(),
                            c.expertsPerTok() / c.expertGroups(), c.moeIntermediate());
                } else {
                    out.printf("experts:      %d routed, %d active per token, expert ffn %d%n", c.numExperts(), c.expertsPerTok(),
                            c.moeIntermediate());
                }
                out.printf("shared:       %s%n", c.sharedIntermediate() > 0 ? "ffn " + c.sharedIntermediate() : "none");
                out.printf("router:       %s%n", c.router());
                int dense = 0;
                for (int l = 0; l < c.layers(); l++) if (!c.isMoe(l)) dense++;
                if (dense > 0) out.printf("dense layers: %d (ffn %d)%n", dense, c.intermediate());
            } else {
                out.printf("ffn:          %d (dense SwiGLU)%n", c.intermediate());
            }
            out.printf("rope:         %s, theta %.6g, max positions %d%n", c.ropeStyle() == moge.model.RopeStyle.NEOX ? "NeoX" : "interleaved", c.ropeTheta(), c.maxPositions());
            out.printf("rms eps:      %.3g   biases: q/k/v %s, o %s   tied embeddings: %s%n", c.rmsEps(), c.qkvBias(), c.oBias(),
                    c.tiedEmbeddings());
            out.printf("parameters:   %s total, %s active per token%n", human(c.parameterCount()), human(c.activeParameterCount()));
            Map<String, long[]> byType = new TreeMap<>();
            for (TensorData t : m.source().tensors().values()) {
                String k = t.type() == null ? "other" : t.type().name();
                long[] acc = byType.computeIfAbsent(k, x -> new long[3]);
                acc[0]++;
                acc[1] += t.elements();
                acc[2] += t.data().byteSize();
            }
            byType.forEach((k, v) -> out.printf("dtype %-6s  %5d tensors, %s values, %s%n", k, v[0], human(v[1]), bytes(v[2])));
            if (tensors) {
                for (TensorData t : m.source().tensors().values()) {
                    out.printf("  %-60s %-5s %s%n", t.name(), t.type() == null ? "?" : t.type(), t.shapeString());
                }
            }
            if (m.tokenizer() != null) {
                var s = m.tokenizer().special();
                out.printf("tokenizer:    %s, %d tokens, bos %s, eos %s, add_bos %s%n", m.tokenizer().getClass().getSimpleName(),
                        m.tokenizer().vocabSize(), tokenName(m, s.bos()), tokenName(m, s.eos()), s.addBos());
                if (m.tokenizer() instanceof moge.tokenizer.SentencePieceTokenizer sp) {
                    out.printf("              SentencePiece BPE, byte fallback %s, dummy prefix %s, %d added/special tokens%n",
                            sp.settings().byteFallback(), sp.settings().addDummyPrefix(), sp.addedTokens().size());
                }
                StringBuilder roles = new StringBuilder();
                String[][] named = {{"[unused9]", "turn start"}, {"[unused10]", "turn end"}, {"[unused16]", "think start"},
                        {"[unused17]", "think end"}};
                for (String[] n : named) {
                    var id = m.tokenizer().tokenId(n[0]);
                    if (id.isPresent()) roles.append(roles.isEmpty() ? "" : ", ").append(n[0]).append('=').append(id.getAsInt())
                            .append(" (").append(n[1]).append(')');
                }
                if (!roles.isEmpty()) out.printf("              %s%n", roles);
            } else {
                out.println("tokenizer:    none");
            }
            out.printf("chat template: %s%n", m.chatTemplate().isBuiltIn() ? "built-in openPangu format" : m.chatTemplate().name());
        }
    }

    private static String tokenName(ModelDescription m, int id) {
        return id < 0 ? "none" : id + " " + m.tokenizer().piece(id);
    }

    static String human(long n) {
        if (n >= 1_000_000_000L) return String.format("%.2fB", n / 1e9);
        if (n >= 1_000_000L) return String.format("%.2fM", n / 1e6);
        if (n >= 1_000L) return String.format("%.1fK", n / 1e3);
        return Long.toString(n);
    }

    static String bytes(long b) {
        if (b >= 1L << 30) return String.format("%.2f GiB", b / (double) (1L << 30));
        if (b >= 1L << 20) return String.format("%.2f MiB", b / (double) (1L << 20));
        if (b >= 1L << 10) return String.format("%.1f KiB", b / 1024.0);
        return b + " B";
    }
}
