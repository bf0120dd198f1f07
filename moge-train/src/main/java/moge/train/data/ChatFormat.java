package moge.train.data;

import moge.tokenizer.Tokenizer;
import moge.train.vocab.Vocabulary;

import java.util.ArrayList;
import java.util.List;

/**
 * Problems as openPangu chat turns: {@code [unused9]系统：...[unused10][unused9]用户：{q}[unused10][unused9]助手：{a}[unused10]}
 * (the released chat template; an empty system turn when there is no system prompt). The thinking protocol:
 * <ul>
 * <li>slow (default, the user turn as is): {@code [unused16]working[unused17]answer}</li>
 * <li>fast (user turn ends with " /no_think"): {@code [unused16][unused17]answer} — an empty think block, so the
 * first generated token is always [unused16] and a thinking budget of 0 (closing the block at once) gives
 * exactly the fast form the model was trained on</li>
 * <li>auto (" /auto_think"): the fast form for easy problems, the slow form for hard ones</li>
 * </ul>
 */
public final class ChatFormat {
    public enum Mode {
        SLOW(""), FAST(" /no_think"), AUTO(" /auto_think");

        public final String suffix;

        Mode(String suffix) {
            this.suffix = suffix;
        }
    }

    /** One piece of a rendered conversation; trainable pieces are what the assistant says. */
    public record Part(String text, boolean trainable) {
    }

    private ChatFormat() {
    }

    public static boolean thinks(Problem p, Mode m) {
        return m == Mode.SLOW || (m == Mode.AUTO && !p.easy());
    }

    public static String assistant(Problem p, Mode m) {
        String think = thinks(p, m) ? p.working() : "";
        return Vocabulary.THINK_START + think + Vocabulary.THINK_END + p.answer();
    }

    /**
     * A conversation of one or more problems, each answered in the given mode. Earlier assistant turns are
     * given as a client would send them back: with the think block or, when {@code stripHistory}, just the answer.
     */
    public static List<Part> conversation(String system, List<Problem> problems, List<Mode> modes, boolean stripHistory) {
        List<Part> parts = new ArrayList<>();
        StringBuilder prompt = new StringBuilder();
        prompt.append(Vocabulary.TURN_START).append("系统：").append(system == null ? "" : system).append(Vocabulary.TURN_END);
        for (int i = 0; i < problems.size(); i++) {
            Problem p = problems.get(i);
            Mode m = modes.get(i);
            prompt.append(Vocabulary.TURN_START).append("用户：").append(p.question()).append(m.suffix).append(Vocabulary.TURN_END);
            prompt.append(Vocabulary.TURN_START).append("助手：");
            boolean last = i == problems.size() - 1;
            if (last) {
                parts.add(new Part(prompt.toString(), false));
                parts.add(new Part(assistant(p, m) + Vocabulary.TURN_END, true));
            } else {
                String content = stripHistory ? p.answer() : assistant(p, m);
                prompt.append(content).append(Vocabulary.TURN_END);
            }
        }
        return parts;
    }

    /** BOS, then each part encoded on its own; loss[j] marks tokens of trainable parts (token j is predicted). */
    public static Example encode(Tokenizer tok, List<Part> parts, boolean lossOnAll) {
        List<int[]> pieces = new ArrayList<>();
        int n = 1;
        for (Part p : parts) {
            int[] ids = tok.encode(p.text());
            pieces.add(ids);
            n += ids.length;
        }
        int[] tokens = new int[n];
        boolean[] loss = new boolean[n];
        tokens[0] = tok.special().bos();
        int o = 1;
        for (int i = 0; i < parts.size(); i++) {
            int[] ids = pieces.get(i);
            System.arraycopy(ids, 0, tokens, o, ids.length);
            for (int j = 0; j < ids.length; j++) loss[o + j] = lossOnAll || parts.get(i).trainable();
            o += ids.length;
        }
        return new Example(tokens, loss);
    }

    /** A token sequence and which of its tokens are predicted. */
    public record Example(int[] tokens, boolean[] loss) {
    }
}
