package moge.train.eval;

import moge.train.data.ChatFormat;
import moge.train.data.HeldOut;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class HeldOutEvalTest {
    @Test
    void answerIsTheTextAfterTheLastThinkEnd() {
        assertThat(HeldOutEval.answer("[unused16]8+6+0=14[unused17] 7324")).isEqualTo("7324");
        assertThat(HeldOutEval.answer("[unused16][unused17]42")).isEqualTo("42");
        assertThat(HeldOutEval.answer("42")).isEqualTo("42");
        assertThat(HeldOutEval.answer("[unused16]still thinking")).isEqualTo("[unused16]still thinking");
        assertThat(HeldOutEval.thought("[unused16]work[unused17]1")).isTrue();
        assertThat(HeldOutEval.thought("[unused16][unused17]1")).isFalse();
        assertThat(HeldOutEval.thought("[unused16]  [unused17]1")).isFalse();
        assertThat(HeldOutEval.thought("1")).isFalse();
        assertThat(HeldOutEval.thought("[unused16]never closed")).isTrue();
    }

    @Test
    void tableCountsPerModeAndClass() {
        HeldOut.Item a = new HeldOut.Item("a", "add_small", "easy", "1+1=?", "2"), b = new HeldOut.Item("b", "mul", "hard", "2*3=?", "6");
        List<HeldOutEval.Output> outs = List.of(
                new HeldOutEval.Output(a, ChatFormat.Mode.SLOW, new int[3], new int[10], "", "2", true, true),
                new HeldOutEval.Output(b, ChatFormat.Mode.SLOW, new int[3], new int[20], "", "5", false, true),
                new HeldOutEval.Output(a, ChatFormat.Mode.FAST, new int[3], new int[4], "", "2", true, false));
        List<HeldOutEval.Cell> cells = HeldOutEval.table(outs);
        HeldOutEval.Cell slowAll = cells.stream().filter(c -> c.mode() == ChatFormat.Mode.SLOW && c.cls().equals("all")).findFirst().orElseThrow();
        assertThat(slowAll.n()).isEqualTo(2);
        assertThat(slowAll.accuracy()).isEqualTo(0.5);
        assertThat(slowAll.meanTokens()).isEqualTo(15);
        assertThat(HeldOutEval.markdown(cells)).contains("| add_small | 100.0% (10) | 100.0% (4) |").contains("| mul | 0.0% (20) |");
    }
}
