package moge.moe;

import moge.model.Batch;
import moge.model.KvCache;
import moge.model.KvSequence;
import moge.model.Model;
import moge.sample.Sampler;

import java.util.Arrays;
import java.util.SplittableRandom;

/** Test helper: runs a prompt in chunks and a greedy continuation, keeping every logit produced. */
public final class DeviceRuns {
    private DeviceRuns() {
    }

    /** Logits of every prompt position and of each greedy step, concatenated, and the greedy ids. */
    public record Run(float[] logits, int[] greedy) {
    }

    public static Run run(Model m, int[] prompt, int chunk, int steps) {
        int V = m.config.vocabSize();
        KvCache cache = KvCache.forContext(m.config, prompt.length + steps + 4, 1, 16);
        KvSequence seq = cache.newSequence();
        Batch b = new Batch(m.maxBatch());
        float[] all = new float[(prompt.length + steps) * V];
        int o = 0;
        float[] last = null;
        for (int s = 0; s < prompt.length; s += chunk) {
            int e = Math.min(prompt.length, s + chunk);
            b.clear();
            for (int p = s; p < e; p++) b.add(prompt[p], p, seq, true);
            float[] l = m.forward(b);
            System.arraycopy(l, 0, all, o, (e - s) * V);
            o += (e - s) * V;
            last = Arrays.copyOfRange(l, (e - s - 1) * V, (e - s) * V);
        }
        int[] greedy = new int[steps];
        int pos = prompt.length;
        for (int i = 0; i < steps; i++) {
            int id = Sampler.argmax(last, 0, V);
            greedy[i] = id;
            b.clear().add(id, pos++, seq, true);
            float[] l = m.forward(b);
            System.arraycopy(l, 0, all, o, V);
            o += V;
            last = Arrays.copyOf(l, V);
        }
        return new Run(all, greedy);
    }

    public static int[] tokens(int n, int vocab, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = r.nextInt(vocab);
        return t;
    }
}
