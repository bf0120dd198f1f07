package moge.spec;

import java.util.ArrayList;
import java.util.List;

/** Pearson's chi-square goodness of fit, with sparse cells pooled, and its p-value. */
final class ChiSquare {
    final double statistic;
    final int df;
    final double pValue;

    private ChiSquare(double statistic, int df) {
        this.statistic = statistic;
        this.df = df;
        this.pValue = upperGamma(df / 2.0, statistic / 2.0);
    }

    /**
     * Observed counts against expected probabilities (summing to about 1); cells expecting fewer than 5
     * observations are pooled into one.
     */
    static ChiSquare test(long[] observed, double[] probs) {
        long n = 0;
        for (long o : observed) n += o;
        List<double[]> cells = new ArrayList<>();
        double poolE = 0, poolO = 0;
        double probSum = 0;
        for (int i = 0; i < probs.length; i++) {
            probSum += probs[i];
            double e = probs[i] * n;
            if (e >= 5) {
                cells.add(new double[]{observed[i], e});
            } else {
                poolE += e;
                poolO += observed[i];
            }
        }
        // Whatever has no expected probability at all (e.g. float rounding of the support) joins the pool.
        poolE += Math.max(0, 1 - probSum) * n;
        if (poolE > 0 || poolO > 0) cells.add(new double[]{poolO, Math.max(poolE, 1e-9)});
        double x = 0;
        for (double[] c : cells) x += (c[0] - c[1]) * (c[0] - c[1]) / c[1];
        return new ChiSquare(x, Math.max(1, cells.size() - 1));
    }

    /** Regularized upper incomplete gamma Q(a, x): series below a + 1, continued fraction above. */
    static double upperGamma(double a, double x) {
        if (x <= 0) return 1;
        double lnPre = -x + a * Math.log(x) - lnGamma(a);
        if (x < a + 1) {
            double sum = 1 / a, term = sum;
            for (int k = 1; k < 10_000; k++) {
                term *= x / (a + k);
                sum += term;
                if (Math.abs(term) < Math.abs(sum) * 1e-15) break;
            }
            return Math.max(0, 1 - Math.exp(lnPre) * sum);
        }
        // Lentz's method for the continued fraction of Q.
        double tiny = 1e-300;
        double b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
        for (int i = 1; i < 10_000; i++) {
            double an = -i * (i - a);
            b += 2;
            d = an * d + b;
            if (Math.abs(d) < tiny) d = tiny;
            c = b + an / c;
            if (Math.abs(c) < tiny) c = tiny;
            d = 1 / d;
            double del = d * c;
            h *= del;
            if (Math.abs(del - 1) < 1e-15) break;
        }
        return Math.exp(lnPre) * h;
    }

    /** Lanczos approximation (g = 7, n = 9). */
    static double lnGamma(double z) {
        double[] g = {0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
                12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7};
        if (z < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * z))) - lnGamma(1 - z);
        z -= 1;
        double a = g[0], t = z + 7.5;
        for (int i = 1; i < 9; i++) a += g[i] / (z + i);
        return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
    }

    @Override
    public String toString() {
        return String.format("chi2=%.2f df=%d p=%.4g", statistic, df, pValue);
    }
}
