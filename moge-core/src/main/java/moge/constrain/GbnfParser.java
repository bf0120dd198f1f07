package moge.constrain;

import moge.MogeException;

import java.util.ArrayList;
import java.util.List;

/**
 * Reads GBNF, the grammar notation of llama.cpp ({@code grammars/README.md} there), into a {@link Grammar}:
 * <pre>
 * root  ::= answer ("," ws answer)*     # a rule: alternatives separated by |, items in sequence
 * answer ::= "yes" | "no" | [0-9]{1,3}  # "literal", [class], [^negated], ., (group), * + ? {m} {m,} {m,n} {,n}
 * ws    ::= [ \t\n]*
 * </pre>
 * A rule ends at the end of its line, except inside parentheses and after {@code |} or {@code ::=}; {@code #}
 * starts a comment. Escapes in literals and classes: {@code \n \r \t \\ \" \[ \] \- \xHH \\uHHHH \UHHHHHHHH}.
 * The grammar must define {@code root}, every rule it names, and no left-recursive rule. Repetitions become
 * rules: {@code x*} is {@code r ::= x r | ()}, right-recursive so that the matcher's stacks stay flat, and
 * {@code x{m,n}} is m copies of x followed by n - m nested optional ones, as llama.cpp expands them.
 */
public final class GbnfParser {
    /** Repetition bounds above this are refused: each copy is a grammar element, and no output needs more. */
    static final int MAX_REPEAT = 10_000;

    private final String src;
    private final Grammar.Builder g = new Grammar.Builder();
    private final List<int[]> refs = new ArrayList<>(); // rule referenced, position: to report undefined names
    private int pos;

    private GbnfParser(String src) {
        this.src = src;
    }

    /** A malformed grammar: the message names the line and column. */
    public static final class GrammarException extends MogeException {
        GrammarException(String message) {
            super(message);
        }
    }

    public static Grammar parse(String text) {
        return new GbnfParser(text).grammar();
    }

    private Grammar grammar() {
        g.rule("root"); // rule 0, defined or not
        skip(true);
        while (pos < src.length()) {
            int at = pos;
            String name = name();
            skip(false);
            if (!src.startsWith("::=", pos)) throw error("expected '::=' after rule name '" + name + "'");
            pos += 3;
            skip(true);
            int r = ruleNamed(name);
            if (g.defined(r)) throw error(at, "rule '" + name + "' is defined twice");
            g.define(r, alternates(name, false));
            if (pos < src.length() && src.charAt(pos) != '\n') throw error("expected the end of the line after rule '" + name + "'");
            skip(true);
        }
        for (int[] ref : refs) {
            if (!g.defined(ref[0])) throw error(ref[1], "undefined rule '" + g.name(ref[0]) + "'");
        }
        if (!g.defined(0)) throw new GrammarException("grammar: no 'root' rule (the rule the output must match)");
        String left = g.leftRecursive();
        if (left != null) throw new GrammarException("grammar: rule '" + left + "' is left-recursive (it can reach itself before reading a character)");
        return g.build();
    }

    private int ruleNamed(String name) {
        int r = g.find(name);
        return r >= 0 ? r : g.rule(name);
    }

    private List<int[]> alternates(String rule, boolean nested) {
        List<int[]> alts = new ArrayList<>();
        alts.add(sequence(rule, nested));
        while (pos < src.length() && src.charAt(pos) == '|') {
            pos++;
            skip(true);
            alts.add(sequence(rule, nested));
        }
        return alts;
    }

    private int[] sequence(String rule, boolean nested) {
        List<Integer> seq = new ArrayList<>();
        int lastStart = -1;
        while (pos < src.length()) {
            char c = src.charAt(pos);
            if (c == '|' || c == ')' || c == '\n') break;
            int start = seq.size();
            if (c == '"') {
                pos++;
                while (true) {
                    if (pos >= src.length() || src.charAt(pos) == '\n') throw error("unterminated string literal");
                    if (src.charAt(pos) == '"') break;
                    int cp = character();
                    seq.add(g.set(new int[]{cp, cp}));
                }
                pos++;
            } else if (c == '[') {
                seq.add(g.set(charClass()));
            } else if (c == '.') {
                pos++;
                seq.add(g.set(new int[]{0, 0x10FFFF}));
            } else if (c == '(') {
                pos++;
                skip(true);
                List<int[]> alts = alternates(rule, true);
                if (pos >= src.length() || src.charAt(pos) != ')') throw error("expected ')'");
                pos++;
                int r = g.rule(rule + "/" + g.rules());
                g.define(r, alts);
                seq.add(-1 - r);
            } else if (isWordChar(c)) {
                int at = pos;
                String name = name();
                int r = ruleNamed(name);
                refs.add(new int[]{r, at});
                seq.add(-1 - r);
            } else if (c == '*' || c == '+' || c == '?' || c == '{') {
                if (lastStart < 0) throw error("'" + c + "' must follow an item");
                repeat(rule, seq, lastStart);
                skip(nested);
                continue;
            } else {
                throw error("unexpected '" + c + "'");
            }
            lastStart = start;
            skip(nested);
        }
        return seq.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Applies the operator at pos to the last item, {@code seq[from ..]}. */
    private void repeat(String rule, List<Integer> seq, int from) {
        int min, max; // max -1: unbounded
        char c = src.charAt(pos++);
        switch (c) {
            case '*' -> { min = 0; max = -1; }
            case '+' -> { min = 1; max = -1; }
            case '?' -> { min = 0; max = 1; }
            default -> {
                skip(false);
                min = pos < src.length() && Character.isDigit(src.charAt(pos)) ? number() : 0;
                skip(false);
                if (pos < src.length() && src.charAt(pos) == ',') {
                    pos++;
                    skip(false);
                    max = pos < src.length() && Character.isDigit(src.charAt(pos)) ? number() : -1;
                    skip(false);
                } else {
                    max = min;
                }
                if (pos >= src.length() || src.charAt(pos) != '}') throw error("expected '}' to close the repetition");
                pos++;
                if (max >= 0 && max < min) throw error("repetition {" + min + "," + max + "}: the maximum is below the minimum");
            }
        }
        List<Integer> item = new ArrayList<>(seq.subList(from, seq.size()));
        seq.subList(from, seq.size()).clear();
        for (int i = 0; i < min; i++) seq.addAll(item);
        int[] it = item.stream().mapToInt(Integer::intValue).toArray();
        if (max < 0) {
            // r ::= item r | (): right recursion, which the matcher runs as a loop
            int r = g.rule(rule + "/" + g.rules());
            int[] again = new int[it.length + 1];
            System.arraycopy(it, 0, again, 0, it.length);
            again[it.length] = -1 - r;
            g.define(r, List.of(again, new int[0]));
            seq.add(-1 - r);
        } else if (max > min) {
            // opt_k ::= item opt_{k-1} | (), nested so that each extra copy is only tried after the one before
            int inner = -1;
            for (int k = 1; k <= max - min; k++) {
                int r = g.rule(rule + "/" + g.rules());
                int[] body = new int[it.length + (inner < 0 ? 0 : 1)];
                System.arraycopy(it, 0, body, 0, it.length);
                if (inner >= 0) body[it.length] = -1 - inner;
                g.define(r, List.of(body, new int[0]));
                inner = r;
            }
            seq.add(-1 - inner);
        }
    }

    private int number() {
        int start = pos;
        while (pos < src.length() && Character.isDigit(src.charAt(pos))) pos++;
        if (pos - start > 6) throw error(start, "repetition count too large (at most " + MAX_REPEAT + ")");
        int n = Integer.parseInt(src.substring(start, pos));
        if (n > MAX_REPEAT) throw error(start, "repetition count " + n + " too large (at most " + MAX_REPEAT + ")");
        return n;
    }

    /** [...] at pos: its code point ranges, sorted, merged, and complemented for [^...]. */
    private int[] charClass() {
        pos++;
        boolean negate = pos < src.length() && src.charAt(pos) == '^';
        if (negate) pos++;
        List<int[]> ranges = new ArrayList<>();
        while (true) {
            if (pos >= src.length() || src.charAt(pos) == '\n') throw error("unterminated character class");
            if (src.charAt(pos) == ']') break;
            int lo = character(), hi = lo;
            if (pos + 1 < src.length() && src.charAt(pos) == '-' && src.charAt(pos + 1) != ']') {
                pos++;
                hi = character();
                if (hi < lo) throw error("character range out of order");
            }
            ranges.add(new int[]{lo, hi});
        }
        pos++;
        ranges.sort((a, b) -> Integer.compare(a[0], b[0]));
        List<int[]> merged = new ArrayList<>();
        for (int[] r : ranges) {
            int[] last = merged.isEmpty() ? null : merged.get(merged.size() - 1);
            if (last != null && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
            else merged.add(r.clone());
        }
        if (negate) {
            List<int[]> comp = new ArrayList<>();
            int next = 0;
            for (int[] r : merged) {
                if (r[0] > next) comp.add(new int[]{next, r[0] - 1});
                next = r[1] + 1;
            }
            if (next <= 0x10FFFF) comp.add(new int[]{next, 0x10FFFF});
            merged = comp;
        }
        if (merged.isEmpty()) throw error("character class matches nothing");
        int[] out = new int[merged.size() * 2];
        for (int i = 0; i < merged.size(); i++) {
            out[2 * i] = merged.get(i)[0];
            out[2 * i + 1] = merged.get(i)[1];
        }
        return out;
    }

    /** One code point of a literal or class at pos, escapes decoded. */
    private int character() {
        int cp = src.codePointAt(pos);
        pos += Character.charCount(cp);
        if (cp != '\\') return cp;
        if (pos >= src.length()) throw error("escape at the end of the grammar");
        char e = src.charAt(pos++);
        return switch (e) {
            case 'n' -> '\n';
            case 'r' -> '\r';
            case 't' -> '\t';
            case '\\', '"', '[', ']', '-', '/', '^', '\'' -> e;
            case 'x' -> hex(2);
            case 'u' -> hex(4);
            case 'U' -> hex(8);
            default -> throw error(pos - 2, "unknown escape '\\" + e + "'");
        };
    }

    private int hex(int digits) {
        int start = pos - 2;
        if (pos + digits > src.length()) throw error(start, "escape needs " + digits + " hex digits");
        int v;
        try {
            v = Integer.parseUnsignedInt(src.substring(pos, pos + digits), 16);
        } catch (NumberFormatException e) {
            throw error(start, "escape needs " + digits + " hex digits");
        }
        if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) throw error(start, "escape is not a Unicode scalar value");
        pos += digits;
        return v;
    }

    private String name() {
        int start = pos;
        while (pos < src.length() && isWordChar(src.charAt(pos))) pos++;
        if (pos == start) throw error("expected a rule name");
        return src.substring(start, pos);
    }

    private static boolean isWordChar(char c) {
        return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_';
    }

    /** Skips spaces, tabs and comments; also line ends when {@code newlines}. */
    private void skip(boolean newlines) {
        while (pos < src.length()) {
            char c = src.charAt(pos);
            if (c == ' ' || c == '\t' || c == '\r' || (newlines && c == '\n')) pos++;
            else if (c == '#') {
                while (pos < src.length() && src.charAt(pos) != '\n') pos++;
            } else break;
        }
    }

    private GrammarException error(String message) {
        return error(pos, message);
    }

    private GrammarException error(int at, String message) {
        int line = 1, col = 1;
        for (int i = 0; i < at && i < src.length(); i++) {
            if (src.charAt(i) == '\n') { line++; col = 1; } else col++;
        }
        return new GrammarException("grammar line " + line + ", column " + col + ": " + message);
    }
}
