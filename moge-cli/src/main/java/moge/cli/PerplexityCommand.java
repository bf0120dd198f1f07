package moge.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.MogeException;
import moge.generate.KlDivergence;
import moge.generate.Perplexity;
import moge.model.LoadedModel;
import moge.tokenizer.SpecialTokens;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Path;

/**
 * llama-perplexity for moge: perplexity of a model over a text file, and the KL divergence of its predictions
 * from a base model's (what a quantization costs), with llama.cpp's chunking and its option names.
 */
@Command(name = "perplexity", aliases = "ppl", mixinStandardHelpOptions = true,
        description = {"Perplexity over a text file, as llama-perplexity measures it (chunks of -c tokens, each from an empty cache,",
                "the second half of each scored), and the KL divergence from a base model's predictions."})
public final class PerplexityCommand implements Runnable {
    /** llama-perplexity's usual context: published figures are quoted at 512. */
    static final int DEFAULT_CTX = 512;

    @Option(names = {"-f", "--file"}, paramLabel = "FILE", description = "Text to score (UTF-8).")
    Path file;

    @Option(names = "--chunks", paramLabel = "N", description = "Score at most N chunks (default: all the text holds).")
    int chunks = -1;

    @Option(names = "--kl-divergence-base", paramLabel = "FILE",
            description = "Without --kl-divergence: write this model's log-probabilities here. With it: the base to compare against.")
    Path klBase;

    @Option(names = "--kl-divergence", description = "Compare with the base file's predictions on its own tokens (no -f needed).")
    boolean kl;

    @Option(names = "--json", description = "Print one JSON object with the figures instead of the running estimates.")
    boolean json;

    @Mixin
    ModelOptions model;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        if (chunks == 0 || chunks < -1) throw new MogeException("--chunks must be >= 1, got " + chunks);
        if (kl && klBase == null) throw new MogeException("--kl-divergence needs --kl-divergence-base FILE (written by a run without --kl-divergence)");
        if (!kl && file == null) throw new MogeException("give the text to score with -f FILE");
        boolean ctxGiven = spec.commandLine().getParseResult().hasMatchedOption("--ctx");
        KlDivergence.Base base = kl ? KlDivergence.readBase(klBase) : null;
        if (base != null && file != null) err.println("moge: --kl-divergence scores the base file's tokens; " + file + " is not read");
        if (base != null && ctxGiven && model.ctx != base.ctx()) {
            throw new MogeException(klBase + ": written with a context of " + base.ctx() + ", not " + model.ctx + " (drop -c)");
        }
        String text = kl ? null : Prompts.readText(file);
        if (!ctxGiven) model.ctx = base != null ? base.ctx() : DEFAULT_CTX;
        try (ModelHandle h = model.open()) {
            LoadedModel lm = h.loaded;
            int ctx = model.ctx == 0 ? lm.config.maxPositions() : model.ctx;
            if (ctx > lm.config.maxPositions()) throw new MogeException("--ctx " + ctx + " exceeds the model's " + lm.config.maxPositions() + " positions");
            if (ctx < 4) throw new MogeException("--ctx must be >= 4 for perplexity, got " + ctx);
            int[] tokens;
            if (base != null) {
                tokens = base.tokens();
            } else {
                Prompts.requireTokenizer(lm);
                tokens = lm.tokenizer.encodePrompt(text);
            }
            int n = tokens.length / ctx;
            if (n < 1) throw new MogeException(file + ": " + tokens.length + " tokens; a context of " + ctx + " needs at least " + ctx + " (one chunk)");
            if (chunks > 0) n = Math.min(n, chunks);
            int bos = -1;
            if (lm.tokenizer != null) {
                SpecialTokens s = lm.tokenizer.special();
                if (s.addBos() && s.bos() >= 0) bos = s.bos();
            }
            err.printf("moge: perplexity over %d chunks of %d tokens (%d of the %d tokens), scoring the last %d of each%n",
                    n, ctx, n * ctx, tokens.length, Perplexity.scoredPerChunk(ctx));
            KlDivergence k = base != null ? KlDivergence.open(klBase, lm.config.vocabSize())
                    : klBase != null ? KlDivergence.create(klBase, lm.config.vocabSize(), ctx, n, tokens) : null;
            try (k) {
                long t0 = System.nanoTime();
                int chunkCount = n;
                Perplexity.Result r = Perplexity.run(h.model, tokens, ctx, bos, n, partial -> {
                    if (json) return;
                    out.printf("[%d]%s,", partial.chunks(), num(partial.ppl()));
                    if (partial.chunks() == chunkCount) out.println();
                    out.flush();
                }, k == null ? null : (c, i, logits, off, vocab, lse, next) -> k.position(logits, off, lse, next));
                double secs = (System.nanoTime() - t0) / 1e9;
                KlDivergence.Stats st = base != null ? k.stats(r) : null;
                if (json) out.println(toJson(r, st, ctx, secs).toPrettyString());
                else print(out, err, r, st, secs);
                if (k != null && base == null) err.println("moge: wrote the base log-probabilities to " + klBase);
            }
        }
    }

    private static void print(PrintWriter out, PrintWriter err, Perplexity.Result r, KlDivergence.Stats s, double secs) {
        out.printf("Final estimate: PPL = %s +/- %s%n", num(r.ppl()), num(r.pplError()));
        err.printf("moge: %d tokens scored in %.2f s (%.2f s per chunk)%n", r.count(), secs, secs / r.chunks());
        if (s == null) return;
        out.printf("Mean PPL(Q)                : %s%n", num(s.ppl()));
        out.printf("Mean PPL(base)             : %s%n", num(s.basePpl()));
        out.printf(java.util.Locale.ROOT, "Mean ln(PPL(Q)/PPL(base))  : %10.6f%n", s.lnPplRatio());
        out.printf(java.util.Locale.ROOT, "Mean    KLD: %10.6f +/- %10.6f%n", s.meanKld(), s.kldError());
        out.printf(java.util.Locale.ROOT, "Maximum KLD: %10.6f%n", s.maxKld());
        out.printf(java.util.Locale.ROOT, "99.0%%   KLD: %10.6f%n", s.p99Kld());
        out.printf(java.util.Locale.ROOT, "Median  KLD: %10.6f%n", s.medianKld());
        out.printf(java.util.Locale.ROOT, "Same top p: %6.3f %%%n", 100 * s.sameTop());
    }

    /**
     * llama.cpp's four decimals for a perplexity, six significant digits where they would say nothing: a random
     * model's perplexity of 1e171 is not 171 digits, one of 1e-5 (an error) not 0.0000.
     */
    static String num(double x) {
        double a = Math.abs(x);
        if (a == 0 || !Double.isFinite(x) || (a >= 1e-3 && a < 1e9)) return String.format(java.util.Locale.ROOT, "%.4f", x);
        return String.format(java.util.Locale.ROOT, "%.6g", x);
    }

    private static ObjectNode toJson(Perplexity.Result r, KlDivergence.Stats s, int ctx, double secs) {
        ObjectNode n = new ObjectMapper().createObjectNode();
        n.put("n_ctx", ctx);
        n.put("chunks", r.chunks());
        n.put("tokens_scored", r.count());
        n.put("ppl", r.ppl());
        n.put("ppl_error", r.pplError());
        n.put("seconds", secs);
        if (s != null) {
            ObjectNode k = n.putObject("kl_divergence");
            k.put("base_ppl", s.basePpl());
            k.put("ln_ppl_ratio", s.lnPplRatio());
            k.put("mean", s.meanKld());
            k.put("mean_error", s.kldError());
            k.put("median", s.medianKld());
            k.put("p99", s.p99Kld());
            k.put("max", s.maxKld());
            k.put("same_top", s.sameTop());
        }
        return n;
    }
}
