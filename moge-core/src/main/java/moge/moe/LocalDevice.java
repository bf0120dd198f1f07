package moge.moe;

import moge.model.ModelConfig;
import moge.model.Weights;
import moge.tensor.Activations;
import moge.tensor.Kernels;
import moge.tensor.Matrix;
import moge.tensor.Parallel;

/**
 * A device on this machine: a thread team that runs the experts of its groups. Each active expert is one
 * work item (gather its rows, SwiGLU, down projection, as matrix-matrix products when the expert has
 * several tokens); a row's result depends only on its token and expert, never on which device or team
 * member computed it, which is what keeps the output identical for any number of devices.
 * Expert workers use the same class to compute what coordinators send them.
 */
public final class LocalDevice implements ExpertDevice {
    private final String name;
    private final int[] groups;
    private final Weights weights;
    private final ModelConfig config;
    private final Parallel team;
    private final boolean ownsTeam;
    private final Scratch[] scratch;

    /**
     * @param team     the device's threads; when {@code ownsTeam} it is closed with the device
     */
    public LocalDevice(String name, int[] groups, Weights weights, ModelConfig config, Parallel team, boolean ownsTeam) {
        this.name = name;
        this.groups = groups.clone();
        this.weights = weights;
        this.config = config;
        this.team = team;
        this.ownsTeam = ownsTeam;
        this.scratch = new Scratch[team.threads()];
        for (int i = 0; i < scratch.length; i++) scratch[i] = new Scratch();
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public int[] groups() {
        return groups.clone();
    }

    public int threads() {
        return team.threads();
    }

    @Override
    public boolean local() {
        return true;
    }

    @Override
    public void start(DeviceBatch b) {
    }

    @Override
    public void finish(DeviceBatch b) {
        b.ensureOutput();
        if (b.segments == 0) return;
        Weights.Layer L = weights.layers[b.layer];
        team.forEach(b.segments, (seg, member) -> runExpert(L, b, seg, scratch[member]));
    }

    private void runExpert(Weights.Layer L, DeviceBatch b, int seg, Scratch s) {
        int H = config.hidden(), ff = config.moeIntermediate();
        int e = b.segExpert[seg], first = b.segStart[seg], cnt = b.segCount[seg];
        Matrix gate = L.expertGate[e], up = L.expertUp[e], down = L.expertDown[e];
        if (gate == null) throw new IllegalStateException("expert " + e + " of layer " + b.layer + " is not loaded on " + name);
        s.ensure(cnt, H, ff);
        for (int j = 0; j < cnt; j++) {
            int xr = b.tokenIndex[b.rowToken[first + j]];
            System.arraycopy(b.x, xr * H, s.in, j * H, H);
        }
        s.inAct.set(s.in, cnt, H);
        Kernels.swigluLocal(gate, up, s.inAct, s.h, s.upBuf);
        s.hAct.set(s.h, cnt, ff);
        down.prepare(s.hAct);
        // the segment's [cnt, H] block lands at its own rows; other members write other rows
        down.matmul(s.hAct, b.y, H, first * H, 0, H);
    }

    @Override
    public void close() {
        if (ownsTeam) team.close();
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
