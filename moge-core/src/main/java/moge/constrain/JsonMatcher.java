package moge.constrain;

/**
 * Follows JSON text byte by byte against a {@link Schema}: a pushdown automaton whose stack is a chain of
 * {@link Frame}s, one per open value. Bytes rather than characters, so that a token ending inside a UTF-8
 * sequence (byte-level BPE, SentencePiece's byte fallback) is judged like any other. Structural white space is
 * limited to one run per place: a single space or tab, or a newline followed by at most {@value #MAX_INDENT}
 * spaces or tabs; unbounded white space lets a small model pad forever instead of closing the value.
 * Numbers are capped at {@value #MAX_DIGITS} digits before and after the point and {@value #MAX_EXP_DIGITS}
 * in the exponent for the same reason.
 */
public final class JsonMatcher implements ByteMatcher {
    static final int MAX_INDENT = 20, MAX_DIGITS = 16, MAX_EXP_DIGITS = 2;

    /** The root frame's node: the value, then white space; the text ends after the value. */
    private record Root(Schema value) {
    }

    // white space runs: nothing yet, a finished run (one space or tab), or a newline plus (state - NL) indentation
    private static final int WS_DONE = 1, NL = 2;
    // object phases: after '{', in a key (a from, b candidate, c position), before ':', before the value, after it, after ','
    private static final int O_OPEN = 0, O_KEY = 1, O_COLON = 2, O_VALUE = 3, O_AFTER = 4, O_NEXT = 5;
    // array phases: after '[', after an element (a count), after ','
    private static final int A_OPEN = 0, A_AFTER = 1, A_NEXT = 2;
    // UTF-8 (b): 1-3 continuation bytes to come, or the restricted second byte after E0, ED, F0 or F4
    private static final int U_E0 = 4, U_ED = 5, U_F0 = 6, U_F4 = 7;
    // string escapes (b): after a backslash, or HEX + k hex digits of a \\u escape still to come
    private static final int ESC = 10, HEX = 20;
    // number phases
    private static final int N_MINUS = 1, N_ZERO = 2, N_INT = 3, N_DOT = 4, N_FRAC = 5, N_E = 6, N_ESIGN = 7, N_EXP = 8;

    private final Schema root;
    private final MatchState start;

    public JsonMatcher(Schema root) {
        this.root = root;
        // one root node, so that every state reached from the start compares equal to its like (the mask cache)
        this.start = new MatchState(new Frame[]{new Frame(new Root(root), 0, 0, 0, 0, 0, null)});
    }

    public Schema schema() {
        return root;
    }

    /** The state before any text. */
    @Override
    public MatchState start() {
        return start;
    }

    /** The state after one more byte, or null when no JSON the schema allows continues with it. */
    public MatchState advance(MatchState s, int b, MatchState.Out out) {
        out.clear();
        for (Frame f : s.frames) step(f, b & 0xFF, out);
        if (out.n == 0) return null;
        if (out.n == 1 && s.frames.length == 1 && out.f[0] == s.frames[0]) return s;
        return new MatchState(java.util.Arrays.copyOf(out.f, out.n));
    }

    /** The state after {@code bytes}, or null. */
    public MatchState advance(MatchState s, byte[] bytes) {
        MatchState.Out out = new MatchState.Out();
        for (int i = 0; i < bytes.length && s != null; i++) s = advance(s, bytes[i], out);
        return s;
    }

    // the trie walk of a shared mask runs on request threads at once, each needing its own scratch list
    private static final ThreadLocal<MatchState.Out> SCRATCH = ThreadLocal.withInitial(MatchState.Out::new);

    @Override
    public MatchState next(Object s, int b) {
        return advance((MatchState) s, b, SCRATCH.get());
    }

    /** Whether the text so far is a whole value the schema allows (the output may end here). */
    @Override
    public boolean accepting(Object state) {
        for (Frame f : ((MatchState) state).frames) {
            if (f.node instanceof Root && f.phase == 1) return true;
            if (complete(f) && f.parent.node instanceof Root) return true;
        }
        return false;
    }

    /** Whether any byte may still follow (false: the value and its trailing white space are done). */
    public boolean canContinue(MatchState s) {
        MatchState.Out out = new MatchState.Out();
        for (int b = 0; b < 256; b++) if (advance(s, b, out) != null) return true;
        return false;
    }

    // ---------------------------------------------------------------- stepping

    private void step(Frame f, int b, MatchState.Out out) {
        switch (f.node) {
            case Root r -> {
                if (isWs(b)) space(f, b, out);
                else if (f.phase == 0) begin(r.value(), f.with(1, 0, 0, 0, 0), b, out);
            }
            case Schema.Obj o -> object(o, f, b, out);
            case Schema.Arr a -> array(a, f, b, out);
            case Schema.Str s -> string(s, f, b, out);
            case Schema.Num n -> number(n, f, b, out);
            case Schema.Lit l -> literal(l, f, b, out);
            default -> throw new IllegalStateException("frame of " + f.node);
        }
    }

    /** A value of {@code node} starts with byte b; {@code parent} is its container, already past the value. */
    private void begin(Schema node, Frame parent, int b, MatchState.Out out) {
        switch (node) {
            case Schema.Ref r -> begin(r.target, parent, b, out);
            case Schema.AnyOf any -> {
                for (Schema o : any.options()) begin(o, parent, b, out);
            }
            case Schema.Obj o -> {
                if (b == '{') out.add(new Frame(o, O_OPEN, 0, 0, 0, 0, parent));
            }
            case Schema.Arr a -> {
                if (b == '[') out.add(new Frame(a, A_OPEN, 0, 0, 0, 0, parent));
            }
            case Schema.Str s -> {
                if (b == '"') out.add(new Frame(s, 0, 0, 0, 0, 0, parent));
            }
            case Schema.Num n -> {
                if (b == '-') out.add(new Frame(n, N_MINUS, 0, 0, 0, 0, parent));
                else if (b == '0') out.add(new Frame(n, N_ZERO, 0, 0, 0, 0, parent));
                else if (b >= '1' && b <= '9') out.add(new Frame(n, N_INT, 1, 0, 0, 0, parent));
            }
            case Schema.Lit l -> {
                int lo = 0;
                byte[][] v = l.values();
                while (lo < v.length && (v[lo].length == 0 || (v[lo][0] & 0xFF) < b)) lo++;
                int hi = lo;
                while (hi < v.length && (v[hi][0] & 0xFF) == b) hi++;
                if (hi > lo) out.add(new Frame(l, 0, lo, hi, 1, 0, parent));
            }
        }
    }

    private void object(Schema.Obj o, Frame f, int b, MatchState.Out out) {
        switch (f.phase) {
            case O_OPEN, O_NEXT, O_VALUE, O_AFTER -> {
                if (isWs(b)) {
                    space(f, b, out);
                    return;
                }
            }
            default -> {
            }
        }
        switch (f.phase) {
            case O_OPEN, O_NEXT -> {
                int from = f.phase == O_OPEN ? 0 : f.a;
                if (b == '"') key(o, f, from, out);
                else if (b == '}' && f.phase == O_OPEN && (o.free() || !o.requiredFrom(0))) out.add(f.parent);
            }
            case O_KEY -> {
                int from = f.a, rep = f.b, pos = f.c, last = o.lastCandidate(from);
                byte[][] keys = o.keys();
                for (int j = from; j <= last; j++) {
                    byte[] k = keys[j];
                    if (k.length <= pos || (k[pos] & 0xFF) != b) continue;
                    if (j != rep && !java.util.Arrays.equals(k, 0, pos, keys[rep], 0, pos)) continue;
                    // a key's encoding ends with its only unescaped quote, so no key is a prefix of another
                    out.add(pos + 1 == k.length ? f.with(O_COLON, j, 0, 0, 0) : f.with(O_KEY, from, j, pos + 1, 0));
                    return;
                }
            }
            case O_COLON -> {
                if (b == ':') out.add(f.with(O_VALUE, f.a, 0, 0, 0));
            }
            case O_VALUE -> {
                Schema value = f.a >= 0 ? o.values()[f.a] : o.extra();
                begin(value, f.with(O_AFTER, f.a + 1, 0, 0, 0), b, out);
            }
            case O_AFTER -> {
                if (b == ',' && (o.free() || o.lastCandidate(f.a) >= f.a)) out.add(f.with(O_NEXT, f.a, 0, 0, 0));
                else if (b == '}' && (o.free() || !o.requiredFrom(f.a))) out.add(f.parent);
            }
            default -> throw new IllegalStateException("object phase " + f.phase);
        }
    }

    /** A key starts (its opening quote): a free object's is any string, else one of the next allowed names. */
    private void key(Schema.Obj o, Frame f, int from, MatchState.Out out) {
        if (o.free()) {
            begin(Schema.Str.ANY, f.with(O_COLON, -1, 0, 0, 0), '"', out);
        } else if (o.lastCandidate(from) >= from) {
            out.add(f.with(O_KEY, from, from, 1, 0));
        }
    }

    private void array(Schema.Arr a, Frame f, int b, MatchState.Out out) {
        if (isWs(b)) {
            space(f, b, out);
            return;
        }
        switch (f.phase) {
            case A_OPEN -> {
                if (b == ']') {
                    if (a.min() == 0) out.add(f.parent);
                } else if (a.max() > 0) {
                    begin(a.items(), f.with(A_AFTER, 1, 0, 0, 0), b, out);
                }
            }
            case A_AFTER -> {
                if (b == ',' && f.a < a.max()) out.add(f.with(A_NEXT, f.a, 0, 0, 0));
                else if (b == ']' && f.a >= a.min()) out.add(f.parent);
            }
            case A_NEXT -> begin(a.items(), f.with(A_AFTER, f.a + 1, 0, 0, 0), b, out);
            default -> throw new IllegalStateException("array phase " + f.phase);
        }
    }

    private void string(Schema.Str s, Frame f, int b, MatchState.Out out) {
        int count = f.a, pending = f.b;
        if (pending == 0) {
            if (b == '"') {
                if (count >= s.min()) out.add(f.parent);
                return;
            }
            if (b < 0x20 || b > 0xF4 || (b >= 0x80 && b < 0xC2)) return; // control characters; bytes no character starts with
            int c = counted(s, count);
            if (c < 0) return;
            int next = b == '\\' ? ESC : b < 0x80 ? 0 : b < 0xE0 ? 1 : b == 0xE0 ? U_E0 : b == 0xED ? U_ED : b < 0xF0 ? 2
                    : b == 0xF0 ? U_F0 : b == 0xF4 ? U_F4 : 3;
            out.add(f.with(0, c, next, 0, 0));
        } else if (pending <= 3) {
            if (b >= 0x80 && b <= 0xBF) out.add(f.with(0, count, pending - 1, 0, 0));
        } else if (pending <= U_F4) {
            // the second byte of these leads is narrower: no overlong forms, no surrogates, nothing past U+10FFFF
            boolean ok = switch (pending) {
                case U_E0 -> b >= 0xA0 && b <= 0xBF;
                case U_ED -> b >= 0x80 && b <= 0x9F;
                case U_F0 -> b >= 0x90 && b <= 0xBF;
                default -> b >= 0x80 && b <= 0x8F;
            };
            if (ok) out.add(f.with(0, count, pending <= U_ED ? 1 : 2, 0, 0));
        } else if (pending == ESC) {
            if (b == 'u') out.add(f.with(0, count, HEX + 4, 0, 0));
            else if ("\"\\/bfnrt".indexOf(b) >= 0) out.add(f.with(0, count, 0, 0, 0));
        } else if (isHex(b)) {
            out.add(f.with(0, count, pending == HEX + 1 ? 0 : pending - 1, 0, 0));
        }
    }

    /** The character count after one more character, or -1 past the maximum; uncounted strings stay at 0. */
    private static int counted(Schema.Str s, int count) {
        if (!s.counts()) return 0;
        if (s.max() >= 0) return count >= s.max() ? -1 : count + 1;
        return Math.min(count + 1, s.min()); // only the minimum matters: stop counting there
    }

    private void number(Schema.Num n, Frame f, int b, MatchState.Out out) {
        boolean digit = b >= '0' && b <= '9', exp = (b == 'e' || b == 'E') && !n.integer();
        Frame next = switch (f.phase) {
            case N_MINUS -> b == '0' ? f.with(N_ZERO, 0, 0, 0, 0) : digit ? f.with(N_INT, 1, 0, 0, 0) : null;
            case N_ZERO -> b == '.' && !n.integer() ? f.with(N_DOT, 0, 0, 0, 0) : exp ? f.with(N_E, 0, 0, 0, 0) : null;
            case N_INT -> digit && f.a < MAX_DIGITS ? f.with(N_INT, f.a + 1, 0, 0, 0)
                    : b == '.' && !n.integer() ? f.with(N_DOT, 0, 0, 0, 0) : exp ? f.with(N_E, 0, 0, 0, 0) : null;
            case N_DOT -> digit ? f.with(N_FRAC, 1, 0, 0, 0) : null;
            case N_FRAC -> digit && f.a < MAX_DIGITS ? f.with(N_FRAC, f.a + 1, 0, 0, 0) : exp ? f.with(N_E, 0, 0, 0, 0) : null;
            case N_E -> b == '+' || b == '-' ? f.with(N_ESIGN, 0, 0, 0, 0) : digit ? f.with(N_EXP, 1, 0, 0, 0) : null;
            case N_ESIGN -> digit ? f.with(N_EXP, 1, 0, 0, 0) : null;
            case N_EXP -> digit && f.a < MAX_EXP_DIGITS ? f.with(N_EXP, f.a + 1, 0, 0, 0) : null;
            default -> throw new IllegalStateException("number phase " + f.phase);
        };
        if (next != null) out.add(next);
        else if (complete(f)) step(f.parent, b, out); // a number ends at the first byte that cannot extend it
    }

    private void literal(Schema.Lit l, Frame f, int b, MatchState.Out out) {
        byte[][] v = l.values();
        int pos = f.c, lo = f.a;
        // the candidates share their first pos bytes and are sorted: those going on with b are one run
        while (lo < f.b && (v[lo].length <= pos || (v[lo][pos] & 0xFF) < b)) lo++;
        int hi = lo;
        while (hi < f.b && v[hi].length > pos && (v[hi][pos] & 0xFF) == b) hi++;
        if (hi > lo) out.add(f.with(0, lo, hi, pos + 1, 0));
        else if (complete(f)) step(f.parent, b, out);
    }

    /** Whether a frame holds a finished number or literal, which ends at the next byte that cannot extend it. */
    private static boolean complete(Frame f) {
        return switch (f.node) {
            case Schema.Num n -> f.phase == N_ZERO || f.phase == N_INT || f.phase == N_FRAC || f.phase == N_EXP;
            case Schema.Lit l -> l.values()[f.a].length == f.c;
            default -> false;
        };
    }

    // ---------------------------------------------------------------- white space

    private static boolean isWs(int b) {
        return b == ' ' || b == '\t' || b == '\n' || b == '\r';
    }

    private static void space(Frame f, int b, MatchState.Out out) {
        int w = f.ws;
        int next;
        if (w == 0) next = b == '\n' ? NL : b == '\r' ? -1 : WS_DONE;
        else if (w >= NL && (b == ' ' || b == '\t') && w - NL < MAX_INDENT) next = w + 1;
        else next = -1;
        if (next >= 0) out.add(f.withWs(next));
    }

    private static boolean isHex(int b) {
        return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F');
    }
}
