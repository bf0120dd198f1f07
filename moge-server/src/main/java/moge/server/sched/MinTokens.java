package moge.server.sched;

import moge.constrain.OutputConstraint;
import moge.sample.LogitMask;

/**
 * vLLM's {@code min_tokens}: until a sequence has generated that many tokens, the ids that would end it (EOS, end
 * of turn, stop_token_ids) are masked out. Under an output constraint the constraint wins: once the JSON or the
 * grammar's text is complete and only an end may follow, the end stays allowed (banning it too would leave the
 * sampler nothing to choose).
 */
final class MinTokens {
    private MinTokens() {
    }

    /** The sampler's mask for a sequence with a prompt of {@code promptLength} ids (null: none needed). */
    static LogitMask mask(OutputConstraint.Tracker constraint, GenerationParams params, int promptLength) {
        if (params.minTokens() <= 0) return constraint;
        int until = promptLength + params.minTokens();
        int[] a = params.stopIds(), b = params.stopTokenIds();
        int[] ends = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, ends, a.length, b.length);
        return (logits, vocab, history, len) -> {
            if (constraint != null) constraint.apply(logits, vocab, history, len);
            if (len >= until) return;
            if (constraint != null && !othersAllowed(logits, vocab, ends)) return;
            for (int e : ends) if (e >= 0 && e < vocab) logits[e] = Float.NEGATIVE_INFINITY;
        };
    }

    private static boolean othersAllowed(float[] logits, int vocab, int[] ends) {
        for (int i = 0; i < vocab; i++) {
            if (logits[i] != Float.NEGATIVE_INFINITY && !contains(ends, i)) return true;
        }
        return false;
    }

    private static boolean contains(int[] a, int x) {
        for (int v : a) if (v == x) return true;
        return false;
    }
}
