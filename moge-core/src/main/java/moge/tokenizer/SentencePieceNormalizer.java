package moge.tokenizer;

/**
 * SentencePiece's normalizer for one text segment: optional charsmap rules, removal of leading, trailing and
 * repeated spaces (remove_extra_whitespaces), the dummy "▁" prefix (add_dummy_prefix) and space to "▁"
 * (escape_whitespaces). Only U+0020 counts as a space here, as in SentencePiece: tabs and newlines are kept.
 * User-defined symbols are copied unnormalized, also as in SentencePiece.
 */
final class SentencePieceNormalizer {
    static final char SPACE_SYMBOL = '\u2581';

    private final boolean addDummyPrefix;
    private final boolean removeExtraWhitespaces;
    private final boolean escapeWhitespaces;
    private final PrecompiledCharsmap charsmap;
    private final LongestMatcher userDefined;

    SentencePieceNormalizer(boolean addDummyPrefix, boolean removeExtraWhitespaces, boolean escapeWhitespaces,
                            PrecompiledCharsmap charsmap, LongestMatcher userDefined) {
        this.addDummyPrefix = addDummyPrefix;
        this.removeExtraWhitespaces = removeExtraWhitespaces;
        this.escapeWhitespaces = escapeWhitespaces;
        this.charsmap = charsmap;
        this.userDefined = userDefined;
    }

    boolean addDummyPrefix() {
        return addDummyPrefix;
    }

    boolean removeExtraWhitespaces() {
        return removeExtraWhitespaces;
    }

    String normalize(String input) {
        int n = input.length();
        int i = 0;
        Unit u = new Unit();
        if (removeExtraWhitespaces) {
            while (i < n) {
                next(input, i, u);
                if (!u.isSingleSpace()) break;
                i += u.consumed;
            }
        }
        if (i == n) return "";

        StringBuilder out = new StringBuilder(n + 8);
        if (addDummyPrefix) out.append(escapeWhitespaces ? SPACE_SYMBOL : ' ');
        boolean prevSpace = removeExtraWhitespaces;
        while (i < n) {
            next(input, i, u);
            int k = 0;
            int len = u.length();
            if (prevSpace) {
                while (k < len && u.charAt(k) == ' ') k++;
            }
            if (k < len) {
                for (; k < len; k++) {
                    char c = u.charAt(k);
                    out.append(c == ' ' && escapeWhitespaces ? SPACE_SYMBOL : c);
                }
                prevSpace = u.charAt(len - 1) == ' ';
            }
            i += u.consumed;
            if (!removeExtraWhitespaces) prevSpace = false;
        }
        if (removeExtraWhitespaces) {
            char space = escapeWhitespaces ? SPACE_SYMBOL : ' ';
            int end = out.length();
            while (end > 0 && out.charAt(end - 1) == space) end--;
            out.setLength(end);
        }
        return out.toString();
    }

    /**
     * One normalization step's output: either a replacement string or a slice of the input (the common case,
     * kept allocation-free because prompts can be long).
     */
    private static final class Unit {
        String text;
        int from;
        int to;
        int consumed;

        int length() {
            return to - from;
        }

        char charAt(int k) {
            return text.charAt(from + k);
        }

        boolean isSingleSpace() {
            return to - from == 1 && text.charAt(from) == ' ';
        }

        void set(String text, int from, int to, int consumed) {
            this.text = text;
            this.from = from;
            this.to = to;
            this.consumed = consumed;
        }
    }

    private static final String REPLACEMENT = "\uFFFD";

    private void next(String input, int i, Unit u) {
        int m = userDefined == null ? 0 : userDefined.match(input, i);
        if (m > 0) {
            u.set(input, i, i + m, m);
            return;
        }
        if (charsmap != null) {
            PrecompiledCharsmap.Match r = charsmap.longestMatch(input, i);
            if (r != null) {
                u.set(r.replacement(), 0, r.replacement().length(), r.consumedChars());
                return;
            }
        }
        char c = input.charAt(i);
        if (Character.isHighSurrogate(c) && i + 1 < input.length() && Character.isLowSurrogate(input.charAt(i + 1))) {
            u.set(input, i, i + 2, 2);
        } else if (Character.isSurrogate(c)) {
            // an unpaired surrogate is not encodable as UTF-8; SentencePiece maps malformed input to U+FFFD
            u.set(REPLACEMENT, 0, 1, 1);
        } else {
            u.set(input, i, i + 1, 1);
        }
    }
}
