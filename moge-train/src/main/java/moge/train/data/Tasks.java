package moge.train.data;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The procedural problems the demo models learn, with the column-by-column working a slow answer shows.
 * The working keeps its state in registers of fixed width: the operands, zero-padded, shift right by one digit
 * per step (their last column holds the digit being processed); the result fills from the left as each new
 * digit pushes the earlier ones right, '_' marking columns not reached yet. {@code 4+2+1=07:00000+00000,c0,r7324_}
 * reads "4+2 plus carry 1 is 07; left to do 0+0, carry 0, result so far 7324". Every token of a line is then
 * either computed locally or copied from the line above at a fixed distance, which a small transformer with
 * rotary positions learns quickly (copies whose distance varies from example to example it learns slowly).
 * Only the first line, the question's operands zero-padded, needs such a copy, and the answer is the result
 * register without its leading zeros.
 * <p>
 * The working always walks all {@link #WIDTH} columns, like a fixed-width adder: 3+4 costs as many thinking
 * tokens as 4738+2586 (about 180). That is the overthinking a reasoning model shows on easy questions, and what
 * fast and auto modes exist to cut. The easy class, identity, holds the questions whose answer needs no
 * arithmetic at all (4738*1, 0+388, 2586-0): a model this small cannot add even two digits without
 * writing the columns out (trained on 160,000 direct sums it answered 17-21% of 1-2 digit sums), but it can
 * see that 4738*1 is 4738.
 */
public final class Tasks {
    /** Task classes in table order: the easy one, then the hard ones; add_big is the hardest (longest carry chains). */
    public static final List<String> CLASSES = List.of("identity", "add_small", "sub", "mul", "add_big");

    public static boolean easy(String cls) {
        return cls.equals("identity");
    }

    private static final String[][] ASK = {
            {"%s%s%s=?", "What is %s%s%s?", "计算 %s%s%s", "%s%s%s等于多少？", "Compute %s%s%s."},
    };

    private Tasks() {
    }

    public static Problem generate(String cls, SplittableRandom r) {
        return switch (cls) {
            case "identity" -> identity(cls, number(r, 3, 4), r);
            case "add_small" -> add(cls, "hard", number(r, 1, 2), number(r, 1, 2), r);
            case "add_big" -> add(cls, "hard", number(r, 3, 4), number(r, 3, 4), r);
            case "sub" -> {
                long a = number(r, 3, 4), b = number(r, 2, 4);
                yield a >= b ? sub(cls, "hard", a, b, r) : sub(cls, "hard", b, a, r);
            }
            case "mul" -> mul(cls, "hard", number(r, 2, 3), 2 + r.nextInt(8), r);
            case "chat" -> Smalltalk.generate(r);
            default -> throw new IllegalArgumentException("unknown task class " + cls);
        };
    }

    /** n+0, 0+n, n-0, n*1 or n*0: the answer is n or 0, whatever the working would say. */
    static Problem identity(String cls, long n, SplittableRandom r) {
        return switch (r.nextInt(5)) {
            case 0 -> add(cls, "easy", n, 0, r);
            case 1 -> add(cls, "easy", 0, n, r);
            case 2 -> sub(cls, "easy", n, 0, r);
            case 3 -> mul(cls, "easy", n, 1, r);
            default -> mul(cls, "easy", n, 0, r);
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

    /** Columns of the working registers: room for a 4-digit operand plus a carry into a fifth digit. */
    public static final int WIDTH = 5;

    static String pad(long v) {
        String d = Long.toString(v);
        return "0".repeat(WIDTH - d.length()) + d;
    }

    /** The register after a step: operands lose their last digit (a zero enters on the left). */
    private static String shiftRight(String reg) {
        return "0" + reg.substring(0, reg.length() - 1);
    }

    /**
     * The result register after a step: the new digit enters on the left and the rest moves right, so the
     * result reads in order from the first column and '_' marks columns not reached yet. The answer is then
     * a copy of the register's first columns, at a fixed distance from them.
     */
    private static String push(String reg, int digit) {
        return digit + reg.substring(0, reg.length() - 1);
    }

    static final String EMPTY = "_".repeat(WIDTH);

    private static int last(String reg) {
        return reg.charAt(reg.length() - 1) - '0';
    }

    /** The answer in a finished result register: its digits without leading zeros. */
    static String unpad(String reg) {
        String t = reg.replace("_", "").replaceFirst("^0+", "");
        return t.isEmpty() ? "0" : t;
    }

    public static Problem add(String cls, String difficulty, long a, long b, SplittableRandom r) {
        String A = pad(a), B = pad(b), R = EMPTY;
        int c = 0;
        List<String> lines = new ArrayList<>();
        lines.add(A + "+" + B + ",c0,r" + R);
        do {
            int da = last(A), db = last(B), s = da + db + c;
            String step = da + "+" + db + "+" + c + "=" + (s / 10) + (s % 10);
            A = shiftRight(A);
            B = shiftRight(B);
            c = s / 10;
            R = push(R, s % 10);
            lines.add(step + ":" + A + "+" + B + ",c" + c + ",r" + R);
        } while (lines.size() <= WIDTH);
        return new Problem(cls, difficulty, ask(r, a, "+", b), String.join("\n", lines), unpad(R), "add:" + a + ":" + b);
    }

    /** a - b for a >= b; each step writes its borrow and digit as two characters, like a carry and digit. */
    public static Problem sub(String cls, String difficulty, long a, long b, SplittableRandom r) {
        String A = pad(a), B = pad(b), R = EMPTY;
        int bw = 0;
        List<String> lines = new ArrayList<>();
        lines.add(A + "-" + B + ",b0,r" + R);
        do {
            int da = last(A), db = last(B), raw = da - db - bw;
            int nb = raw < 0 ? 1 : 0, digit = raw + 10 * nb;
            String step = da + "-" + db + "-" + bw + "=" + nb + digit;
            A = shiftRight(A);
            B = shiftRight(B);
            bw = nb;
            R = push(R, digit);
            lines.add(step + ":" + A + "-" + B + ",b" + bw + ",r" + R);
        } while (lines.size() <= WIDTH);
        return new Problem(cls, difficulty, ask(r, a, "-", b), String.join("\n", lines), unpad(R), "sub:" + a + ":" + b);
    }

    public static Problem mul(String cls, String difficulty, long a, int d, SplittableRandom r) {
        String A = pad(a), R = EMPTY;
        int c = 0;
        List<String> lines = new ArrayList<>();
        lines.add(A + "*" + d + ",c0,r" + R);
        do {
            int da = last(A), s = da * d + c;
            String step = da + "*" + d + "+" + c + "=" + (s / 10) + (s % 10);
            A = shiftRight(A);
            c = s / 10;
            R = push(R, s % 10);
            lines.add(step + ":" + A + "*" + d + ",c" + c + ",r" + R);
        } while (lines.size() <= WIDTH);
        return new Problem(cls, difficulty, ask(r, a, "*", d), String.join("\n", lines), unpad(R), "mul:" + a + ":" + d);
    }
}
