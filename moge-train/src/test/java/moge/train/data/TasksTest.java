package moge.train.data;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** The working shown in slow answers is correct arithmetic, step by step, and ends at the answer. */
class TasksTest {
    /** Replays a working: every step's arithmetic is right and each state follows from the line before. */
    private static void checkWorking(Problem p) {
        String[] lines = p.working().split("\n");
        String op = p.key().split(":")[0];
        String sym = op.equals("add") ? "+" : op.equals("sub") ? "-" : "*";
        String state = lines[0];
        int width = Tasks.WIDTH;
        for (int i = 1; i < lines.length; i++) {
            assertThat(lines[i].length()).as("fixed line length").isEqualTo(lines[1].length());
            String[] parts = lines[i].split(":", 2);
            String step = parts[0], next = parts[1];
            String a = state.substring(0, width);
            String b = op.equals("mul") ? state.substring(width + 1, width + 2) : state.substring(width + 1, 2 * width + 1);
            int flag = state.charAt(state.indexOf(',') + 2) - '0';
            String r = state.substring(state.lastIndexOf(",r") + 2);
            int da = a.charAt(width - 1) - '0', db = b.charAt(b.length() - 1) - '0';
            int two = switch (op) {
                case "add" -> da + db + flag;
                case "sub" -> da - db - flag < 0 ? 10 + da - db - flag + 10 : da - db - flag;
                default -> da * Integer.parseInt(b) + flag;
            };
            String expectStep = op.equals("mul") ? da + "*" + b + "+" + flag + "=" + String.format("%02d", two)
                    : da + sym + db + sym + flag + "=" + String.format("%02d", two);
            assertThat(step).isEqualTo(expectStep);
            String na = "0" + a.substring(0, width - 1), nb = op.equals("mul") ? b : "0" + b.substring(0, width - 1);
            String nr = (two % 10) + r.substring(0, width - 1);
            String flagName = op.equals("sub") ? "b" : "c";
            assertThat(next).isEqualTo(na + sym + nb + "," + flagName + (two / 10) + ",r" + nr);
            state = next;
        }
        String result = state.substring(state.lastIndexOf(",r") + 2).replace("_", "");
        String stripped = result.replaceFirst("^0+(?=.)", "");
        assertThat(stripped).as(p.working()).isEqualTo(p.answer());
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
                04738+02586,c0,r_____
                8+6+0=14:00473+00258,c1,r4____
                3+8+1=12:00047+00025,c1,r24___
                7+5+1=13:00004+00002,c1,r324__
                4+2+1=07:00000+00000,c0,r7324_
                0+0+0=00:00000+00000,c0,r07324""");
        assertThat(p.answer()).isEqualTo("7324");
        Problem m = Tasks.mul("mul", "hard", 347, 8, new SplittableRandom(1));
        assertThat(m.working()).endsWith("3*8+3=27:00000*8,c2,r776__\n0*8+2=02:00000*8,c0,r2776_\n0*8+0=00:00000*8,c0,r02776");
        assertThat(m.answer()).isEqualTo("2776");
        Problem s = Tasks.sub("sub", "hard", 1000, 999, new SplittableRandom(1));
        assertThat(s.answer()).isEqualTo("1");
        assertThat(s.working()).contains("0-9-0=11:00100-00099,b1,r1____");
    }

    @Test
    void everyWorkingWalksAllColumnsSoEasyProblemsCostAsMuchThinkingAsHardOnes() {
        SplittableRandom r = new SplittableRandom(3);
        for (String cls : Tasks.CLASSES) {
            Problem p = Tasks.generate(cls, r);
            assertThat(p.working().split("\n")).as(cls).hasSize(Tasks.WIDTH + 1);
            assertThat(p.easy()).as(cls).isEqualTo(cls.equals("identity"));
        }
        SplittableRandom q = new SplittableRandom(4);
        for (int i = 0; i < 200; i++) {
            Problem p = Tasks.generate("identity", q);
            String[] k = p.key().split(":");
            assertThat(p.answer()).as(p.key()).isIn("0", k[1], k[2]);
        }
    }

    @Test
    void modesFollowTheProtocol() {
        SplittableRandom r = new SplittableRandom(2);
        Problem easy = Tasks.generate("identity", r), hard = Tasks.generate("add_big", r);
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
        assertThat(a).hasSize(400);
        assertThat(a.stream().filter(Problem::easy)).hasSize(200);
        assertThat(a.stream().filter(p -> p.cls().equals("identity"))).hasSize(200);
        Set<String> keys = HeldOut.keys(a);
        assertThat(keys).hasSize(400);
        DataMix mix = new DataMix(null, keys);
        SplittableRandom r = new SplittableRandom(9);
        for (String cls : Tasks.CLASSES) {
            for (int i = 0; i < 3000; i++) assertThat(keys).doesNotContain(mix.problem(cls, r).key());
        }
        // nor do the plain-text facts state a held-out problem's answer ("12+45=57", "the sum of 12 and 45 is 57")
        java.util.regex.Pattern fact = java.util.regex.Pattern.compile("(\\d+)(\\+|-|\\*| 加 | 减 | 乘 | plus | minus | times )(\\d+)(=| is | 等于 )\\d");
        int seen = 0;
        for (int i = 0; i < 3000; i++) {
            var m = fact.matcher(mix.general(r));
            while (m.find()) {
                String op = switch (m.group(2).trim()) {
                    case "+", "加", "plus" -> "add";
                    case "-", "减", "minus" -> "sub";
                    default -> "mul";
                };
                assertThat(keys).doesNotContain(op + ":" + m.group(1) + ":" + m.group(3));
                seen++;
            }
        }
        assertThat(seen).isGreaterThan(3_000);
    }
}
