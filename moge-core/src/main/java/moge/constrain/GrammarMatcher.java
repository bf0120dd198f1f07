package moge.constrain;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Follows text against a {@link Grammar} byte by byte: the state is the set of parse stacks that read the text
 * so far (a stack's top is the character set to match next; the entries below are where each enclosing rule
 * continues), plus the part of a UTF-8 sequence read so far, so that a token ending inside a character is judged
 * like any other. While a character is incomplete, a byte survives only if some stack's next set holds a code
 * point the bytes so far can still become. A reference in tail position (nothing after it in its alternative)
 * replaces its caller's entry instead of stacking on it, so repetitions, which {@link GbnfParser} writes as right
 * recursion, run in constant stack depth.
 */
public final class GrammarMatcher implements ByteMatcher {
    private final Grammar g;
    private final State start;

    public GrammarMatcher(Grammar grammar) {
        this.g = grammar;
        Set<Key> out = new HashSet<>();
        for (int alt : g.alternatives[0]) expand(new int[]{alt}, 1, out);
        this.start = new State(sorted(out), 0, 0, 0);
    }

    public static GrammarMatcher parse(String gbnf) {
        return new GrammarMatcher(GbnfParser.parse(gbnf));
    }

    /** Where the parse is: stacks sorted (the empty stack, if any, first), and a partial UTF-8 character. */
    static final class State {
        final int[][] stacks;
        final int need, value, min; // continuation bytes still to come, the bits so far, the least valid code point
        private final int hash;

        State(int[][] stacks, int need, int value, int min) {
            this.stacks = stacks;
            this.need = need;
            this.value = value;
            this.min = min;
            this.hash = Arrays.deepHashCode(stacks) * 31 + (need * 31 + value) * 31 + min;
        }

        @Override
        public int hashCode() {
            return hash;
        }

        @Override
        public boolean equals(Object o) {
            return o == this || o instanceof State s && s.hash == hash && s.need == need && s.value == value
                    && s.min == min && Arrays.deepEquals(s.stacks, stacks);
        }
    }

    @Override
    public State start() {
        return start;
    }

    @Override
    public boolean accepting(Object state) {
        State s = (State) state;
        return s.need == 0 && s.stacks.length > 0 && s.stacks[0].length == 0;
    }

    @Override
    public State next(Object state, int b) {
        State s = (State) state;
        b &= 0xFF;
        if (s.need == 0) {
            if (b < 0x80) return step(s, b);
            int need, value, min;
            if (b >= 0xC2 && b <= 0xDF) { need = 1; value = b & 0x1F; min = 0x80; }
            else if (b >= 0xE0 && b <= 0xEF) { need = 2; value = b & 0x0F; min = 0x800; }
            else if (b >= 0xF0 && b <= 0xF4) { need = 3; value = b & 0x07; min = 0x10000; }
            else return null;
            return partial(s, need, value, min);
        }
        if ((b & 0xC0) != 0x80) return null;
        int value = s.value << 6 | (b & 0x3F), need = s.need - 1;
        if (need > 0) return partial(s, need, value, s.min);
        if (value < s.min || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return null;
        return step(s, value);
    }

    /** Part of a character read: kept if some stack can take a code point it may still become. */
    private State partial(State s, int need, int value, int min) {
        int lo = Math.max(value << (6 * need), min), hi = Math.min(((value + 1) << (6 * need)) - 1, 0x10FFFF);
        for (int[] st : s.stacks) {
            if (st.length > 0 && g.intersects(g.code[st[st.length - 1]], lo, hi)) return new State(s.stacks, need, value, min);
        }
        return null;
    }

    /** The state after code point {@code cp}, or null. */
    private State step(State s, int cp) {
        Set<Key> out = new HashSet<>();
        for (int[] st : s.stacks) {
            int n = st.length;
            if (n == 0) continue;
            int top = st[n - 1];
            if (!g.contains(g.code[top], cp)) continue;
            int[] ns = st.clone();
            ns[n - 1] = top + 1;
            expand(ns, n, out);
        }
        return out.isEmpty() ? null : new State(sorted(out), 0, 0, 0);
    }

    /**
     * Adds every stack reachable from {@code st[0 .. len)} without reading a character whose top is a character
     * set (or that is empty: the root is complete). {@code st} is owned by this call.
     */
    private void expand(int[] st, int len, Set<Key> out) {
        int[] code = g.code;
        while (true) {
            if (len == 0) {
                out.add(new Key(new int[0]));
                return;
            }
            int p = st[len - 1], e = code[p];
            if (e == Grammar.END) {
                len--;
                continue;
            }
            if (e >= 0) {
                out.add(new Key(Arrays.copyOf(st, len)));
                return;
            }
            int base;
            if (code[p + 1] == Grammar.END) {
                base = len - 1; // tail reference: the caller's entry would only be popped
            } else {
                st[len - 1] = p + 1;
                base = len;
            }
            for (int alt : g.alternatives[Grammar.rule(e)]) {
                int[] b = Arrays.copyOf(st, base + 1);
                b[base] = alt;
                expand(b, base + 1, out);
            }
            return;
        }
    }

    private static int[][] sorted(Set<Key> keys) {
        List<int[]> l = new ArrayList<>(keys.size());
        for (Key k : keys) l.add(k.stack);
        l.sort(Arrays::compare);
        return l.toArray(new int[0][]);
    }

    private record Key(int[] stack) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && Arrays.equals(k.stack, stack);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(stack);
        }
    }
}
