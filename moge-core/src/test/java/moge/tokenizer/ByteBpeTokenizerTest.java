package moge.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import moge.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.zip.GZIPInputStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Byte-level BPE on the vocabulary of the shared peer benchmark files (32000 tokens, 31741 merges), pinned
 * to llama.cpp's tokenization of those files (testdata/gguf/peer-bpe-expected.json, recorded with
 * scripts/gguf-oracle/tokenize.mjs), plus round trips, streaming and special-token splitting.
 */
class ByteBpeTokenizerTest {
    private static final Path DIR = Fixtures.ROOT.resolveSibling("gguf");

    /** The vocabulary exactly as shared/peer/make_gguf.py builds it from its cached merges. */
    static ByteBpeTokenizer peer(String pre) {
        JsonNode tok;
        try (InputStream in = new GZIPInputStream(Files.newInputStream(DIR.resolve("peer-bpe-tokenizer.json.gz")))) {
            tok = new ObjectMapper().readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        int vocab = 32000;
        String[] specials = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
        List<String> tokens = new ArrayList<>();
        tok.get("base").forEach(n -> tokens.add(n.asText()));
        Set<String> seen = new HashSet<>(tokens);
        List<String> merges = new ArrayList<>();
        tok.get("merges").forEach(n -> merges.add(n.asText()));
        for (String m : merges) {
            String joined = m.replaceFirst(" ", "");
            if (seen.add(joined)) tokens.add(joined);
        }
        int normal = vocab - specials.length;
        while (tokens.size() > normal) tokens.remove(tokens.size() - 1);
        List<Integer> types = new ArrayList<>();
        for (int i = 0; i < tokens.size(); i++) types.add(ByteBpeTokenizer.NORMAL);
        for (int k = 0; tokens.size() < normal; k++) {
            tokens.add("<|pad_" + k + "|>");
            types.add(ByteBpeTokenizer.UNUSED);
        }
        Set<String> in = new LinkedHashSet<>(tokens);
        List<String> kept = merges.stream().filter(m -> in.contains(m.replaceFirst(" ", ""))).toList();
        int eot = tokens.size();
        for (String s : specials) {
            tokens.add(s);
            types.add(ByteBpeTokenizer.CONTROL);
        }
        return new ByteBpeTokenizer(tokens.toArray(new String[0]), types.stream().mapToInt(Integer::intValue).toArray(),
                kept.toArray(new String[0]), BpePreTokenizer.forName(pre), new SpecialTokens(eot, eot, eot, -1, false));
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen2", "llama-bpe"})
    void matchesLlamaCppOnThePeerVocabulary(String pre) {
        ByteBpeTokenizer t = peer(pre);
        JsonNode cases = Fixtures.read(DIR.resolve("peer-bpe-expected.json")).get(pre);
        assertThat(cases.size()).isGreaterThan(40);
        for (JsonNode c : cases) {
            String text = c.get("text").asText();
            assertThat(t.encode(text)).as(pre + ": " + text).containsExactly(Fixtures.ints(c.get("ids")));
        }
    }

    @Test
    void randomUnicodeRoundTripsAndStreams() {
        ByteBpeTokenizer t = peer("qwen2");
        SplittableRandom r = new SplittableRandom(9);
        int[][] ranges = {{0x20, 0x7E}, {0x09, 0x0D}, {0xA0, 0x17F}, {0x300, 0x36F}, {0x400, 0x4FF}, {0x600, 0x6FF},
                {0x900, 0x97F}, {0x3000, 0x303F}, {0x4E00, 0x4FFF}, {0xAC00, 0xAD00}, {0x1F300, 0x1F64F}, {0x1D400, 0x1D4FF}};
        for (int n = 0; n < 300; n++) {
            StringBuilder sb = new StringBuilder();
            int len = r.nextInt(40);
            for (int i = 0; i < len; i++) {
                if (r.nextInt(12) == 0) {
                    sb.append(new String[]{"<|im_end|>", "<|endoftext|>", " ", "  ", "\n", "'s", "'LL"}[r.nextInt(7)]);
                    continue;
                }
                int[] rg = ranges[r.nextInt(ranges.length)];
                sb.appendCodePoint(rg[0] + r.nextInt(rg[1] - rg[0] + 1));
            }
            String s = sb.toString();
            int[] ids = t.encode(s);
            assertThat(t.decode(ids)).as("round trip of %s", s).isEqualTo(s);
            StreamDecoder sd = t.newStreamDecoder();
            StringBuilder streamed = new StringBuilder();
            for (int id : ids) {
                String piece = sd.push(id);
                assertThat(piece).doesNotContain("\uFFFD");
                streamed.append(piece);
            }
            streamed.append(sd.flush());
            assertThat(streamed.toString()).isEqualTo(s);
        }
    }

    @Test
    void specialTokensAreAtomicLeftmostLongest() {
        String[] tokens = new String[256 + 3];
        int[] types = new int[tokens.length];
        for (int b = 0; b < 256; b++) {
            tokens[b] = String.valueOf(ByteLevel.charOf(b));
            types[b] = ByteBpeTokenizer.NORMAL;
        }
        tokens[256] = "<a>";
        tokens[257] = "<a><b>";
        tokens[258] = "x";  // a user-defined duplicate of a byte token: matched atomically as well
        types[256] = ByteBpeTokenizer.CONTROL;
        types[257] = ByteBpeTokenizer.CONTROL;
        types[258] = ByteBpeTokenizer.USER_DEFINED;
        ByteBpeTokenizer t = new ByteBpeTokenizer(tokens, types, new String[0], BpePreTokenizer.forName("qwen2"),
                new SpecialTokens(-1, -1, -1, -1, false));
        assertThat(t.encode("<a><b><a>y")).containsExactly(257, 256, 'y');
        assertThat(t.encode("zx<a")).containsExactly('z', 258, '<', 'a');
        assertThat(t.decode(new int[]{257, 'y'})).isEqualTo("<a><b>y");
        assertThat(t.tokenId("<a>")).hasValue(256);
    }

    @Test
    void longWordsMergeQuickly() {
        ByteBpeTokenizer t = peer("qwen2");
        String s = "abcdefghij".repeat(20_000);
        long t0 = System.nanoTime();
        int[] ids = t.encode(s);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertThat(t.decode(ids)).isEqualTo(s);
        assertThat(ids.length).isLessThan(s.length() / 2);
        assertThat(ms).as("200k-character word").isLessThan(5_000);
    }

    @Test
    void incompleteUtf8IsHeldBack() {
        assertThat(Utf8StreamDecoder.completePrefix(new byte[]{'a', (byte) 0xE4, (byte) 0xB8})).isEqualTo(1);
        assertThat(Utf8StreamDecoder.completePrefix(new byte[]{'a', (byte) 0xE4, (byte) 0xB8, (byte) 0xAD})).isEqualTo(4);
        assertThat(Utf8StreamDecoder.completePrefix(new byte[]{(byte) 0xF0, (byte) 0x9F, (byte) 0x98})).isZero();
        assertThat(Utf8StreamDecoder.completePrefix(new byte[]{(byte) 0x80})).isEqualTo(1);
    }
}
