package moge.generate;

import moge.MogeException;
import moge.model.Batch;
import moge.model.KvSequence;
import moge.model.Model;

/**
 * Perplexity of a model over a token stream, measured as llama.cpp's llama-perplexity does, so figures compare
 * with the ones its users quote: the stream is cut into chunks of {@code ctx} tokens, each run from an empty
 * cache with its first token replaced by BOS (when the model's prompts start with one), and only the tokens of
 * the chunk's second half are scored, so every scored token is predicted from at least ctx/2 tokens of context
 * (a first half scored too would count predictions made from almost nothing).
 */
public final class Perplexity {
    /**
     * Receives the logits row of every scored position with its log-sum-exp (taken once, for the perplexity):
     * {@code next} is the token that followed.
     */
    public interface Scored {
        void position(int chunk, int index, float[] logits, int off, int vocab, double lse, int next);
    }

    /** The figures after {@code chunks} chunks: summed negative log-likelihood (nats) and its square over {@code count} tokens. */
    public record Result(int chunks, long count, double nll, double nll2) {
        public double ppl() {
            return Math.exp(nll / count);
        }

        /** llama.cpp's uncertainty: the standard error of the mean NLL carried through exp. */
        public double pplError() {
            if (count < 2) return Double.NaN;
            double mean = nll / count, var = nll2 / count - mean * mean;
            return Math.sqrt(Math.max(0, var) / (count - 1)) * ppl();
        }
    }

    private Perplexity() {
    }

    /** The first scored position of a chunk: scored tokens see at least this much context. */
    public static int firstScored(int ctx) {
        return ctx / 2;
    }

    /** Scored tokens per chunk: positions firstScored .. ctx-2 each predict the token after them. */
    public static int scoredPerChunk(int ctx) {
        return ctx - 1 - firstScored(ctx);
    }

    /**
     * Runs {@code chunks} chunks of {@code tokens} (which must hold that many) and returns the totals; {@code bos}
     * is the id that replaces each chunk's first token, or -1 to keep it. {@code onChunk} sees the running totals
     * after every chunk, {@code sink} (may be null) every scored logits row.
     */
    public static Result run(Model model, int[] tokens, int ctx, int bos, int chunks,
                             java.util.function.Consumer<Result> onChunk, Scored sink) {
        if (ctx < 4) throw new MogeException("perplexity needs a context of at least 4 tokens, got " + ctx);
        if (chunks < 1 || (long) chunks * ctx > tokens.length) {
            throw new MogeException(tokens.length + " tokens hold " + tokens.length / ctx + " chunks of " + ctx + ", not " + chunks);
        }
        int vocab = model.config.vocabSize(), first = firstScored(ctx), step = model.maxBatch();
        KvSequence seq = model.newCache(ctx, 1).newSequence();
        Batch batch = new Batch(step);
        double nll = 0, nll2 = 0;
        long count = 0;
        Result r = null;
        try {
            for (int c = 0; c < chunks; c++) {
                int base = c * ctx;
                seq.truncate(0);
                for (int start = 0; start < ctx; start += step) {
                    int end = Math.min(ctx, start + step);
                    batch.clear();
                    for (int p = start; p < end; p++) {
                        int tok = p == 0 && bos >= 0 ? bos : tokens[base + p];
                        batch.add(tok, p, seq, p >= first && p < ctx - 1);
                    }
                    float[] logits = model.forward(batch);
                    int row = 0;
                    for (int p = Math.max(start, first); p < Math.min(end, ctx - 1); p++, row++) {
                        int off = row * vocab, next = tokens[base + p + 1];
                        double lse = LogProbs.logSumExp(logits, off, vocab), x = lse - logits[off + next];
                        nll += x;
                        nll2 += x * x;
                        count++;
                        if (sink != null) sink.position(c, p - first, logits, off, vocab, lse, next);
                    }
                }
                r = new Result(c + 1, count, nll, nll2);
                if (onChunk != null) onChunk.accept(r);
            }
        } finally {
            seq.release();
        }
        return r;
    }
}
