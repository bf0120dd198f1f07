package moge.spec;

import moge.MogeException;

import java.util.Locale;

/**
 * Speculative decoding settings, as the CLI and server take them.
 *
 * @param mode       none, ngram (prompt lookup) or draft (a draft model)
 * @param draftModel with mode draft: a model directory, {@code self:q8_0} or {@code self:q4_0}; null picks the
 *                   draft shipped beside the demo model
 * @param draftMin   fewest proposals worth a verification pass
 * @param draftMax   most proposals per pass (the adaptive size stays within [draftMin, draftMax])
 * @param ngramMin   shortest suffix that n-gram lookup matches
 * @param ngramMax   longest suffix that n-gram lookup tries first
 * @param adaptive   size each draft from measured cost and acceptance, and stop speculating when it does
 *                   not pay (false: always draftMax proposals)
 */
public record SpecConfig(Mode mode, String draftModel, int draftMin, int draftMax, int ngramMin, int ngramMax, boolean adaptive) {
    public enum Mode {
        NONE, NGRAM, DRAFT;

        public static Mode parse(String s) {
            return switch (s.toLowerCase(Locale.ROOT)) {
                case "none", "off" -> NONE;
                case "ngram" -> NGRAM;
                case "draft" -> DRAFT;
                default -> throw new MogeException("--spec: unknown mode '" + s + "' (none, ngram, draft)");
            };
        }
    }

    public static final int DEFAULT_DRAFT_MIN = 1;
    public static final int DEFAULT_DRAFT_MAX = 8;
    public static final int DEFAULT_NGRAM_MIN = 2;
    public static final int DEFAULT_NGRAM_MAX = 4;

    public static SpecConfig none() {
        return new SpecConfig(Mode.NONE, null, DEFAULT_DRAFT_MIN, DEFAULT_DRAFT_MAX, DEFAULT_NGRAM_MIN, DEFAULT_NGRAM_MAX, true);
    }

    public static SpecConfig ngram() {
        return none().withMode(Mode.NGRAM);
    }

    public static SpecConfig draft(String model) {
        return new SpecConfig(Mode.DRAFT, model, DEFAULT_DRAFT_MIN, DEFAULT_DRAFT_MAX, DEFAULT_NGRAM_MIN, DEFAULT_NGRAM_MAX, true);
    }

    public SpecConfig withMode(Mode m) {
        return new SpecConfig(m, draftModel, draftMin, draftMax, ngramMin, ngramMax, adaptive);
    }

    public SpecConfig withDraft(int min, int max) {
        return new SpecConfig(mode, draftModel, min, max, ngramMin, ngramMax, adaptive);
    }

    public SpecConfig withNgram(int min, int max) {
        return new SpecConfig(mode, draftModel, draftMin, draftMax, min, max, adaptive);
    }

    public SpecConfig withAdaptive(boolean on) {
        return new SpecConfig(mode, draftModel, draftMin, draftMax, ngramMin, ngramMax, on);
    }

    public SpecConfig withDraftModel(String m) {
        return new SpecConfig(mode, m, draftMin, draftMax, ngramMin, ngramMax, adaptive);
    }

    public boolean enabled() {
        return mode != Mode.NONE;
    }

    public void validate() {
        if (draftMin < 1) throw new MogeException("--draft-min must be >= 1, got " + draftMin);
        if (draftMax < draftMin) throw new MogeException("--draft-max (" + draftMax + ") must be >= --draft-min (" + draftMin + ")");
        if (draftMax > 64) throw new MogeException("--draft-max must be <= 64, got " + draftMax);
        if (ngramMin < 1) throw new MogeException("--ngram-min must be >= 1, got " + ngramMin);
        if (ngramMax < ngramMin) throw new MogeException("--ngram-max (" + ngramMax + ") must be >= --ngram-min (" + ngramMin + ")");
    }
}
