package moge.generate;

import moge.MogeException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

/**
 * How far a model's next-token distributions are from a base model's on the same tokens (llama-perplexity's
 * {@code --kl-divergence}): the measure of what quantizing a model costs, finer than perplexity, which a
 * quantization can leave unchanged while moving probability between tokens.
 * <p>
 * The base run writes, per scored position of {@link Perplexity}, its log-probabilities to a file of our own
 * format: a header (magic, vocabulary, context, chunks, the token stream), then per position the base's top
 * token (int32), the log-probability of the token that came next (float64, exact, for the base's perplexity:
 * a model can put it below the floor), the lowest log-probability kept (float32, at least {@value #FLOOR}), and the vocabulary's
 * log-probabilities as 16-bit steps from it up to 0: llama.cpp stores them the same way, as float32 would take
 * 600 KB a position at a 150k vocabulary. A step is at most 50/65535 nats, so the stored distribution moves a
 * KL divergence by under 4e-4 (the error of each log-probability, weighed by probabilities summing to 1); runs
 * of one model against its own base file measure that floor (tests).
 */
public final class KlDivergence implements AutoCloseable {
    static final byte[] MAGIC = "MOGEKLD2".getBytes(StandardCharsets.US_ASCII);
    static final float FLOOR = -50f;
    private static final int HEADER = 8 + 4 * 4;
    /** Per position: top token, next token's log-probability, floor, then the vocabulary's 16-bit steps. */
    private static final int POSITION = 4 + 8 + 4;

    /** Header of a base file: what the comparison run must match. */
    public record Base(int vocab, int ctx, int chunks, int[] tokens) {
    }

    /** Summary of a comparison: per scored token KL(base || this), and how often both pick the same top token. */
    public record Stats(long count, double meanKld, double kldError, double medianKld, double p99Kld, double maxKld, double sameTop,
                        double basePpl, double ppl) {
        /** ln(PPL / PPL(base)), llama.cpp's headline of what a quantization costs in perplexity. */
        public double lnPplRatio() {
            return Math.log(ppl / basePpl);
        }
    }

    private final Path file;
    private final FileChannel ch;
    private final boolean writing;
    private final int vocab;
    private final ByteBuffer pos;
    private final double[] baseLp;
    // comparison state
    private double[] klds = new double[1024];
    private long n, same;
    private double baseNll;

    private KlDivergence(Path file, FileChannel ch, boolean writing, int vocab) {
        this.file = file;
        this.ch = ch;
        this.writing = writing;
        this.vocab = vocab;
        this.pos = ByteBuffer.allocate(POSITION + 2 * vocab).order(ByteOrder.LITTLE_ENDIAN);
        this.baseLp = new double[vocab];
    }

    /** Starts a base file for {@code chunks} chunks of {@code ctx} tokens of {@code tokens}. */
    public static KlDivergence create(Path file, int vocab, int ctx, int chunks, int[] tokens) {
        try {
            FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);
            int nt = chunks * ctx;
            ByteBuffer h = ByteBuffer.allocate(HEADER + 4 * nt).order(ByteOrder.LITTLE_ENDIAN);
            h.put(MAGIC).putInt(vocab).putInt(ctx).putInt(chunks).putInt(nt);
            for (int i = 0; i < nt; i++) h.putInt(tokens[i]);
            write(ch, h.flip(), file);
            return new KlDivergence(file, ch, true, vocab);
        } catch (IOException e) {
            throw new MogeException(file + ": cannot write: " + e.getMessage());
        }
    }

    /** Reads a base file's header; {@link #open} then compares against its positions. */
    public static Base readBase(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return header(file, ch);
        } catch (IOException e) {
            throw new MogeException(file + ": cannot read: " + e.getMessage());
        }
    }

    /** Opens a base file for a comparison run of a model with {@code vocab} entries. */
    public static KlDivergence open(Path file, int vocab) {
        try {
            FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
            Base b = header(file, ch);
            if (b.vocab != vocab) {
                ch.close();
                throw new MogeException(file + ": the base model has a vocabulary of " + b.vocab + " tokens, this model " + vocab);
            }
            ch.position(HEADER + 4L * b.tokens.length);
            return new KlDivergence(file, ch, false, vocab);
        } catch (IOException e) {
            throw new MogeException(file + ": cannot read: " + e.getMessage());
        }
    }

    private static Base header(Path file, FileChannel ch) throws IOException {
        ByteBuffer h = ByteBuffer.allocate(HEADER).order(ByteOrder.LITTLE_ENDIAN);
        read(ch, h, file, "its header");
        byte[] magic = new byte[8];
        h.get(magic);
        if (!Arrays.equals(magic, MAGIC)) throw new MogeException(file + ": not a KL-divergence base file of moge (written by --kl-divergence-base)");
        int vocab = h.getInt(), ctx = h.getInt(), chunks = h.getInt(), nt = h.getInt();
        if (vocab < 1 || ctx < 4 || chunks < 1 || (long) chunks * ctx != nt) {
            throw new MogeException(file + ": corrupt header (vocabulary " + vocab + ", context " + ctx + ", chunks " + chunks + ", tokens " + nt + ")");
        }
        long expect = HEADER + 4L * nt + (long) chunks * Perplexity.scoredPerChunk(ctx) * (POSITION + 2L * vocab);
        if (ch.size() != expect) throw new MogeException(file + ": " + ch.size() + " bytes where its header promises " + expect + " (truncated?)");
        ByteBuffer t = ByteBuffer.allocate(4 * nt).order(ByteOrder.LITTLE_ENDIAN);
        read(ch, t, file, "its tokens");
        int[] tokens = new int[nt];
        for (int i = 0; i < nt; i++) tokens[i] = t.getInt();
        return new Base(vocab, ctx, chunks, tokens);
    }

    /** The scored logits row of the run (and its log-sum-exp): stored (base run) or compared (comparison run). */
    public void position(float[] logits, int off, double lse, int next) {
        int top = moge.sample.Sampler.argmax(logits, off, vocab);
        if (writing) store(logits, off, lse, top, next);
        else compare(logits, off, lse, top, next);
    }

    private void store(float[] logits, int off, double lse, int top, int next) {
        double lo = 0;
        for (int v = 0; v < vocab; v++) lo = Math.min(lo, logits[off + v] - lse);
        float floor = (float) Math.max(FLOOR, lo);
        double step = -floor / 65535.0;
        pos.clear();
        pos.putInt(top).putDouble(logits[off + next] - lse).putFloat(floor);
        for (int v = 0; v < vocab; v++) {
            double lp = Math.max(floor, logits[off + v] - lse);
            pos.putShort((short) (step == 0 ? 0 : Math.round((lp - floor) / step)));
        }
        write(ch, pos.flip(), file);
    }

    private void compare(float[] logits, int off, double lse, int top, int next) {
        pos.clear();
        read(ch, pos, file, "position " + n);
        int baseTop = pos.getInt();
        double nextLp = pos.getDouble();
        float floor = pos.getFloat();
        double step = -floor / 65535.0, kld = 0;
        for (int v = 0; v < vocab; v++) baseLp[v] = floor + (pos.getShort() & 0xFFFF) * step;
        for (int v = 0; v < vocab; v++) kld += Math.exp(baseLp[v]) * (baseLp[v] - (logits[off + v] - lse));
        if (n == klds.length) klds = Arrays.copyOf(klds, klds.length * 2);
        klds[(int) n++] = kld;
        if (top == baseTop) same++;
        baseNll -= nextLp;
    }

    /** The comparison's figures, given the comparison run's own perplexity result. */
    public Stats stats(Perplexity.Result own) {
        if (writing) throw new IllegalStateException("a base file has no comparison");
        double[] k = Arrays.copyOf(klds, (int) n);
        double sum = 0, sum2 = 0;
        for (double x : k) {
            sum += x;
            sum2 += x * x;
        }
        Arrays.sort(k);
        double mean = sum / n, err = n > 1 ? Math.sqrt(Math.max(0, sum2 / n - mean * mean) / (n - 1)) : Double.NaN;
        return new Stats(n, mean, err, quantile(k, 0.5), quantile(k, 0.99), k[k.length - 1], (double) same / n,
                Math.exp(baseNll / n), own.ppl());
    }

    private static double quantile(double[] sorted, double q) {
        return sorted[(int) Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1) + 0.5))];
    }

    @Override
    public void close() {
        try {
            ch.close();
        } catch (IOException e) {
            throw new MogeException(file + ": " + e.getMessage());
        }
    }

    private static void write(FileChannel ch, ByteBuffer b, Path file) {
        try {
            while (b.hasRemaining()) ch.write(b);
        } catch (IOException e) {
            throw new MogeException(file + ": cannot write: " + e.getMessage());
        }
    }

    private static void read(FileChannel ch, ByteBuffer b, Path file, String what) {
        try {
            while (b.hasRemaining()) {
                if (ch.read(b) < 0) throw new MogeException(file + ": ends inside " + what);
            }
            b.flip();
        } catch (IOException e) {
            throw new MogeException(file + ": cannot read " + what + ": " + e.getMessage());
        }
    }
}
