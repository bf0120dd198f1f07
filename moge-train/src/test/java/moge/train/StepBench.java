package moge.train;

import moge.tensor.Parallel;
import moge.tokenizer.HfTokenizerLoader;
import moge.train.data.DataMix;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

/** Manual probe (not a test): time of forward+backward+AdamW steps of a preset. Args: preset threads steps. */
public final class StepBench {
    public static void main(String[] args) throws Exception {
        String preset = args.length > 0 ? args[0] : "demo";
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        int steps = args.length > 2 ? Integer.parseInt(args[2]) : 20;
        TrainConfig cfg = TrainConfig.parse(TrainConfig.preset(preset), preset);
        Path dir = Files.createTempDirectory("stepbench");
        Trainer.vocabulary(cfg.settings().vocabSize()).write(dir);
        var tok = HfTokenizerLoader.load(dir);
        DataMix mix = new DataMix(tok, Set.of());
        Params p = new Params(cfg.model());
        p.init(1, 0.02);
        AdamW opt = new AdamW(p, 0.9, 0.95, 1e-8, 0.1);
        try (Parallel team = new Parallel(threads)) {
            TrainModel m = new TrainModel(p, team, 0.01, 512);
            long tok0 = 0, t0 = 0, fw = 0, bw = 0, op = 0;
            for (int s = 0; s < steps; s++) {
                TokenBatch b = mix.batch("sft", 1, s, cfg.settings().batchTokens(), 384);
                if (s == steps / 2) {
                    t0 = System.nanoTime();
                    tok0 = 0;
                    fw = bw = op = 0;
                }
                long a = System.nanoTime();
                p.zeroGrad();
                m.forward(b);
                long c = System.nanoTime();
                m.backward();
                long d = System.nanoTime();
                opt.step(team, p, 1e-3, 1.0);
                long e = System.nanoTime();
                fw += c - a;
                bw += d - c;
                op += e - d;
                tok0 += b.size();
            }
            double secs = (System.nanoTime() - t0) / 1e9;
            System.out.printf("%s threads=%d: %.0f tok/s  forward %.0f ms  backward %.0f ms  adam %.0f ms per step%n", preset, threads,
                    tok0 / secs, fw / 1e6 / (steps - steps / 2), bw / 1e6 / (steps - steps / 2), op / 1e6 / (steps - steps / 2));
        }
    }
}
