package moge.train.vocab;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Learns BPE merges from text the way spm_train's BPE trainer constrains them: the text is normalized as the
 * tokenizer will see it (dummy "▁" prefix, spaces as "▁"), a "▁" may only start a piece, digits are never
 * merged (split_digits; likewise '_', the working's blank column) and a piece never mixes scripts (Latin letters, Han, other symbols). The most
 * frequent allowed pair is merged first; ties go to the lexicographically smaller result, so the outcome
 * depends only on the text.
 */
public final class BpeTrainer {
    private static final int SPACE = '\u2581';

    /** The learned merges (in order) and every character of the text, most frequent first. */
    public record Result(List<String> merges, List<String> chars) {
    }

    private BpeTrainer() {
    }

    public static Result train(List<String> segments, int maxMerges) {
        Map<String, Integer> wordFreq = new TreeMap<>();
        Map<Integer, Integer> charFreq = new HashMap<>();
        for (String seg : segments) {
            if (seg.isEmpty()) continue;
            String norm = "\u2581" + seg.replace(' ', '\u2581');
            // Pre-split where no merge may cross (new word, digit, change of script), as spm_train does; this
            // also keeps the number of distinct chunks small.
            int start = 0, script = -1;
            for (int i = 0; i < norm.length(); ) {
                int cp = norm.codePointAt(i);
                boolean cut;
                if (cp == SPACE) {
                    cut = true;
                    script = -1;
                } else if (unmergeable(cp)) {
                    cut = true;
                    script = -2;
                } else {
                    int sc = script(cp);
                    cut = script == -2 || (script >= 0 && sc != script);
                    script = sc;
                }
                if (cut && i > start) {
                    wordFreq.merge(norm.substring(start, i), 1, Integer::sum);
                    start = i;
                }
                i += Character.charCount(cp);
            }
            if (start < norm.length()) wordFreq.merge(norm.substring(start), 1, Integer::sum);
            norm.codePoints().forEach(cp -> charFreq.merge(cp, 1, Integer::sum));
        }
        List<int[]> words = new ArrayList<>();  // symbol ids
        List<Integer> counts = new ArrayList<>();
        List<String> symbols = new ArrayList<>();
        Map<String, Integer> symbolId = new HashMap<>();
        for (var e : wordFreq.entrySet()) {
            int[] w = e.getKey().codePoints().map(cp -> intern(new String(Character.toChars(cp)), symbols, symbolId)).toArray();
            words.add(w);
            counts.add(e.getValue());
        }
        List<String> merges = new ArrayList<>();
        Map<Long, Boolean> allowedCache = new HashMap<>();
        for (int m = 0; m < maxMerges; m++) {
            Map<Long, Integer> pairs = new HashMap<>();
            for (int wi = 0; wi < words.size(); wi++) {
                int[] w = words.get(wi);
                for (int i = 0; i + 1 < w.length; i++) pairs.merge(((long) w[i] << 32) | w[i + 1], counts.get(wi), Integer::sum);
            }
            long best = -1;
            int bestCount = 0;
            String bestStr = null;
            for (var e : pairs.entrySet()) {
                int c = e.getValue();
                if (c < bestCount) continue;
                long key = e.getKey();
                Boolean ok = allowedCache.get(key);
                String a = symbols.get((int) (key >>> 32)), b = symbols.get((int) key);
                if (ok == null) allowedCache.put(key, ok = allowed(a, b));
                if (!ok) continue;
                String str = a + b;
                if (c > bestCount || str.compareTo(bestStr) < 0) {
                    best = key;
                    bestCount = c;
                    bestStr = str;
                }
            }
            if (best < 0 || bestCount < 2) break;
            int left = (int) (best >>> 32), right = (int) best;
            int merged = intern(bestStr, symbols, symbolId);
            merges.add(bestStr);
            for (int wi = 0; wi < words.size(); wi++) {
                int[] w = words.get(wi);
                int[] out = new int[w.length];
                int n = 0;
                for (int i = 0; i < w.length; i++) {
                    if (i + 1 < w.length && w[i] == left && w[i + 1] == right) {
                        out[n++] = merged;
                        i++;
                    } else {
                        out[n++] = w[i];
                    }
                }
                if (n != w.length) words.set(wi, Arrays.copyOf(out, n));
            }
        }
        List<Map.Entry<Integer, Integer>> cs = new ArrayList<>(charFreq.entrySet());
        cs.sort((x, y) -> !x.getValue().equals(y.getValue()) ? Integer.compare(y.getValue(), x.getValue())
                : Integer.compare(x.getKey(), y.getKey()));
        List<String> chars = new ArrayList<>();
        for (var e : cs) chars.add(new String(Character.toChars(e.getKey())));
        return new Result(merges, chars);
    }

    private static int intern(String s, List<String> symbols, Map<String, Integer> ids) {
        Integer id = ids.get(s);
        if (id != null) return id;
        symbols.add(s);
        ids.put(s, symbols.size() - 1);
        return symbols.size() - 1;
    }

    /** Whether a + b may become a piece: "▁" only in front, no digits, one script. */
    static boolean allowed(String a, String b) {
        String s = a + b;
        int script = -1;
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            if (cp == SPACE) {
                if (i != 0) return false;
            } else {
                if (unmergeable(cp)) return false;
                int sc = script(cp);
                if (script >= 0 && sc != script) return false;
                script = sc;
            }
            i += Character.charCount(cp);
        }
        return true;
    }

    /** Digits (split_digits) and the '_' of the working's registers stay single pieces, so columns are tokens. */
    static boolean unmergeable(int cp) {
        return Character.isDigit(cp) || cp == '_';
    }

    private static int script(int cp) {
        if (Character.isLetter(cp) && Character.UnicodeScript.of(cp) == Character.UnicodeScript.LATIN) return 0;
        if (Character.UnicodeScript.of(cp) == Character.UnicodeScript.HAN) return 1;
        return 2;
    }
}
