package moge.spec;

import moge.MogeException;
import moge.format.DType;
import moge.format.gguf.GgmlQuantizer;
import moge.model.Weights;
import moge.tensor.Matrix;
import moge.tensor.Parallel;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * A lower-bit copy of a model's weights, made in memory at load time, to serve as the model's own draft
 * ({@code --draft-model self:q4_0}). Every matrix whose rows are whole blocks of 32 is quantized into
 * off-heap ggml blocks (with {@link GgmlQuantizer}, llama.cpp's reference rounding); the token embedding (only one row per token is read), small vectors and matrices of
 * other widths stay shared with the original. A copy of the same weights agrees with the original far
 * more often than an unrelated small model would, even for random weights.
 */
public final class QuantizedCopy implements AutoCloseable {
    /** Builds a kernel view over quantized bytes (normally {@link Matrix#of(String, DType, int, int, MemorySegment)}). */
    @FunctionalInterface
    public interface Views {
        Matrix create(String name, DType type, int rows, int cols, MemorySegment data);
    }

    public final Weights weights;
    public final DType type;
    private final Arena arena;
    private long quantizedBytes;
    private int quantized, kept;

    private QuantizedCopy(Weights original, DType type, Views views, Parallel team) {
        this.type = type;
        this.arena = Arena.ofShared();
        try {
            Map<Matrix, Matrix> done = new IdentityHashMap<>();
            Weights.Layer[] layers = new Weights.Layer[original.layers.length];
            for (int i = 0; i < layers.length; i++) layers[i] = layer(original.layers[i], done, views, team);
            Matrix head = copy(original.lmHead, done, views, team);
            this.weights = new Weights(original.embed, original.finalNorm, head, layers);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * @param type Q8_0 or Q4_0
     * @param team splits the quantization over threads (null: the calling thread)
     */
    public static QuantizedCopy of(Weights original, DType type, Views views, Parallel team) {
        if (type != DType.Q8_0 && type != DType.Q4_0) throw new MogeException("a quantized self-draft must be q8_0 or q4_0, not " + type);
        return new QuantizedCopy(original, type, views, team);
    }

    public static QuantizedCopy of(Weights original, DType type, Parallel team) {
        return of(original, type, Matrix::of, team);
    }

    private Weights.Layer layer(Weights.Layer s, Map<Matrix, Matrix> done, Views v, Parallel team) {
        Weights.Layer l = new Weights.Layer();
        l.attnNorm = s.attnNorm;
        l.ffnNorm = s.ffnNorm;
        l.bq = s.bq;
        l.bk = s.bk;
        l.bv = s.bv;
        l.bo = s.bo;
        l.qNorm = s.qNorm;
        l.kNorm = s.kNorm;
        l.routerScale = s.routerScale;
        l.sharedGateInp = s.sharedGateInp;
        l.wq = copy(s.wq, done, v, team);
        l.wk = copy(s.wk, done, v, team);
        l.wv = copy(s.wv, done, v, team);
        l.wo = copy(s.wo, done, v, team);
        l.gate = copy(s.gate, done, v, team);
        l.up = copy(s.up, done, v, team);
        l.down = copy(s.down, done, v, team);
        // The router picks experts; quantizing it would change routing more than it saves.
        l.router = s.router;
        l.sharedGate = copy(s.sharedGate, done, v, team);
        l.sharedUp = copy(s.sharedUp, done, v, team);
        l.sharedDown = copy(s.sharedDown, done, v, team);
        if (s.expertGate != null) {
            int n = s.expertGate.length;
            l.expertGate = new Matrix[n];
            l.expertUp = new Matrix[n];
            l.expertDown = new Matrix[n];
            for (int e = 0; e < n; e++) {
                l.expertGate[e] = copy(s.expertGate[e], done, v, team);
                l.expertUp[e] = copy(s.expertUp[e], done, v, team);
                l.expertDown[e] = copy(s.expertDown[e], done, v, team);
            }
        }
        return l;
    }

    private Matrix copy(Matrix m, Map<Matrix, Matrix> done, Views views, Parallel team) {
        if (m == null) return null;
        Matrix have = done.get(m);
        if (have != null) return have;
        Matrix out;
        if (m.cols % type.blockSize != 0 || m.type() == type) {
            out = m;
            kept++;
        } else {
            long rowBytes = type.bytesFor(m.cols);
            MemorySegment seg = arena.allocate(rowBytes * m.rows, 64);
            if (team == null) {
                quantizeRows(m, seg, rowBytes, 0, m.rows);
            } else {
                team.forRange(m.rows, 1, (r0, r1) -> quantizeRows(m, seg, rowBytes, r0, r1));
            }
            out = views.create(m.name, type, m.rows, m.cols, seg);
            quantizedBytes += seg.byteSize();
            quantized++;
        }
        done.put(m, out);
        return out;
    }

    private void quantizeRows(Matrix m, MemorySegment seg, long rowBytes, int r0, int r1) {
        float[] row = new float[m.cols];
        for (int r = r0; r < r1; r++) {
            m.row(r, row, 0);
            byte[] blocks = GgmlQuantizer.encode(type, row, 0, m.cols);
            MemorySegment.copy(blocks, 0, seg, ValueLayout.JAVA_BYTE, r * rowBytes, blocks.length);
        }
    }

    /** Off-heap bytes of the quantized matrices. */
    public long quantizedBytes() {
        return quantizedBytes;
    }

    public int quantizedMatrices() {
        return quantized;
    }

    /** Matrices shared with the original (widths not divisible into blocks, or already of this type). */
    public int keptMatrices() {
        return kept;
    }

    @Override
    public void close() {
        arena.close();
    }
}
