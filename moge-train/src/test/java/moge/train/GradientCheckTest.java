package moge.train;

import moge.model.Arch;
import moge.model.ModelConfig;
import moge.model.RouterKind;
import moge.tensor.Parallel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.SplittableRandom;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The float32 analytic gradients of every layer type against central finite differences of the independent
 * float64 {@link ReferenceLoss}. Perturbations that would flip a routing decision (the top-k' selection is
 * not differentiable) are skipped and counted.
 */
class GradientCheckTest {
    private static final Parallel TEAM = new Parallel(2);

    @AfterAll
    static void close() {
        TEAM.close();
    }

    /** MoGE: 8 experts in 2 groups, k'=2 per group, explicit head_dim, GQA 4:2, layer 1 dense (mlp_only_layers), untied. */
    static ModelConfig moe() {
        return new ModelConfig(Arch.PANGU_PRO_MOE, 37, 16, 2, 4, 2, 6, 9, 8, 4, 2, 5, 7, false,
                new boolean[]{false, true}, 1e4, 1e-5f, 64, false, true, true, false, RouterKind.MOGE);
    }

    /** Pangu Pro MoE shape: one expert per group (k'=1), 3 groups, no dense layer. */
    static ModelConfig mogeK1() {
        return new ModelConfig(Arch.PANGU_PRO_MOE, 31, 12, 2, 2, 1, 6, 0, 6, 3, 3, 4, 6, false,
                new boolean[2], 1.6e7, 1e-5f, 64, false, true, true, false, RouterKind.MOGE);
    }

    /** PanguEmbedded with tied embeddings and GQA 3:1. */
    static ModelConfig embeddedTied() {
        return new ModelConfig(Arch.PANGU_EMBEDDED, 29, 12, 2, 3, 1, 4, 10, 0, 0, 0, 0, 0, false,
                new boolean[2], 4e6, 1e-5f, 64, true, true, true, false, null);
    }

    static Params randomParams(ModelConfig c, long seed) {
        Params p = new Params(c);
        p.init(seed, 0.35);
        SplittableRandom r = new SplittableRandom(seed + 99);
        for (Params.Tensor t : p.all()) {
            if (t.name.endsWith("norm.weight") || t.name.endsWith("router_scale")) {
                for (int i = 0; i < t.w.length; i++) t.w[i] = (float) (0.7 + 0.6 * r.nextDouble());
            } else if (t.name.endsWith(".bias")) {
                for (int i = 0; i < t.w.length; i++) t.w[i] = (float) (0.2 * r.nextGaussian());
            }
        }
        return p;
    }

    /** Two packed sequences; some rows without a target, as prompt tokens in SFT. */
    static TokenBatch batch(ModelConfig c, long seed, boolean noTargets) {
        SplittableRandom r = new SplittableRandom(seed);
        int[][] seqs = {new int[6], new int[8]};
        boolean[][] loss = {new boolean[6], new boolean[8]};
        for (int s = 0; s < seqs.length; s++) {
            for (int i = 0; i < seqs[s].length; i++) {
                seqs[s][i] = r.nextInt(c.vocabSize());
                loss[s][i] = !noTargets && i >= 2;
            }
        }
        return TokenBatch.of(seqs, loss);
    }

    private record Result(int checked, int skipped, double worst) {
    }

    private static Result check(ModelConfig c, double aux, String namePattern, boolean noTargets, long seed) {
        Params p = randomParams(c, seed);
        TokenBatch b = batch(c, seed + 1, noTargets);
        TrainModel m = new TrainModel(p, TEAM, aux, 64);
        p.zeroGrad();
        TrainModel.Stats st = m.forward(b);
        m.backward();
        ReferenceLoss ref = new ReferenceLoss(c, p, aux);
        double base = ref.loss(b);
        assertThat(st.loss()).isCloseTo(base, org.assertj.core.data.Offset.offset(1e-4 * (1 + Math.abs(base))));
        var baseSel = new java.util.ArrayList<>(ref.selections);
        Pattern pat = Pattern.compile(namePattern);
        SplittableRandom r = new SplittableRandom(seed + 7);
        int checked = 0, skipped = 0;
        double worst = 0;
        for (Params.Tensor t : p.all()) {
            if (!pat.matcher(t.name).find()) continue;
            double[] w = ref.tensor(t.name);
            int samples = Math.min(t.size(), 5);
            for (int s = 0; s < samples; s++) {
                int i = t.size() <= 5 ? s : r.nextInt(t.size());
                double h = 1e-5 * Math.max(1, Math.abs(w[i]));
                double orig = w[i];
                w[i] = orig + h;
                double lp = ref.loss(b);
                boolean flipP = !ref.selections.equals(baseSel);
                w[i] = orig - h;
                double lm = ref.loss(b);
                boolean flipM = !ref.selections.equals(baseSel);
                w[i] = orig;
                if (flipP || flipM) {
                    skipped++;
                    continue;
                }
                double numeric = (lp - lm) / (2 * h), analytic = t.g[i];
                double err = Math.abs(numeric - analytic) / (Math.max(Math.abs(numeric), Math.abs(analytic)) + 1e-4);
                assertThat(err).as("%s[%d]: analytic %s numeric %s", t.name, i, analytic, numeric).isLessThan(2e-3);
                worst = Math.max(worst, err);
                checked++;
            }
        }
        return new Result(checked, skipped, worst);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({
            "embedding,                 moe,      0,    ^model\\.embed_tokens",
            "rmsnorm,                   moe,      0,    norm\\.weight$",
            "attention q/k/v/o+bias,    moe,      0,    self_attn\\.",
            "attention GQA 3:1 tied,    embedded, 0,    self_attn\\.",
            "dense swiglu (mlp_only),   moe,      0,    layers\\.1\\.mlp\\.",
            "dense swiglu (embedded),   embedded, 0,    mlp\\.",
            "router gate + scale,       moe,      0.05, mlp\\.(gate\\.weight|router_scale)",
            "routed experts,            moe,      0.05, mlp\\.experts\\.",
            "shared expert,             moe,      0.05, mlp\\.shared_expert\\.",
            "MoGE k'=1 all,             mogeK1,   0.02, .",
            "lm_head untied,            moe,      0,    ^lm_head",
            "lm_head tied (embedding),  embedded, 0,    ^model\\.embed_tokens",
    })
    void gradientsMatchFiniteDifferences(String label, String config, double aux, String pattern) {
        ModelConfig c = switch (config) {
            case "moe" -> moe();
            case "mogeK1" -> mogeK1();
            default -> embeddedTied();
        };
        Result res = check(c, aux, pattern, false, label.hashCode());
        assertThat(res.checked()).as(label).isGreaterThan(3 * res.skipped()).isGreaterThanOrEqualTo(3);
    }

    @Test
    void auxiliaryLossAloneReachesRouterAndEverythingBelow() {
        // no cross-entropy rows: the only loss is the load-balancing term on the softmax probabilities
        Result res = check(moe(), 0.5, "mlp\\.gate\\.weight|layers\\.0\\.(self_attn|input_layernorm|post_attention)|embed", true, 5);
        assertThat(res.checked()).isGreaterThan(10);
    }

    @Test
    void auxLossIsBalancedValueForUniformRouting() {
        // zero router weights: uniform probabilities, every expert chosen equally often in expectation of ties ->
        // with ties going to the lowest id, f is concentrated but P is uniform, so aux = coef·E·Σ f_e/E = coef·k
        ModelConfig c = moe();
        Params p = randomParams(c, 3);
        java.util.Arrays.fill(p.get("model.layers.0.mlp.gate.weight").w, 0f);
        TrainModel m = new TrainModel(p, TEAM, 0.1, 64);
        TrainModel.Stats s = m.forward(batch(c, 4, false));
        assertThat(s.aux()).isCloseTo(0.1 * c.expertsPerTok(), org.assertj.core.data.Offset.offset(1e-6));
    }
}
