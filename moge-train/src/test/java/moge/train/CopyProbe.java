package moge.train;

import moge.model.Arch;
import moge.model.ModelConfig;
import moge.model.RouterKind;
import moge.tensor.Parallel;

import java.util.SplittableRandom;

/** Manual probe: can the model learn to copy a random sequence? (args: steps lr theta arch) */
public final class CopyProbe {
    public static void main(String[] args) {
        int steps = args.length > 0 ? Integer.parseInt(args[0]) : 300;
        double lr = args.length > 1 ? Double.parseDouble(args[1]) : 3e-3;
        double theta = args.length > 2 ? Double.parseDouble(args[2]) : 10000;
        boolean moe = args.length > 3 && args[3].equals("moe");
        int symbols = args.length > 4 ? Integer.parseInt(args[4]) : 54;
        boolean varLen = args.length > 5 && args[5].equals("var");
        int hidden = Integer.getInteger("hidden", 64), layers = Integer.getInteger("layers", 2), heads = Integer.getInteger("heads", 4);
        ModelConfig c = moe
                ? new ModelConfig(Arch.PANGU_PRO_MOE, 64, hidden, layers, heads, 2, hidden / heads, 0, 8, 4, 4, 32, 64, false, new boolean[layers], theta, 1e-5f, 256,
                false, true, true, false, RouterKind.MOGE)
                : new ModelConfig(Arch.PANGU_EMBEDDED, 64, 64, 2, 4, 2, 16, 128, 0, 0, 0, 0, 0, false, new boolean[2], theta, 1e-5f, 256,
                false, true, true, false, null);
        Params p = new Params(c);
        p.init(1, 0.02);
        AdamW opt = new AdamW(p, 0.9, 0.95, 1e-8, 0.1);
        SplittableRandom r = new SplittableRandom(1);
        try (Parallel team = new Parallel(1)) {
            TrainModel m = new TrainModel(p, team, 0.01, 256);
            for (int s = 0; s < steps; s++) {
                int B = 32;
                int[][] seqs = new int[B][];
                boolean[][] loss = new boolean[B][];
                for (int b = 0; b < B; b++) {
                    int len = varLen ? 1 + r.nextInt(10) : 10;
                    seqs[b] = new int[2 * len + 2];
                    loss[b] = new boolean[2 * len + 2];
                    seqs[b][0] = 1;
                    for (int i = 0; i < len; i++) seqs[b][1 + i] = 10 + r.nextInt(symbols);
                    seqs[b][len + 1] = 3;
                    for (int i = 0; i < len; i++) {
                        seqs[b][len + 2 + i] = seqs[b][1 + i];
                        loss[b][len + 2 + i] = true;
                    }
                }
                TokenBatch batch = TokenBatch.of(seqs, loss);
                p.zeroGrad();
                TrainModel.Stats st = m.forward(batch);
                m.backward();
                double lrNow = lr * Math.min(1, (s + 1) / 20.0);
                opt.step(team, p, lrNow, 1.0);
                if (s % 25 == 0 || s == steps - 1) System.out.printf("step %d copy loss %.4f%n", s, st.ce());
            }
        }
    }
}
