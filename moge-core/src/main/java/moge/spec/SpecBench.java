package moge.spec;

import moge.generate.GenerateOptions;
import moge.generate.GenerationResult;
import moge.generate.Generator;
import moge.generate.SpecStats;
import moge.generate.TokenListener;
import moge.model.Model;
import moge.tokenizer.Tokenizer;

import java.util.Arrays;

/**
 * Speculative against plain decoding, measured alternately in one process (plain then speculative, then
 * the other way round) so that both see the same machine: JIT state, other load, thermal state. Each
 * run prefills the prompt afresh; only decoding is timed (a draft's prompt reading counts as prefill).
 */
public final class SpecBench {
    private SpecBench() {
    }

    /**
     * @param pairRatios speculative over plain tokens per second of each pair of neighbouring runs
     * @param bestPlain  the fastest plain run, tokens per second
     * @param bestSpec   the fastest speculative run, tokens per second
     * @param identical  with greedy sampling: every speculative run produced the plain run's tokens
     * @param plainRates tokens per second of each measured plain run
     * @param specRates  tokens per second of each measured speculative run
     */
    public record Result(String source, int pairs, long plainTokens, double plainMs, long specTokens, double specMs, long drafted,
                         long accepted, long draftRounds, int maxDraft, double draftMs, double verifyMs, double[] pairRatios,
                         double bestPlain, double bestSpec, boolean identical, double[] plainRates, double[] specRates) {
        public double plainTokensPerSecond() {
            return plainMs > 0 ? plainTokens * 1000.0 / plainMs : 0;
        }

        public double specTokensPerSecond() {
            return specMs > 0 ? specTokens * 1000.0 / specMs : 0;
        }

        /** Ratio of the total rates. */
        public double speedup() {
            double p = plainTokensPerSecond();
            return p > 0 ? specTokensPerSecond() / p : 0;
        }

        /**
         * Median of the pair ratios: on a machine shared with other work, load changes between pairs more
         * than within one, so this is the steadier figure.
         */
        public double medianSpeedup() {
            if (pairRatios.length == 0) return 0;
            double[] s = pairRatios.clone();
            Arrays.sort(s);
            int n = s.length;
            return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
        }

        /** Fastest over fastest run: each kind at its least disturbed, when other work comes and goes. */
        public double bestSpeedup() {
            return bestPlain > 0 ? bestSpec / bestPlain : 0;
        }

        public double acceptanceRate() {
            return drafted > 0 ? (double) accepted / drafted : 0;
        }

        /** Accepted proposals per verification pass that had any. */
        public double meanAccepted() {
            return draftRounds > 0 ? (double) accepted / draftRounds : 0;
        }

        /** Proposals per verification pass that had any: the mean K. */
        public double meanDraft() {
            return draftRounds > 0 ? (double) drafted / draftRounds : 0;
        }
    }

    /** Called after each measured pair (progress display); may be null. */
    public interface Progress {
        void pair(int done, int total, GenerationResult plain, GenerationResult spec);
    }

    public static Result run(Model model, Tokenizer tok, SpeculativeDecoder d, int[] prompt, GenerateOptions o, int ctx, int warmup,
                             int pairs, Progress progress) {
        Generator plain = new Generator(model, tok, ctx);
        Generator spec = new Generator(model, tok, ctx);
        spec.setSpeculator(d);
        long pt = 0, st = 0, drafted = 0, accepted = 0, draftRounds = 0;
        double pms = 0, sms = 0, dms = 0, vms = 0;
        int maxDraft = 0;
        boolean identical = true;
        double[] ratios = new double[pairs], plainRates = new double[pairs], specRates = new double[pairs];
        double bestPlain = 0, bestSpec = 0;
        for (int i = -warmup; i < pairs; i++) {
            GenerationResult a, b;
            // Alternate the order so that neither kind always runs second.
            if ((i & 1) == 0) {
                a = once(plain, prompt, o);
                b = once(spec, prompt, o);
            } else {
                b = once(spec, prompt, o);
                a = once(plain, prompt, o);
            }
            if (o.sampler().isGreedy()) identical &= Arrays.equals(a.generatedIds(), b.generatedIds());
            if (i < 0) continue;
            pt += a.generatedIds().length;
            pms += a.timings().predictedMs();
            st += b.generatedIds().length;
            sms += b.timings().predictedMs();
            SpecStats s = b.speculation();
            drafted += s.drafted();
            accepted += s.accepted();
            draftRounds += s.draftRounds();
            maxDraft = Math.max(maxDraft, s.maxDraft());
            dms += s.draftMs();
            vms += s.verifyMs();
            double pr = a.timings().predictedPerSecond();
            ratios[i] = pr > 0 ? b.timings().predictedPerSecond() / pr : 0;
            plainRates[i] = pr;
            specRates[i] = b.timings().predictedPerSecond();
            bestPlain = Math.max(bestPlain, pr);
            bestSpec = Math.max(bestSpec, b.timings().predictedPerSecond());
            if (progress != null) progress.pair(i + 1, pairs, a, b);
        }
        return new Result(d.source().name(), pairs, pt, pms, st, sms, drafted, accepted, draftRounds, maxDraft, dms, vms, ratios, bestPlain, bestSpec, identical,
                plainRates, specRates);
    }

    private static GenerationResult once(Generator g, int[] prompt, GenerateOptions o) {
        g.reset();
        return g.generate(prompt, o, TokenListener.NONE);
    }
}
