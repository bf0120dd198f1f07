package moge.moe;

/**
 * One device's share of one MoE layer: the rows (token, expert) routed to its experts, sorted by expert so
 * that each expert's rows are contiguous (one segment per active expert, ascending expert id, tokens in
 * batch order inside a segment), and the distinct tokens whose hidden states the rows read. The device
 * writes the unweighted output of every row to {@link #y}; the dispatcher weights and sums them.
 * Reused from layer to layer; arrays only grow.
 */
public final class DeviceBatch {
    public int layer;
    public int hidden;
    /** Hidden states: the model's normalised rows on this machine, the received ones on a worker. */
    public float[] x;
    /** Distinct tokens routed here; token u reads row {@code tokenIndex[u]} of x. */
    public int tokens;
    public int[] tokenIndex = new int[0];
    public int rows;
    /** Row r computes expert segExpert[s] (for the segment s holding r) on token rowToken[r]. */
    public int[] rowToken = new int[0];
    public int segments;
    public int[] segExpert = new int[0], segStart = new int[0], segCount = new int[0];
    /** rows * hidden outputs, row-major. */
    public float[] y = new float[0];

    /** Sizes the arrays for at most the given counts and empties the batch. */
    public void reset(int layer, int hidden, float[] x, int maxTokens, int maxRows, int maxSegments) {
        this.layer = layer;
        this.hidden = hidden;
        this.x = x;
        tokens = 0;
        rows = 0;
        segments = 0;
        if (tokenIndex.length < maxTokens) tokenIndex = new int[maxTokens];
        if (rowToken.length < maxRows) rowToken = new int[maxRows];
        if (segExpert.length < maxSegments) {
            segExpert = new int[maxSegments];
            segStart = new int[maxSegments];
            segCount = new int[maxSegments];
        }
    }

    /** Makes room for the outputs of all rows. */
    public void ensureOutput() {
        long n = (long) rows * hidden;
        if (n > Integer.MAX_VALUE - 16) throw new IllegalStateException("expert output of " + rows + " rows is too large");
        if (y.length < n) y = new float[(int) n];
    }
}
