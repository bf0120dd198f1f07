package moge.generate;

/**
 * What speculation did during one generation.
 *
 * @param source        what proposed tokens ("ngram", "draft:PATH", "self:q4_0")
 * @param rounds        verification passes (including plain steps, which verify nothing)
 * @param draftRounds   passes that verified at least one proposal
 * @param drafted       proposed tokens
 * @param accepted      proposed tokens the target agreed with
 * @param emitted       tokens produced (accepted proposals plus one target token per round)
 * @param draftMs       time spent proposing (draft forward passes, n-gram search)
 * @param verifyMs      time spent in the target's passes and in acceptance
 * @param plainMsPerToken measured cost of one plain decode step (0 when none was measured)
 * @param maxDraft      the largest number of proposals verified in one pass
 */
public record SpecStats(String source, int rounds, int draftRounds, int drafted, int accepted, int emitted, double draftMs,
                        double verifyMs, double plainMsPerToken, int maxDraft) {

    /** Accepted over proposed tokens. */
    public double acceptanceRate() {
        return drafted > 0 ? (double) accepted / drafted : 0;
    }

    /** Accepted proposals per verification pass that had any. */
    public double meanAccepted() {
        return draftRounds > 0 ? (double) accepted / draftRounds : 0;
    }

    /** Proposals per verification pass that had any (the mean K). */
    public double meanDraft() {
        return draftRounds > 0 ? (double) drafted / draftRounds : 0;
    }

    /** Estimated speedup over plain decoding: measured plain cost per token over the cost per token here. */
    public double estimatedSpeedup() {
        double ms = draftMs + verifyMs;
        return plainMsPerToken > 0 && ms > 0 && emitted > 0 ? plainMsPerToken * emitted / ms : 0;
    }
}
