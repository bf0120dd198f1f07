package moge.model;

import moge.tensor.Activations;
import moge.tensor.Kernels;
import moge.tensor.Matrix;
import moge.tensor.Parallel;

import java.util.Arrays;

/**
 * Runs routed experts on a thread team: tokens are grouped by expert, each active expert is one work item
 * (gather its rows, SwiGLU, down projection: matrix-matrix products when an expert has several tokens),
 * and the outputs are combined per token in slot order.
 */
public final class LocalExperts implements ExpertExecutor {
    private final Weights weights;
    private final ModelConfig config;
    private final Parallel team;
    private final Scratch[] scratch;

    private int[] count = new int[0], start = new int[0], fill = new int[0];
    private int[] rowOf = new int[0];      // (t*k+s) -> row in the expert-sorted buffer
    private int[] tokenOfRow = new int[0]; // row -> token
    private int[] active = new int[0];
    private float[] sortedOut = new float[0];
    /** One token's input, shared by all its experts (see {@link #run}). */
    private final Activations single = new Activations();

    public LocalExperts(Weights weights, ModelConfig config, Parallel team) {
        this.weights = weights;
        this.config = config;
        this.team = team;
        this.scratch = new Scratch[team.threads()];
        for (int i = 0; i < scratch.length; i++) scratch[i] = new Scratch();
    }

    @Override
    public void run(int layer, float[] xn, int tokens, int[] idx, float[] w, int k, float[] out) {
        int n = config.numExperts(), H = config.hidden();
        int rows = tokens * k;
        if (count.length < n) {
            count = new int[n];
            start = new int[n];
            fill = new int[n];
            active = new int[n];
        }
        if (rowOf.length < rows) {
            rowOf = new int[rows];
            tokenOfRow = new int[rows];
        }
        if (sortedOut.length < rows * H) sortedOut = new float[rows * H];
        Arrays.fill(count, 0, n, 0);
        for (int i = 0; i < rows; i++) count[idx[i]]++;
        int nActive = 0, acc = 0;
        for (int e = 0; e < n; e++) {
            start[e] = acc;
            fill[e] = acc;
            acc += count[e];
            if (count[e] > 0) active[nActive++] = e;
        }
        for (int i = 0; i < rows; i++) {
            int r = fill[idx[i]]++;
            rowOf[i] = r;
            tokenOfRow[r] = i / k;
        }
        Weights.Layer L = weights.layers[layer];
        final int na = nActive;
        long cost = 3L * rows * config.hidden() * config.moeIntermediate();
        // one token (decode): every expert reads the same row, so its kernel form (Q8Lanes for Q4_0, 2 us for
        // 2048 values) is built once here, not once per expert, and only read inside the job
        final Activations shared = tokens == 1 ? single.set(xn, 1, H) : null;
        if (shared != null) {
            for (int i = 0; i < na; i++) {
                Matrix gate = L.expertGate[active[i]];
                if (gate == null) continue; // runExpert names the missing expert
                gate.prepare(shared);
                L.expertUp[active[i]].prepare(shared);
            }
        }
        team.forEach(na, cost, (item, member) -> {
            int e = active[item];
            runExpert(L, e, xn, start[e], count[e], shared, scratch[member]);
        });
        for (int t = 0; t < tokens; t++) {
            for (int s = 0; s < k; s++) {
                int i = t * k + s;
                moge.tensor.VectorMath.axpy(w[i], sortedOut, rowOf[i] * H, out, t * H, H);
            }
        }
    }

    /** {@code shared}: the one token's input with its kernel forms built, or null to gather the expert's rows. */
    private void runExpert(Weights.Layer L, int e, float[] xn, int firstRow, int cnt, Activations shared, Scratch s) {
        int H = config.hidden(), ff = config.moeIntermediate();
        Matrix gate = L.expertGate[e], up = L.expertUp[e], down = L.expertDown[e];
        if (gate == null) throw new IllegalStateException("expert " + e + " is not loaded in this process");
        s.ensure(cnt, H, ff);
        Activations in = shared;
        if (in == null) {
            for (int j = 0; j < cnt; j++) {
                System.arraycopy(xn, tokenOfRow[firstRow + j] * H, s.in, j * H, H);
            }
            in = s.inAct.set(s.in, cnt, H);
        }
        Kernels.swigluLocal(gate, up, in, s.h, s.upBuf);
        s.hAct.set(s.h, cnt, ff);
        down.prepare(s.hAct);
        // yOff places the expert's [cnt, H] block at its own rows; other members write other rows.
        down.matmul(s.hAct, sortedOut, H, firstRow * H, 0, H);
    }

    private static final class Scratch {
        float[] in = new float[0], h = new float[0], upBuf = new float[0];
        final Activations inAct = new Activations(), hAct = new Activations();

        void ensure(int rows, int H, int ff) {
            if (in.length < rows * H) in = new float[rows * H];
            if (h.length < rows * ff) {
                h = new float[rows * ff];
                upBuf = new float[rows * ff];
            }
        }
    }
}
