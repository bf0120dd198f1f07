package moge.tensor;

/**
 * The input of a matrix product: T rows of {@code cols} floats, plus the derived forms that kernels read
 * (bf16 even/odd order, int8 blocks). A derived form is built once per input, on the calling thread, before
 * the row range is split over the team, and then shared by every matrix that reads the same input.
 */
public final class Activations {
    private float[] data;
    private int tokens;
    private int cols;
    private int offset;

    private float[] evenOdd = new float[0];
    private boolean evenOddValid;

    private float[] tokenMajor = new float[0];
    private int tokenMajorTile;
    private boolean tokenMajorValid;

    private float[] blockSums = new float[0];
    private boolean blockSumsValid;

    private byte[] q8 = new byte[0];
    private float[] q8Scales = new float[0];
    private boolean q8Valid;

    public Activations set(float[] data, int offset, int tokens, int cols) {
        this.data = data;
        this.offset = offset;
        this.tokens = tokens;
        this.cols = cols;
        evenOddValid = false;
        q8Valid = false;
        tokenMajorValid = false;
        blockSumsValid = false;
        return this;
    }

    public Activations set(float[] data, int tokens, int cols) {
        return set(data, 0, tokens, cols);
    }

    public float[] data() {
        return data;
    }

    public int offset() {
        return offset;
    }

    public int tokens() {
        return tokens;
    }

    public int cols() {
        return cols;
    }

    /** Call after changing data in place. */
    public void invalidate() {
        evenOddValid = false;
        q8Valid = false;
        tokenMajorValid = false;
        blockSumsValid = false;
    }

    /**
     * The tokens in tiles of {@code tile}, each tile column-major: value (t, c) at
     * {@code (t / tile) * cols * tile + c * tile + t % tile}, tokens past the end zero. A matrix-matrix kernel
     * broadcasts one weight against a vector of tokens read here in one load.
     */
    public float[] tokenMajor(int tile) {
        if (tokenMajorValid && tokenMajorTile == tile) return tokenMajor;
        int tiles = (tokens + tile - 1) / tile;
        int n = tiles * tile * cols;
        if (tokenMajor.length < n) tokenMajor = new float[n];
        for (int i = 0; i < tiles; i++) {
            int base = i * cols * tile;
            int t0 = i * tile, tn = Math.min(tile, tokens - t0);
            if (tn < tile) java.util.Arrays.fill(tokenMajor, base, base + cols * tile, 0f);
            for (int j = 0; j < tn; j++) {
                int src = offset + (t0 + j) * cols;
                for (int c = 0; c < cols; c++) tokenMajor[base + c * tile + j] = data[src + c];
            }
        }
        tokenMajorTile = tile;
        tokenMajorValid = true;
        return tokenMajor;
    }

    /** Sum of each block of 32 values per token, [t * cols / 32 + b] (cols must be a multiple of 32). */
    public float[] blockSums32() {
        if (blockSumsValid) return blockSums;
        int blocks = cols / 32;
        if (blockSums.length < tokens * blocks) blockSums = new float[tokens * blocks];
        for (int t = 0; t < tokens; t++) {
            for (int b = 0; b < blocks; b++) {
                int src = offset + t * cols + b * 32;
                float s = 0;
                for (int i = 0; i < 32; i++) s += data[src + i];
                blockSums[t * blocks + b] = s;
            }
        }
        blockSumsValid = true;
        return blockSums;
    }

    /**
     * Each chunk of {@code chunk} values reordered as its even-indexed values, then its odd-indexed ones,
     * matching how a bf16 pair packed in one int splits into two float lanes. A tail shorter than a chunk
     * stays in natural order.
     */
    public float[] evenOdd(int chunk) {
        if (evenOddValid) return evenOdd;
        int n = tokens * cols;
        if (evenOdd.length < n) evenOdd = new float[n];
        int half = chunk / 2;
        for (int t = 0; t < tokens; t++) {
            int src = offset + t * cols, dst = t * cols;
            int c = 0;
            for (; c + chunk <= cols; c += chunk) {
                for (int i = 0; i < half; i++) {
                    evenOdd[dst + c + i] = data[src + c + 2 * i];
                    evenOdd[dst + c + half + i] = data[src + c + 2 * i + 1];
                }
            }
            for (; c < cols; c++) evenOdd[dst + c] = data[src + c];
        }
        evenOddValid = true;
        return evenOdd;
    }

    /**
     * Activations quantized to int8 in blocks of 32 with one float scale per block (round to nearest,
     * scale = max|x| / 127), the form llama.cpp's Q8_0 dot products read. {@code cols} must be a multiple of 32.
     */
    public void quantizeQ8() {
        if (q8Valid) return;
        int blocks = cols / 32;
        int n = tokens * cols;
        if (q8.length < n) q8 = new byte[n];
        if (q8Scales.length < tokens * blocks) q8Scales = new float[tokens * blocks];
        for (int t = 0; t < tokens; t++) {
            for (int b = 0; b < blocks; b++) {
                int src = offset + t * cols + b * 32;
                float amax = 0;
                for (int i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(data[src + i]));
                float d = amax / 127f;
                float id = d != 0 ? 1f / d : 0f;
                q8Scales[t * blocks + b] = d;
                int dst = t * cols + b * 32;
                for (int i = 0; i < 32; i++) q8[dst + i] = (byte) Math.round(data[src + i] * id);
            }
        }
        q8Valid = true;
    }

    public byte[] q8() {
        return q8;
    }

    public float[] q8Scales() {
        return q8Scales;
    }
}
