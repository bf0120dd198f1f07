package moge.thinking;

import java.math.BigDecimal;
import java.text.Normalizer;
import java.util.Locale;

/**
 * Exact match of a final answer (the text after the think block) after normalisation: Unicode NFKC (full-width
 * digits and punctuation become ASCII), case folded, whitespace collapsed, surrounding quotes and trailing sentence
 * punctuation dropped, thousands separators removed from numbers, and numbers compared by value (so "42.0" = "42").
 */
public final class AnswerCheck {
    private AnswerCheck() {
    }

    public static boolean matches(String got, String expected) {
        String g = normalize(got), e = normalize(expected);
        if (g.equals(e)) return true;
        BigDecimal a = number(g), b = number(e);
        return a != null && b != null && a.compareTo(b) == 0;
    }

    public static String normalize(String s) {
        if (s == null) return "";
        String t = Normalizer.normalize(s, Normalizer.Form.NFKC).toLowerCase(Locale.ROOT).strip();
        t = t.replaceAll("\\s+", " ");
        boolean changed = true;
        while (changed && !t.isEmpty()) {
            changed = false;
            char last = t.charAt(t.length() - 1);
            if (last == '.' || last == '!' || last == '。') {
                t = t.substring(0, t.length() - 1).strip();
                changed = true;
            }
            if (t.length() >= 2 && isQuote(t.charAt(0)) && t.charAt(t.length() - 1) == t.charAt(0)) {
                t = t.substring(1, t.length() - 1).strip();
                changed = true;
            }
        }
        if (t.matches("[-+]?\\d{1,3}(,\\d{3})+(\\.\\d+)?")) t = t.replace(",", "");
        return t;
    }

    private static boolean isQuote(char c) {
        return c == '"' || c == '\'' || c == '`';
    }

    private static BigDecimal number(String s) {
        if (!s.matches("[-+]?(\\d+(\\.\\d*)?|\\.\\d+)")) return null;
        try {
            return new BigDecimal(s);
        } catch (NumberFormatException e) {
            return null;
        }
    }
}
