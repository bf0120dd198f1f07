package moge.train;

import java.util.ArrayList;
import java.util.List;

/**
 * Linear warm-up then cosine decay to {@code min_lr_ratio}·peak. A stage that sets {@code lr} starts a new
 * schedule over itself and the following stages that do not: general → reasoning → annealing share one decay
 * (annealing is its tail), SFT gets its own.
 */
public final class LrSchedule {
    private record Group(int start, int length, double peak, int warmup, double minRatio) {
    }

    private final List<Group> groups = new ArrayList<>();

    public LrSchedule(List<TrainConfig.Stage> stages) {
        int step = 0;
        for (TrainConfig.Stage s : stages) {
            if (!Double.isNaN(s.lr())) {
                groups.add(new Group(step, s.steps(), s.lr(), s.warmup(), s.minLrRatio()));
            } else {
                Group g = groups.removeLast();
                groups.add(new Group(g.start, g.length + s.steps(), g.peak, g.warmup, g.minRatio));
            }
            step += s.steps();
        }
    }

    public double lr(int step) {
        Group g = groups.getFirst();
        for (Group c : groups) if (step >= c.start) g = c;
        int local = step - g.start;
        if (local < g.warmup) return g.peak * (local + 1) / g.warmup;
        double progress = Math.min(1.0, (double) (local - g.warmup) / Math.max(1, g.length - g.warmup));
        double min = g.peak * g.minRatio;
        return min + (g.peak - min) * 0.5 * (1 + Math.cos(Math.PI * progress));
    }
}
