package moge.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.MogeException;
import moge.generate.Embedder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * llama-embedding for moge: the unit vectors /v1/embeddings answers, for texts given on the command line or one
 * per line of a file, and optionally their cosine similarities.
 */
@Command(name = "embed", mixinStandardHelpOptions = true,
        description = "Embed texts: one unit vector per text, pooled from the model's final hidden states (as /v1/embeddings). "
                + "Prints one JSON array per line, or --json (OpenAI's shape), or --similarity (the cosine matrix).")
public final class EmbedCommand implements Runnable {
    @Parameters(paramLabel = "TEXT", arity = "0..*", description = "Texts to embed.")
    List<String> texts = new ArrayList<>();

    @Option(names = {"-f", "--file"}, paramLabel = "FILE", description = "Texts to embed, one per non-empty line (UTF-8).")
    Path file;

    @Option(names = "--pooling", paramLabel = "mean|cls|last", description = "How the states are pooled (default: the GGUF's pooling_type, else last).")
    String pooling;

    @Option(names = "--dimensions", paramLabel = "N", description = "Keep the first N values, at unit length again (default: all).")
    int dimensions;

    @Option(names = "--json", description = "Print {\"data\": [{\"index\", \"embedding\"}], \"usage\"} as /v1/embeddings does.")
    boolean json;

    @Option(names = "--similarity", description = "Print the texts' cosine similarity matrix instead of the vectors.")
    boolean similarity;

    @Mixin
    ModelOptions model;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        List<String> all = new ArrayList<>(texts);
        if (file != null) Prompts.readText(file).lines().filter(l -> !l.isBlank()).forEach(all::add);
        if (all.isEmpty()) throw new MogeException("nothing to embed: give texts, or --file with one text per line");
        if (json && similarity) throw new MogeException("give --json or --similarity, not both");
        Embedder.Pooling p = pooling == null ? null : Embedder.Pooling.parse(pooling);
        PrintWriter out = spec.commandLine().getOut();
        try (ModelHandle h = model.open()) {
            if (h.loaded.tokenizer == null) throw new MogeException(h.loaded.path + ": the model has no tokenizer");
            Embedder.Setup setup = Embedder.Setup.of(h.loaded, p);
            // the handle closes the model; the embedder only borrows it here
            Embedder e = new Embedder(h.model, model.context(h.loaded), setup.pooling());
            int dims = dimensions == 0 ? e.dimensions() : dimensions;
            List<float[]> vectors = new ArrayList<>();
            long tokens = 0;
            for (String t : all) {
                int[] ids = setup.tokens(h.loaded.tokenizer, t);
                tokens += ids.length;
                vectors.add(Embedder.truncated(e.embed(ids), dims));
            }
            if (similarity) printSimilarity(out, all, vectors);
            else if (json) printJson(out, vectors, tokens);
            else for (float[] v : vectors) out.println(array(v));
            out.flush();
        }
    }

    private static String array(float[] v) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < v.length; i++) sb.append(i == 0 ? "" : ", ").append(v[i]);
        return sb.append(']').toString();
    }

    private static void printJson(PrintWriter out, List<float[]> vectors, long tokens) {
        ObjectNode o = new ObjectMapper().createObjectNode().put("object", "list");
        ArrayNode data = o.putArray("data");
        for (int i = 0; i < vectors.size(); i++) {
            ArrayNode a = data.addObject().put("object", "embedding").put("index", i).putArray("embedding");
            for (float x : vectors.get(i)) a.add(x);
        }
        o.putObject("usage").put("prompt_tokens", tokens).put("total_tokens", tokens);
        out.println(o.toPrettyString());
    }

    /** Unit vectors, so a dot product is the cosine. */
    private static void printSimilarity(PrintWriter out, List<String> texts, List<float[]> v) {
        out.println("cosine similarity matrix:");
        for (int i = 0; i < v.size(); i++) {
            StringBuilder row = new StringBuilder();
            for (int j = 0; j < v.size(); j++) {
                double dot = 0;
                for (int k = 0; k < v.get(i).length; k++) dot += (double) v.get(i)[k] * v.get(j)[k];
                row.append(String.format(Locale.ROOT, "%7.3f ", dot));
            }
            String t = texts.get(i);
            out.println(row + " " + (t.length() > 40 ? t.substring(0, 37) + "..." : t));
        }
    }
}
