package moge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** llama.cpp's -l/--logit-bias ID(+|-)BIAS on the commands that sample: bans, boosts, and one line for a bad value. */
class LogitBiasCliTest {
    static final String MODEL = BadInputTest.FIX.resolve("pangu-embedded-tiny").toString();

    private static CliRunner generate(String... extra) {
        List<String> args = new ArrayList<>(List.of("generate", "--model", MODEL, "--prompt-ids", "1,14,1161", "-n", "6", "--ignore-eos", "--json"));
        args.addAll(List.of(extra));
        return CliRunner.run(args.toArray(String[]::new));
    }

    private static int[] ids(CliRunner r) throws Exception {
        assertThat(r.exit()).as(r.err()).isZero();
        JsonNode j = new ObjectMapper().readTree(r.out());
        int[] out = new int[j.get("generated_ids").size()];
        for (int i = 0; i < out.length; i++) out[i] = j.get("generated_ids").get(i).asInt();
        return out;
    }

    @Test
    void aBanKeepsGreedyOffItsChoiceAndABoostForcesAToken() throws Exception {
        int[] plain = ids(generate());
        int first = plain[0];
        for (String ban : new String[]{first + "-inf", first + "-100"}) {
            int[] banned = ids(generate("--logit-bias", ban));
            assertThat(banned).as(ban).doesNotContain(first).isNotEqualTo(plain);
        }
        // repeatable, with the short name; the boost wins even sampled
        int forced = plain[1] == 100 ? 101 : 100;
        assertThat(ids(generate("-l", first + "-inf", "-l", forced + "+100", "--temperature", "0.8"))).containsOnly(forced);
        // a small bias is just added: +0 changes nothing
        assertThat(ids(generate("-l", first + "+0"))).containsExactly(plain);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "15            | --logit-bias takes TOKEN_ID(+|-)BIAS such as 15043+1 or 15043-inf, got '15'",
            "15=-1         | --logit-bias takes TOKEN_ID(+|-)BIAS such as 15043+1 or 15043-inf, got '15=-1'",
            "15+-1         | --logit-bias takes TOKEN_ID(+|-)BIAS such as 15043+1 or 15043-inf, got '15+-1'",
            "hello+1       | --logit-bias takes TOKEN_ID(+|-)BIAS such as 15043+1 or 15043-inf, got 'hello+1'",
            "15+101        | --logit-bias of token 15 must be in [-100, 100], got 101.0",
            "15+inf        | --logit-bias of token 15 must be in [-100, 100], got Infinity",
            "999999-inf    | --logit-bias token ids must be in the vocabulary (0..",
    })
    void aBadValueIsOneLine(String value, String message) {
        for (String command : new String[]{"generate", "chat"}) {
            // chat checks it before reading the first message
            CliRunner r = command.equals("generate") ? generate("--logit-bias", value) : CliRunner.run("chat", "--model", MODEL, "-l", value);
            BadInputTest.assertOneLineError(r, message);
        }
    }

    @Test
    void theSameTokenTwiceIsRefused() {
        BadInputTest.assertOneLineError(generate("-l", "15+1", "-l", "15-1"), "--logit-bias names token 15 twice");
    }
}
