package moge.train.data;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** The working shown in slow answers is correct arithmetic, step by step, and ends at the answer. */
class TasksTest {
    /** Replays a working: every line's sum is right and its state follows from the line before. */
    private static void checkWorking(Problem p) {
        String[] lines = p.working().split("\n");
        String op = p.key().split(":")[0];
        String state = lines[0];
        for (int i = 1; i < lines.length; i++) {
            String[] parts = lines[i].split(":", 2);
            String step = parts[0], next = parts[1];
            String[] prev = state.split(",");
            String[] operands = prev[0].split(op.equals("add") ? "\\+" : op.equals("sub") ? "-" : "\\*", -1);
            int carry = prev[1].charAt(1) - '0';
            String a = operands[0], b = operands[1];
            int da = a.isEmpty() ? 0 : a.charAt(a.length() - 1) - '0';
            int db = b.isEmpty() ? 0 : b.charAt(b.length() - 1) - '0';
            switch (op) {
                case "add" -> assertThat(step).isEqualTo(da + "+" + db + "+" + carry + "=" + (da + db + carry));
                case "sub" -> assertThat(step).isEqualTo(da + "-" + db + "-" + carry + "=" + (da - db - carry));
                default -> {
                    int d = Integer.parseInt(b);
                    assertThat(step).isEqualTo(da + "*" + d + "=" + da * d + "+" + carry + "=" + (da * d + carry));
                }
            }
            state = next;
        }
        String result = state.substring(state.lastIndexOf(",r") + 2);
        String stripped = result.replaceFirst("^0+(?=.)", "");
        assertThat(stripped).as(p.working()).isEqualTo(p.answer());
        assertThat(state).startsWith(op.equals("mul") ? "*" : op.equals("add") ? "+," : "-,");
    }

    @Test
    void workingsAreCorrectForEveryClass() {
        SplittableRandom r = new SplittableRandom(5);
        for (String cls : Tasks.CLASSES) {
            for (int i = 0; i < 500; i++) {
                Problem p = Tasks.generate(cls, r);
                checkWorking(p);
                long expected = switch (p.key().split(":")[0]) {
                    case "add" -> Long.parseLong(p.key().split(":")[1]) + Long.parseLong(p.key().split(":")[2]);
                    case "sub" -> Long.parseLong(p.key().split(":")[1]) - Long.parseLong(p.key().split(":")[2]);
                    default -> Long.parseLong(p.key().split(":")[1]) * Long.parseLong(p.key().split(":")[2]);
                };
                assertThat(p.answer()).isEqualTo(Long.toString(expected));
                assertThat(expected).isNotNegative();
            }
        }
    }

    @Test
    void knownExample() {
        Problem p = Tasks.add("add_big", "hard", 4738, 2586, new SplittableRandom(1));
        assertThat(p.working()).isEqualTo("""
                4738+2586,c0,r
                8+6+0=14:473+258,c1,r4
                3+8+1=12:47+25,c1,r24
                7+5+1=13:4+2,c1,r324
                4+2+1=7:+,c0,r7324""");
        assertThat(p.answer()).isEqualTo("7324");
        Problem m = Tasks.mul("mul", 347, 8, new SplittableRandom(1));
        assertThat(m.working()).endsWith("3*8=24+3=27:*8,c2,r776\n0*8=0+2=2:*8,c0,r2776");
        Problem s = Tasks.sub("sub", 1000, 999, new SplittableRandom(1));
        assertThat(s.answer()).isEqualTo("1");
        assertThat(s.working()).contains("0-9-0=-9:100-99,b1,r1");
    }

    @Test
    void modesFollowTheProtocol() {
        SplittableRandom r = new SplittableRandom(2);
        Problem easy = Tasks.generate("add_small", r), hard = Tasks.generate("add_big", r);
        assertThat(ChatFormat.assistant(hard, ChatFormat.Mode.SLOW)).isEqualTo("[unused16]" + hard.working() + "[unused17]" + hard.answer());
        assertThat(ChatFormat.assistant(hard, ChatFormat.Mode.FAST)).isEqualTo("[unused16][unused17]" + hard.answer());
        assertThat(ChatFormat.assistant(easy, ChatFormat.Mode.SLOW)).contains(easy.working());
        assertThat(ChatFormat.assistant(easy, ChatFormat.Mode.AUTO)).isEqualTo("[unused16][unused17]" + easy.answer());
        assertThat(ChatFormat.assistant(hard, ChatFormat.Mode.AUTO)).isEqualTo(ChatFormat.assistant(hard, ChatFormat.Mode.SLOW));
        var parts = ChatFormat.conversation(null, List.of(hard), List.of(ChatFormat.Mode.FAST), true);
        assertThat(parts.get(0).text()).isEqualTo("[unused9]系统：[unused10][unused9]用户：" + hard.question() + " /no_think[unused10][unused9]助手：");
        assertThat(parts.get(1).text()).endsWith("[unused10]");
        assertThat(parts.get(1).trainable()).isTrue();
    }

    @Test
    void heldOutProblemsAreFixedDistinctAndNeverTrainedOn() {
        List<Problem> a = HeldOut.problems(50), b = HeldOut.problems(50);
        assertThat(a).isEqualTo(b);
        assertThat(a).hasSize(200);
        Set<String> keys = HeldOut.keys(a);
        assertThat(keys).hasSize(200);
        DataMix mix = new DataMix(null, keys);
        SplittableRandom r = new SplittableRandom(9);
        for (String cls : Tasks.CLASSES) {
            for (int i = 0; i < 3000; i++) assertThat(keys).doesNotContain(mix.problem(cls, r).key());
        }
    }
}
