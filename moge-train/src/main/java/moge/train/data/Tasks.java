package moge.train.data;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The procedural problems the demo models learn, with the column-by-column working a slow answer shows.
 * Every working line carries the whole state (digits still to process, carry or borrow, result so far), so
 * each step only needs the line above it: {@code 8+6+0=14:473+258,c1,r4} reads "8+6 plus carry 0 is 14;
 * left to do 473+258, carry 1, result so far 4".
 */
public final class Tasks {
    /** Task classes in table order; add_big is the hardest (longest carry chains). */
    public static final List<String> CLASSES = List.of("add_small", "sub", "mul", "add_big");

    private static final String[][] ASK = {
            {"%s%s%s=?", "What is %s%s%s?", "计算 %s%s%s", "%s%s%s等于多少？", "Compute %s%s%s."},
    };

    private Tasks() {
    }

    public static Problem generate(String cls, SplittableRandom r) {
        return switch (cls) {
            case "add_small" -> add(cls, "easy", number(r, 1, 2), number(r, 1, 2), r);
            case "add_big" -> add(cls, "hard", number(r, 4, 5), number(r, 4, 5), r);
            case "sub" -> {
                long a = number(r, 3, 4), b = number(r, 2, 4);
                yield a >= b ? sub(cls, a, b, r) : sub(cls, b, a, r);
            }
            case "mul" -> mul(cls, number(r, 2, 4), 2 + r.nextInt(8), r);
            case "chat" -> Smalltalk.generate(r);
            default -> throw new IllegalArgumentException("unknown task class " + cls);
        };
    }

    /** A number with between minDigits and maxDigits digits (no leading zero), uniformly over lengths. */
    static long number(SplittableRandom r, int minDigits, int maxDigits) {
        int d = minDigits + r.nextInt(maxDigits - minDigits + 1);
        long lo = d == 1 ? 0 : pow10(d - 1), hi = pow10(d);
        return lo + r.nextLong(hi - lo);
    }

    static long pow10(int d) {
        long p = 1;
        for (int i = 0; i < d; i++) p *= 10;
        return p;
    }

    static String ask(SplittableRandom r, long a, String op, long b) {
        String[] forms = ASK[0];
        return String.format(forms[r.nextInt(forms.length)], a, op, b);
    }

    /** The remaining digits after dropping the last one: "" when none remain. */
    private static String rest(String s) {
        return s.length() <= 1 ? "" : s.substring(0, s.length() - 1);
    }

    private static int last(String s) {
        return s.isEmpty() ? 0 : s.charAt(s.length() - 1) - '0';
    }

    public static Problem add(String cls, String difficulty, long a, long b, SplittableRandom r) {
        List<String> lines = new ArrayList<>();
        String A = Long.toString(a), B = Long.toString(b), R = "";
        int c = 0;
        lines.add(A + "+" + B + ",c0,r");
        while (!A.isEmpty() || !B.isEmpty() || c > 0) {
            int da = last(A), db = last(B), s = da + db + c;
            A = rest(A);
            B = rest(B);
            String step = da + "+" + db + "+" + c + "=" + s;
            c = s / 10;
            R = (s % 10) + R;
            lines.add(step + ":" + A + "+" + B + ",c" + c + ",r" + R);
        }
        return new Problem(cls, difficulty, ask(r, a, "+", b), String.join("\n", lines), Long.toString(a + b), "add:" + a + ":" + b);
    }

    public static Problem sub(String cls, long a, long b, SplittableRandom r) {
        List<String> lines = new ArrayList<>();
        String A = Long.toString(a), B = Long.toString(b), R = "";
        int borrow = 0;
        lines.add(A + "-" + B + ",b0,r");
        while (!A.isEmpty()) {
            int da = last(A), db = last(B), raw = da - db - borrow;
            int digit = raw < 0 ? raw + 10 : raw;
            A = rest(A);
            B = rest(B);
            String step = da + "-" + db + "-" + borrow + "=" + raw;
            borrow = raw < 0 ? 1 : 0;
            R = digit + R;
            lines.add(step + ":" + A + "-" + B + ",b" + borrow + ",r" + R);
        }
        return new Problem(cls, "hard", ask(r, a, "-", b), String.join("\n", lines), Long.toString(a - b), "sub:" + a + ":" + b);
    }

    public static Problem mul(String cls, long a, int d, SplittableRandom r) {
        List<String> lines = new ArrayList<>();
        String A = Long.toString(a), R = "";
        int c = 0;
        lines.add(A + "*" + d + ",c0,r");
        while (!A.isEmpty() || c > 0) {
            int da = last(A), p = da * d, s = p + c;
            A = rest(A);
            String step = da + "*" + d + "=" + p + "+" + c + "=" + s;
            c = s / 10;
            R = (s % 10) + R;
            lines.add(step + ":" + A + "*" + d + ",c" + c + ",r" + R);
        }
        return new Problem(cls, "hard", ask(r, a, "*", d), String.join("\n", lines), Long.toString(a * d), "mul:" + a + ":" + d);
    }
}
