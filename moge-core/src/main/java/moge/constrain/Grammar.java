package moge.constrain;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A context-free grammar over Unicode code points, as {@link GbnfParser} compiles GBNF text: every rule is a list
 * of alternatives, every alternative a sequence of elements, each either a character set or a reference to a
 * rule; groups and repetitions have become rules of their own. The sequences live in one flat array
 * ({@link #code}) so that a parse position is a single int: {@link GrammarMatcher}'s stacks are arrays of them.
 * Rule 0 is {@code root}.
 */
public final class Grammar {
    /** Ends an alternative in {@link #code}. */
    static final int END = Integer.MIN_VALUE;

    /**
     * Element at each position: a character set's index (>= 0), {@code -1 - rule} for a reference, or {@link #END}.
     */
    final int[] code;
    /** Per rule, the position of each alternative's first element. */
    final int[][] alternatives;
    /** Per character set, sorted disjoint inclusive code point ranges: lo0, hi0, lo1, hi1, ... */
    final int[][] sets;
    /** Rule names, for messages (generated rules are named after the rule they came from). */
    final String[] names;

    Grammar(int[] code, int[][] alternatives, int[][] sets, String[] names) {
        this.code = code;
        this.alternatives = alternatives;
        this.sets = sets;
        this.names = names;
    }

    public int rules() {
        return alternatives.length;
    }

    static boolean isRef(int e) {
        return e < 0 && e != END;
    }

    static int rule(int e) {
        return -1 - e;
    }

    /** Whether set {@code s} holds code point {@code cp}. */
    boolean contains(int s, int cp) {
        int[] r = sets[s];
        // few ranges in practice (one for most sets); a binary search would pay only for long classes
        for (int i = 0; i < r.length; i += 2) {
            if (cp < r[i]) return false;
            if (cp <= r[i + 1]) return true;
        }
        return false;
    }

    /** Whether set {@code s} holds any code point in {@code lo..hi}. */
    boolean intersects(int s, int lo, int hi) {
        int[] r = sets[s];
        for (int i = 0; i < r.length; i += 2) if (r[i] <= hi && r[i + 1] >= lo) return true;
        return false;
    }

    /** Collects rules, alternatives and sets while parsing; {@link #build} checks and freezes them. */
    static final class Builder {
        private final List<String> names = new ArrayList<>();
        private final List<List<int[]>> rules = new ArrayList<>();
        private final List<int[]> sets = new ArrayList<>();

        int rule(String name) {
            names.add(name);
            rules.add(null);
            return names.size() - 1;
        }

        int find(String name) {
            return names.indexOf(name);
        }

        boolean defined(int rule) {
            return rules.get(rule) != null;
        }

        String name(int rule) {
            return names.get(rule);
        }

        int rules() {
            return names.size();
        }

        void define(int rule, List<int[]> alternatives) {
            rules.set(rule, alternatives);
        }

        int set(int[] ranges) {
            for (int i = 0; i < sets.size(); i++) if (Arrays.equals(sets.get(i), ranges)) return i;
            sets.add(ranges);
            return sets.size() - 1;
        }

        Grammar build() {
            int n = names.size(), len = 0;
            for (List<int[]> alts : rules) for (int[] a : alts) len += a.length + 1;
            int[] code = new int[len];
            int[][] starts = new int[n][];
            int p = 0;
            for (int r = 0; r < n; r++) {
                List<int[]> alts = rules.get(r);
                starts[r] = new int[alts.size()];
                for (int i = 0; i < alts.size(); i++) {
                    starts[r][i] = p;
                    for (int e : alts.get(i)) code[p++] = e;
                    code[p++] = END;
                }
            }
            return new Grammar(code, starts, sets.toArray(new int[0][]), names.toArray(new String[0]));
        }

        /**
         * A rule that can reach itself again before reading a character (left recursion, directly or through
         * rules that may match nothing) would make the matcher expand forever; its name, or null if there is none.
         */
        String leftRecursive() {
            int n = names.size();
            boolean[] nullable = new boolean[n];
            for (boolean changed = true; changed; ) {
                changed = false;
                for (int r = 0; r < n; r++) {
                    if (nullable[r]) continue;
                    for (int[] a : rules.get(r)) {
                        boolean all = true;
                        for (int e : a) if (!isRef(e) || !nullable[Grammar.rule(e)]) { all = false; break; }
                        if (all) { nullable[r] = true; changed = true; break; }
                    }
                }
            }
            // edges r -> s where s may start r; then a cycle search
            List<List<Integer>> first = new ArrayList<>();
            for (int r = 0; r < n; r++) {
                List<Integer> f = new ArrayList<>();
                for (int[] a : rules.get(r)) {
                    for (int e : a) {
                        if (!isRef(e)) break;
                        f.add(Grammar.rule(e));
                        if (!nullable[Grammar.rule(e)]) break;
                    }
                }
                first.add(f);
            }
            byte[] mark = new byte[n]; // 0 new, 1 on the path, 2 done
            for (int r = 0; r < n; r++) {
                int hit = cycle(r, first, mark);
                if (hit >= 0) return names.get(hit);
            }
            return null;
        }

        private static int cycle(int r, List<List<Integer>> first, byte[] mark) {
            if (mark[r] == 2) return -1;
            if (mark[r] == 1) return r;
            mark[r] = 1;
            for (int s : first.get(r)) {
                int hit = cycle(s, first, mark);
                if (hit >= 0) return hit;
            }
            mark[r] = 2;
            return -1;
        }
    }
}
