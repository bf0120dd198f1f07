package moge.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Compares against src/test/resources/tokenizer/sp-oracle.json, produced from the fixture tokenizer.model by the real
 * sentencepiece library (0.2.2) wrapped the way the slow HF PanguTokenizer wraps it: the text is split on the
 * added_tokens_decoder entries (leftmost, longest first; empty segments skipped), each segment goes through
 * {@code sp.encode}, and decoding calls {@code sp.decode} on every run of ids between added tokens, which are
 * emitted verbatim. The cases cover leading/trailing/repeated spaces, tabs and newlines (byte fallback), emoji and
 * CJK outside the vocabulary, special tokens with and without surrounding spaces, literal "▁", and 400 random
 * strings; the decode cases are random id sequences rich in byte pieces and special tokens.
 *
 * <p>rules-bpe-oracle.json does the same for rules-bpe.model, a tiny BPE model trained by sentencepiece with custom
 * normalization rules (so it has a precompiled charsmap: full-width A, the fi ligature, tab and ideographic space to
 * space, e + combining acute, "ABC" to "xy"), remove_extra_whitespaces=true, no byte fallback (runs of unknown
 * characters become one unk), user-defined symbols "&lt;tool&gt;" and "&lt;to" and a control symbol. There the whole
 * text goes through plain {@code sp.encode}, so the tokenizer is built without added tokens, which exercises
 * SentencePiece's own inline matching of user-defined symbols.
 */
class SentencePieceOracleTest {
    private static final JsonNode ORACLE = load("sp-oracle.json");
    private static final JsonNode RULES_ORACLE = load("rules-bpe-oracle.json");

    private static JsonNode load(String name) {
        try (InputStream in = SentencePieceOracleTest.class.getResourceAsStream("/tokenizer/" + name)) {
            return new ObjectMapper().readTree(in);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    static SentencePieceTokenizer rulesTokenizer() {
        byte[] bytes;
        try (InputStream in = SentencePieceOracleTest.class.getResourceAsStream("/tokenizer/rules-bpe.model")) {
            bytes = in.readAllBytes();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        SentencePieceModelFile m = SentencePieceModelFile.parse(bytes, "rules-bpe.model");
        SpecialTokens special = new SpecialTokens(m.bosId(), m.eosId(), m.padId(), m.unkId(), true);
        return new SentencePieceTokenizer(m.pieces(), m.scores(), m.types(), SentencePieceTokenizer.Settings.of(m),
                special, List.of(), null);
    }

    private static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) out[i] = array.get(i).asInt();
        return out;
    }

    @Test
    void encodesLikeSentencePiece() {
        assertThat(ORACLE.get("encode").size()).isGreaterThan(400);
        assertThat(encodeFailures(TokenizerFixtures.tokenizer(), ORACLE)).isEmpty();
    }

    @Test
    void decodesLikeSentencePiece() {
        assertThat(ORACLE.get("decode").size()).isGreaterThan(200);
        assertThat(decodeFailures(TokenizerFixtures.tokenizer(), ORACLE)).isEmpty();
    }

    @Test
    void rulesModelEncodesLikeSentencePiece() {
        SentencePieceTokenizer tok = rulesTokenizer();
        assertThat(tok.settings().removeExtraWhitespaces()).isTrue();
        assertThat(tok.settings().byteFallback()).isFalse();
        assertThat(tok.settings().precompiledCharsmap()).isNotEmpty();
        assertThat(encodeFailures(tok, RULES_ORACLE)).isEmpty();
    }

    @Test
    void rulesModelDecodesLikeSentencePiece() {
        assertThat(decodeFailures(rulesTokenizer(), RULES_ORACLE)).isEmpty();
    }

    private static List<String> encodeFailures(SentencePieceTokenizer tok, JsonNode oracle) {
        List<String> failures = new ArrayList<>();
        for (JsonNode c : oracle.get("encode")) {
            String text = c.get("text").asText();
            int[] want = ints(c.get("ids"));
            int[] got = tok.encode(text);
            if (!Arrays.equals(want, got)) {
                failures.add("encode " + quote(text) + ": want " + Arrays.toString(want) + " got " + Arrays.toString(got));
            }
        }
        return failures;
    }

    private static List<String> decodeFailures(SentencePieceTokenizer tok, JsonNode oracle) {
        List<String> failures = new ArrayList<>();
        List<JsonNode> cases = new ArrayList<>();
        oracle.get("encode").forEach(cases::add);
        oracle.get("decode").forEach(cases::add);
        for (JsonNode c : cases) {
            int[] ids = ints(c.get("ids"));
            String want = c.get("decoded").asText();
            String got = tok.decode(ids);
            if (!want.equals(got)) failures.add("decode " + Arrays.toString(ids) + ": want " + quote(want) + " got " + quote(got));
        }
        return failures;
    }

    private static String quote(String s) {
        StringBuilder sb = new StringBuilder("\"");
        s.codePoints().forEach(cp -> {
            if (cp < 0x20 || cp == 0x7f) sb.append("\\x%02x".formatted(cp));
            else sb.appendCodePoint(cp);
        });
        return sb.append('"').toString();
    }
}
