package moge.train.data;

import moge.tokenizer.Tokenizer;
import moge.train.TokenBatch;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * The staged data of the published recipe at toy scale, generated on the fly:
 * <ul>
 * <li>general: plain text — small arithmetic facts, English and Chinese sentences about numbers, counting,
 * a few conversational lines</li>
 * <li>reasoning: worked solutions in plain text, the working exactly as slow answers show it</li>
 * <li>annealing: a mix of both with chat-formatted conversations, loss on every token</li>
 * <li>sft: chat conversations in the openPangu template, loss on the assistant's words only, in slow,
 * fast and auto modes, some with two turns</li>
 * </ul>
 * The batch of step s is a pure function of (seed, stage, s), so a resumed run sees the same data.
 */
public final class DataMix {
    public static final List<String> STAGES = List.of("general", "reasoning", "annealing", "sft");

    private static final String[] CLASSES = {"identity", "add_small", "sub", "mul", "add_big", "chat"};
    private static final double[] SFT_CLASS_WEIGHTS = {0.2, 0.15, 0.15, 0.15, 0.25, 0.1};
    private static final String[] SYSTEMS = {"You are a helpful assistant.", "你是一个乐于助人的助手。",
            "You are moge's demo model. Answer arithmetic questions."};

    private final Tokenizer tok;
    private final Set<String> heldOut;

    public DataMix(Tokenizer tok, Set<String> heldOut) {
        this.tok = tok;
        this.heldOut = heldOut;
    }

    /** Packs whole examples into about {@code batchTokens} tokens (at least one example). */
    public TokenBatch batch(String stage, long seed, long step, int batchTokens, int maxLen) {
        SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + step * 0xBF58476D1CE4E5B9L + stage.hashCode());
        List<int[]> seqs = new ArrayList<>();
        List<boolean[]> losses = new ArrayList<>();
        int total = 0;
        while (true) {
            ChatFormat.Example e = example(stage, r);
            int len = Math.min(e.tokens().length, maxLen);
            if (!seqs.isEmpty() && total + len > batchTokens) break;
            seqs.add(java.util.Arrays.copyOf(e.tokens(), len));
            losses.add(java.util.Arrays.copyOf(e.loss(), len));
            total += len;
            if (total >= batchTokens) break;
        }
        return TokenBatch.of(seqs.toArray(new int[0][]), losses.toArray(new boolean[0][]));
    }

    public ChatFormat.Example example(String stage, SplittableRandom r) {
        return switch (stage) {
            case "general" -> plain(general(r));
            case "reasoning" -> plain(reasoning(r));
            case "annealing" -> {
                double u = r.nextDouble();
                if (u < 0.3) yield plain(general(r));
                if (u < 0.6) yield plain(reasoning(r));
                yield ChatFormat.encode(tok, chat(r), true);
            }
            case "sft" -> ChatFormat.encode(tok, chat(r), false);
            default -> throw new IllegalArgumentException("unknown data stage " + stage + " (expected one of " + STAGES + ")");
        };
    }

    private ChatFormat.Example plain(String text) {
        return ChatFormat.encode(tok, List.of(new ChatFormat.Part(text, true)), true);
    }

    /** A problem of the class, never one of the held-out evaluation problems. */
    public Problem problem(String cls, SplittableRandom r) {
        while (true) {
            Problem p = Tasks.generate(cls, r);
            if (!heldOut.contains(p.key())) return p;
        }
    }

    private String pickClass(SplittableRandom r) {
        double u = r.nextDouble(), acc = 0;
        for (int i = 0; i < CLASSES.length; i++) {
            acc += SFT_CLASS_WEIGHTS[i];
            if (u < acc) return CLASSES[i];
        }
        return CLASSES[CLASSES.length - 1];
    }

    private List<ChatFormat.Part> chat(SplittableRandom r) {
        int turns = r.nextDouble() < 0.15 ? 2 : 1;
        List<Problem> ps = new ArrayList<>();
        List<ChatFormat.Mode> modes = new ArrayList<>();
        for (int i = 0; i < turns; i++) {
            Problem p = problem(pickClass(r), r);
            ps.add(p);
            // easy problems are mostly answered directly (as auto mode will), hard ones mostly with working
            double u = r.nextDouble(), slow = p.easy() ? 0.2 : 0.45, fast = p.easy() ? 0.5 : 0.25;
            modes.add(u < slow ? ChatFormat.Mode.SLOW : u < slow + fast ? ChatFormat.Mode.FAST : ChatFormat.Mode.AUTO);
        }
        String system = r.nextDouble() < 0.2 ? SYSTEMS[r.nextInt(SYSTEMS.length)] : null;
        return ChatFormat.conversation(system, ps, modes, r.nextBoolean());
    }

    private String reasoning(SplittableRandom r) {
        String cls = pickClass(r);
        if (cls.equals("chat")) cls = "add_big";
        Problem p = problem(cls, r);
        String answer = r.nextBoolean() ? "Answer: " : "答案：";
        return p.question() + "\n" + p.working() + "\n" + answer + p.answer();
    }

    String general(SplittableRandom r) {
        StringBuilder sb = new StringBuilder();
        int items = 4 + r.nextInt(5);
        for (int i = 0; i < items; i++) {
            if (i > 0) sb.append('\n');
            sb.append(generalItem(r));
        }
        return sb.toString();
    }

    private String generalItem(SplittableRandom r) {
        long a = Tasks.number(r, 1, 2), b = Tasks.number(r, 1, 2);
        // Copying digit strings (verbatim, zero-padded to the working width, without leading zeros) drills the
        // copies whose distance varies in slow answers: the question's operands into the first working line
        // and the result register into the answer.
        int kind = r.nextInt(10);
        if (kind < 4) {
            String s = randomDigits(r, 1 + r.nextInt(8));
            long v = Tasks.number(r, 1, 4), w = Tasks.number(r, 1, 4);
            return switch (r.nextInt(6)) {
                case 0 -> s + " " + s;
                case 1 -> "copy " + s + ": " + s;
                case 2 -> "copy " + v + "+" + w + ": " + v + "+" + w;
                case 3 -> "pad " + v + ": " + Tasks.pad(v);
                case 4 -> "unpad " + Tasks.pad(v) + ": " + v;
                default -> "pad " + v + "-" + w + ": " + Tasks.pad(v) + "-" + Tasks.pad(w);
            };
        }
        // Direct sums of small numbers and identities (n+0, n*1, ...), worded several ways, never about a
        // held-out problem.
        if (kind < 7) {
            Problem p = problem(r.nextBoolean() ? "add_small" : "identity", r);
            String[] k = p.key().split(":");
            String sym = switch (k[0]) { case "add" -> "+"; case "sub" -> "-"; default -> "*"; };
            String word = switch (k[0]) { case "add" -> " plus "; case "sub" -> " minus "; default -> " times "; };
            String zh = switch (k[0]) { case "add" -> " 加 "; case "sub" -> " 减 "; default -> " 乘 "; };
            return switch (r.nextInt(3)) {
                case 0 -> k[1] + sym + k[2] + "=" + p.answer();
                case 1 -> k[1] + word + k[2] + " is " + p.answer() + ".";
                default -> k[1] + zh + k[2] + " 等于 " + p.answer() + "。";
            };
        }
        return switch (r.nextInt(6)) {
            case 0 -> (a % 10) + "*" + (b % 10) + "=" + (a % 10) * (b % 10);
            case 1 -> a + " equals " + a + ".";
            case 2 -> heldOut.contains("mul:" + a + ":" + (b % 10)) ? a + " equals " + a + "."
                    : a + " times " + (b % 10) + " is " + a * (b % 10) + ".";
            case 3 -> {
                long s = Tasks.number(r, 1, 4);
                StringBuilder c = new StringBuilder();
                for (int k = 0; k < 6; k++) c.append(k == 0 ? "" : " ").append(s + k);
                yield c.toString();
            }
            case 4 -> a == b ? a + " equals " + b + "." : Math.max(a, b) + " is larger than " + Math.min(a, b) + ".";
            default -> {
                Problem p = Tasks.generate("chat", r);
                yield "User: " + p.question() + "\nAssistant: " + p.answer();
            }
        };
    }

    private static String randomDigits(SplittableRandom r, int n) {
        StringBuilder sb = new StringBuilder(n);
        for (int i = 0; i < n; i++) sb.append((char) ('0' + r.nextInt(10)));
        return sb.toString();
    }

    /**
     * Documents that cover every character and word the data uses, as the tokenizer will see them, for
     * training the vocabulary. The seed is fixed: every model trained by the project shares one tokenizer.
     */
    public static List<String> tokenizerText() {
        List<String> out = new ArrayList<>();
        SplittableRandom r = new SplittableRandom(20250521);
        DataMix mix = new DataMix(null, Set.of());
        for (int i = 0; i < 2000; i++) {
            out.add(mix.general(r));
            out.add(mix.reasoning(r));
            StringBuilder sb = new StringBuilder();
            for (ChatFormat.Part p : mix.chat(r)) sb.append(p.text());
            out.add(sb.toString());
        }
        List<String> small = new ArrayList<>();
        Smalltalk.texts(small::add);
        for (int i = 0; i < 20; i++) out.addAll(small);
        return out;
    }
}
