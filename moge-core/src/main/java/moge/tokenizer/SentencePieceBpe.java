package moge.tokenizer;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * SentencePiece's BPE segmentation of one normalized string. Start from code points (user-defined symbols stay
 * whole and never merge), then repeatedly merge the adjacent pair whose concatenation is a vocabulary piece with the
 * highest score, leftmost first on ties. Candidates live in a heap and stale ones are skipped when popped, so the
 * cost is O(n log n) in the input length.
 */
final class SentencePieceBpe {
    private final Map<String, Integer> mergeable;
    private final float[] scores;
    private final int[] types;

    /** {@code mergeable}: the NORMAL, USER_DEFINED and UNUSED pieces, the ones SentencePiece lets merges produce. */
    SentencePieceBpe(Map<String, Integer> mergeable, float[] scores, int[] types) {
        this.mergeable = mergeable;
        this.scores = scores;
        this.types = types;
    }

    private record Candidate(float score, int left, int right, int length) implements Comparable<Candidate> {
        @Override
        public int compareTo(Candidate o) {
            int c = Float.compare(o.score, score);
            return c != 0 ? c : Integer.compare(left, o.left);
        }
    }

    /** The final pieces of {@code text}, in order; pieces that are not in the vocabulary are left to the caller. */
    List<String> segment(String text, LongestMatcher userDefined) {
        int len = text.length();
        int[] start = new int[len];
        int[] end = new int[len];
        boolean[] frozen = new boolean[len];
        int n = 0;
        for (int i = 0; i < len; ) {
            int m = userDefined == null ? 0 : userDefined.match(text, i);
            int step = m > 0 ? m : Character.charCount(text.codePointAt(i));
            start[n] = i;
            end[n] = Math.min(len, i + step);
            frozen[n] = m > 0;
            n++;
            i += step;
        }
        int[] prev = new int[n];
        int[] next = new int[n];
        for (int k = 0; k < n; k++) {
            prev[k] = k - 1;
            next[k] = k + 1 < n ? k + 1 : -1;
        }

        // UNUSED pieces may be formed while merging but are not emitted: remember how each was built to undo it
        Map<String, String[]> unmerge = new HashMap<>();
        PriorityQueue<Candidate> heap = new PriorityQueue<>(Math.max(1, n));
        for (int k = 0; k + 1 < n; k++) offer(text, k, k + 1, start, end, frozen, heap, unmerge);

        while (!heap.isEmpty()) {
            Candidate c = heap.poll();
            int l = c.left;
            int r = c.right;
            int lenL = end[l] - start[l];
            int lenR = end[r] - start[r];
            // stale: one side was merged away or grew since this candidate was made
            if (lenL == 0 || lenR == 0 || lenL + lenR != c.length) continue;
            end[l] = end[r];
            start[r] = end[r];
            next[l] = next[r];
            if (next[r] >= 0) prev[next[r]] = l;
            if (prev[l] >= 0) offer(text, prev[l], l, start, end, frozen, heap, unmerge);
            if (next[l] >= 0) offer(text, l, next[l], start, end, frozen, heap, unmerge);
        }

        List<String> out = new ArrayList<>();
        for (int k = n == 0 ? -1 : 0; k >= 0; k = next[k]) {
            resegment(text.substring(start[k], end[k]), unmerge, out);
        }
        return out;
    }

    private void offer(String text, int l, int r, int[] start, int[] end, boolean[] frozen,
                       PriorityQueue<Candidate> heap, Map<String, String[]> unmerge) {
        if (frozen[l] || frozen[r]) return;
        String merged = text.substring(start[l], end[r]);
        Integer id = mergeable.get(merged);
        if (id == null) return;
        heap.add(new Candidate(scores[id], l, r, merged.length()));
        if (types[id] == PieceType.UNUSED) {
            unmerge.put(merged, new String[]{text.substring(start[l], end[l]), text.substring(start[r], end[r])});
        }
    }

    private void resegment(String piece, Map<String, String[]> unmerge, List<String> out) {
        Integer id = mergeable.get(piece);
        String[] parts = id != null && types[id] == PieceType.UNUSED ? unmerge.get(piece) : null;
        if (parts == null) {
            out.add(piece);
            return;
        }
        resegment(parts[0], unmerge, out);
        resegment(parts[1], unmerge, out);
    }
}
