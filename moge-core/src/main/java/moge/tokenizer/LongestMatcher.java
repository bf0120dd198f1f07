package moge.tokenizer;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Finds the longest of a fixed set of strings that starts at a given position. Used for the atomic special tokens
 * and for SentencePiece user-defined symbols; both sets are small, so strings are bucketed by first character and
 * tried longest first.
 */
final class LongestMatcher {
    private final Map<Character, String[]> byFirstChar = new HashMap<>();
    // most characters start no word: a flat table answers that without boxing the char for the map
    private final boolean[] isFirstChar = new boolean[Character.MAX_VALUE + 1];

    LongestMatcher(Collection<String> words) {
        Map<Character, List<String>> buckets = new HashMap<>();
        for (String w : words) {
            if (w == null || w.isEmpty()) continue;
            List<String> bucket = buckets.computeIfAbsent(w.charAt(0), c -> new ArrayList<>());
            if (!bucket.contains(w)) bucket.add(w);
        }
        buckets.forEach((c, list) -> {
            list.sort(Comparator.comparingInt(String::length).reversed());
            byFirstChar.put(c, list.toArray(String[]::new));
            isFirstChar[c] = true;
        });
    }

    /** Length of the longest word that occurs in {@code text} at {@code pos}, or 0. */
    int match(String text, int pos) {
        if (!isFirstChar[text.charAt(pos)]) return 0;
        String[] candidates = byFirstChar.get(text.charAt(pos));
        if (candidates == null) return 0;
        for (String w : candidates) {
            if (text.startsWith(w, pos)) return w.length();
        }
        return 0;
    }
}
