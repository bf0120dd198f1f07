package moge.constrain;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.charset.StandardCharsets;
import java.util.Random;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class GrammarMatcherTest {
    private static final String ALPHABET = "abcxyz019,\"()é中😀\n";

    static boolean accepts(GrammarMatcher m, String text) {
        Object s = m.next(m.start(), text.getBytes(StandardCharsets.UTF_8));
        return s != null && m.accepting(s);
    }

    static boolean viable(GrammarMatcher m, String text) {
        return m.next(m.start(), text.getBytes(StandardCharsets.UTF_8)) != null;
    }

    /**
     * Grammars against the regular expression they should equal, on random strings: the whole string is accepted
     * exactly when the expression matches; a prefix the matcher keeps can be completed (some extension of up to 2
     * characters matches; every grammar here completes any viable prefix within 2), and one it drops cannot.
     */
    @ParameterizedTest
    @CsvSource(delimiterString = " => ", quoteCharacter = '\'', value = {
            "root ::= [a-c]+ (\"x\" | \"yz\")? => [a-c]+(x|yz)?",
            "root ::= (\"ab\" | \"a\") \"b\"* \"c\"{1,3} => (ab|a)b*c{1,3}",
            "root ::= [^a]{2} \"é\"? => [^a]{2}é?",
            "root ::= \"a\"? . \"b\" => a?.b",
            "root ::= \"a\"{,2} \"b\"{2,} => a{0,2}b{2,}",
            "root ::= item (\",\" item)* ;; item ::= [0-9]+ | \"\\\"\" [a-z]* \"\\\"\" => ([0-9]+|\"[a-z]*\")(,([0-9]+|\"[a-z]*\"))*",
            "root ::= ([x-z] | \"中\" | \"😀\")* \"\\n\"? => ([x-z]|中|😀)*\\n?",
            "root ::= (\"(\" [abc]? \")\"){1,3} => (\\([abc]?\\)){1,3}",
    })
    void matchesItsRegularExpression(String gbnf, String regex) {
        GrammarMatcher m = GrammarMatcher.parse(gbnf.replace(" ;; ", "\n").strip());
        Pattern p = Pattern.compile(regex.strip().replace("\\\\n", "\n"), Pattern.DOTALL);
        Random rnd = new Random(gbnf.hashCode());
        int kept = 0, accepted = 0;
        for (int i = 0; i < 1200; i++) {
            String s = randomText(rnd, rnd.nextInt(7), m, i);
            boolean acc = accepts(m, s);
            assertThat(acc).as("'%s' accepted", s).isEqualTo(p.matcher(s).matches());
            boolean v = viable(m, s);
            assertThat(v).as("'%s' kept iff some short extension matches", s).isEqualTo(extendable(p, s, 2));
            if (v) kept++;
            if (acc) accepted++;
        }
        assertThat(kept).as("the random texts reach kept prefixes").isGreaterThan(60);
        assertThat(accepted).as("and accepted ones").isGreaterThan(10);
    }

    /**
     * Random characters of the alphabet, or (every other time) characters the matcher keeps, so that long kept
     * and accepted texts are common (the assertions judge them by the regular expression alone).
     */
    private static String randomText(Random rnd, int len, GrammarMatcher m, int i) {
        StringBuilder b = new StringBuilder();
        for (int k = 0; k < len; k++) b.appendCodePoint(ALPHABET.codePointAt(ALPHABET.offsetByCodePoints(0, rnd.nextInt(ALPHABET.codePointCount(0, ALPHABET.length())))));
        if (i % 2 == 0) {
            StringBuilder g = new StringBuilder();
            for (int k = 0; k < 4 * len + 4; k++) {
                String c = pick(rnd);
                if (viable(m, g + c)) g.append(c);
            }
            return g.toString();
        }
        return b.toString();
    }

    private static String pick(Random rnd) {
        int n = ALPHABET.codePointCount(0, ALPHABET.length());
        return new String(Character.toChars(ALPHABET.codePointAt(ALPHABET.offsetByCodePoints(0, rnd.nextInt(n)))));
    }

    private static boolean extendable(Pattern p, String s, int depth) {
        if (p.matcher(s).matches()) return true;
        for (int i = 0; depth > 0 && i < ALPHABET.length(); ) {
            int cp = ALPHABET.codePointAt(i);
            i += Character.charCount(cp);
            if (extendable(p, s + new String(Character.toChars(cp)), depth - 1)) return true;
        }
        return false;
    }

    @Test
    void nestingBeyondARegularLanguage() {
        GrammarMatcher m = GrammarMatcher.parse("root ::= (\"(\" root \")\")*");
        assertThat(accepts(m, "")).isTrue();
        assertThat(accepts(m, "(()(()))()")).isTrue();
        assertThat(accepts(m, "(()")).isFalse();
        assertThat(viable(m, "((((((((")).isTrue();
        assertThat(viable(m, "())")).isFalse();
    }

    @Test
    void judgesAByteInsideACharacter() {
        GrammarMatcher m = GrammarMatcher.parse("root ::= [é-ë] \"!\"");
        byte[] e = "é".getBytes(StandardCharsets.UTF_8);
        Object half = m.next(m.start(), e[0]);
        assertThat(half).as("0xC3 may still become é").isNotNull();
        assertThat(m.accepting(half)).isFalse();
        assertThat(m.next(m.start(), "中".getBytes(StandardCharsets.UTF_8)[0])).as("0xE4 never becomes é..ë").isNull();
        assertThat(m.next(half, 0xAA)).as("0xC3 0xAA is ê").isNotNull();
        assertThat(m.next(half, 0xA8)).as("0xC3 0xA8 is è, outside").isNull();
        assertThat(m.next(m.start(), 0x80)).as("a stray continuation byte").isNull();
        assertThat(m.next(m.start(), 0xC0)).as("an overlong lead").isNull();
        assertThat(accepts(m, "ê!")).isTrue();
    }

    @Test
    void readsAJsonGrammarWithCommentsAndLineBreaks() {
        String gbnf = """
                # JSON values, with the usual structure
                root   ::= object
                value  ::= object | array | string | number | ("true" | "false" | "null") ws
                object ::=
                  "{" ws (
                    string ":" ws value
                    ("," ws string ":" ws value)*
                  )? "}" ws
                array  ::= "[" ws ( value ("," ws value)* )? "]" ws
                string ::= "\\"" ( [^"\\\\\\x7F\\x00-\\x1F] | "\\\\" (["\\\\/bfnrt] | "u" [0-9a-fA-F]{4}) )* "\\"" ws
                number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [0-9]?)? ws
                ws ::= | " " | "\\n" [ \\t]{0,20}   # bounded white space
                """;
        GrammarMatcher m = GrammarMatcher.parse(gbnf);
        assertThat(accepts(m, "{\"a\": [1, -2.5e3, \"x\\u00e9\", true, null], \"b\": {}}")).isTrue();
        assertThat(accepts(m, "{\"a\" 1}")).isFalse();
        assertThat(accepts(m, "[1]")).as("root is an object").isFalse();
        assertThat(viable(m, "{\"a\": tr")).isTrue();
        assertThat(viable(m, "{\"a\": tx")).isFalse();
    }

    @Test
    void refusesMalformedGrammarsNamingThePlace() {
        assertThatThrownBy(() -> GbnfParser.parse("root ::= item\n")).hasMessageContaining("line 1, column 10").hasMessageContaining("undefined rule 'item'");
        assertThatThrownBy(() -> GbnfParser.parse("item ::= \"a\"\n")).hasMessageContaining("no 'root' rule");
        assertThatThrownBy(() -> GbnfParser.parse("root ::= root \"a\" | \"a\"")).hasMessageContaining("'root' is left-recursive");
        assertThatThrownBy(() -> GbnfParser.parse("root ::= a\na ::= b? root\nb ::= \"x\"")).hasMessageContaining("left-recursive");
        assertThatThrownBy(() -> GbnfParser.parse("root ::= \"abc")).hasMessageContaining("unterminated string");
        assertThatThrownBy(() -> GbnfParser.parse("root ::= \"\\q\"")).hasMessageContaining("line 1, column 11").hasMessageContaining("unknown escape");
        assertThatThrownBy(() -> GbnfParser.parse("root ::= \"a\"{3,1}")).hasMessageContaining("below the minimum");
        assertThatThrownBy(() -> GbnfParser.parse("root ::= [z-a]")).hasMessageContaining("out of order");
        assertThatThrownBy(() -> GbnfParser.parse("root ::= \"a\"\nroot ::= \"b\"")).hasMessageContaining("line 2").hasMessageContaining("defined twice");
        assertThatThrownBy(() -> GbnfParser.parse("root ::= \"a\" )")).hasMessageContaining("end of the line");
        assertThatThrownBy(() -> GbnfParser.parse("root = \"a\"")).hasMessageContaining("'::='");
        assertThatThrownBy(() -> GbnfParser.parse("root ::= * \"a\"")).hasMessageContaining("must follow an item");
        assertThatThrownBy(() -> GbnfParser.parse("root ::= \"a\"{99999}")).hasMessageContaining("too large");
    }

    @Test
    void equalStatesAreEqualKeys() {
        GrammarMatcher m = GrammarMatcher.parse("root ::= [a-z]* \".\"");
        Object a = m.next(m.start(), "ab".getBytes(StandardCharsets.UTF_8));
        Object b = m.next(m.start(), "xyz".getBytes(StandardCharsets.UTF_8));
        assertThat(a).as("a repetition returns to the same state: the mask cache hits").isEqualTo(b).hasSameHashCodeAs(b);
    }
}
