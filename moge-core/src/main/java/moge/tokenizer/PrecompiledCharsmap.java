package moge.tokenizer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * SentencePiece's compiled normalization rules ({@code NormalizerSpec.precompiled_charsmap}, e.g. for nmt_nfkc):
 * a little-endian uint32 trie size, a darts-clone double-array trie over UTF-8 bytes, then NUL-terminated
 * replacement strings that the trie values point into. Identity models (openPangu, Llama) have none; this is
 * here so a model that does have rules is normalized as SentencePiece would instead of silently differing.
 */
final class PrecompiledCharsmap {
    private final int[] units;
    private final byte[] replacements;

    private PrecompiledCharsmap(int[] units, byte[] replacements) {
        this.units = units;
        this.replacements = replacements;
    }

    /** Null for an empty blob; {@link IllegalArgumentException} with a reason for a broken one. */
    static PrecompiledCharsmap parse(byte[] blob) {
        if (blob == null || blob.length == 0) return null;
        if (blob.length <= 4) throw new IllegalArgumentException("precompiled_charsmap is truncated");
        ByteBuffer bb = ByteBuffer.wrap(blob).order(ByteOrder.LITTLE_ENDIAN);
        long trieBytes = bb.getInt() & 0xffffffffL;
        if (trieBytes >= blob.length - 4L || trieBytes % 4 != 0 || trieBytes == 0) {
            throw new IllegalArgumentException("precompiled_charsmap trie size " + trieBytes + " does not fit its " + blob.length + " bytes");
        }
        int[] units = new int[(int) (trieBytes / 4)];
        for (int i = 0; i < units.length; i++) units[i] = bb.getInt();
        byte[] rest = new byte[bb.remaining()];
        bb.get(rest);
        return new PrecompiledCharsmap(units, rest);
    }

    /** A rule's replacement and how many chars of the input it covers. */
    record Match(String replacement, int consumedChars) {
    }

    /** The longest rule whose key starts at {@code text[pos]}, or null; keys end on code point boundaries. */
    Match longestMatch(String text, int pos) {
        int node = offset(units[0]);
        int bestValue = -1;
        int bestChars = 0;
        byte[] utf8 = new byte[4];
        int i = pos;
        while (i < text.length()) {
            int cp = text.codePointAt(i);
            int n = encode(cp, utf8);
            boolean leafAtEnd = false;
            int leafValue = -1;
            for (int k = 0; k < n; k++) {
                int label = utf8[k] & 0xff;
                node ^= label;
                if (node < 0 || node >= units.length) return result(bestValue, bestChars);
                int unit = units[node];
                if ((unit & (0x80000000 | 0xff)) != label) return result(bestValue, bestChars);
                node ^= offset(unit);
                if (node < 0 || node >= units.length) return result(bestValue, bestChars);
                if (((unit >>> 8) & 1) == 1) {
                    leafAtEnd = k == n - 1;
                    if (leafAtEnd) leafValue = units[node] & 0x7fffffff;
                }
            }
            i += Character.charCount(cp);
            if (leafAtEnd) {
                bestValue = leafValue;
                bestChars = i - pos;
            }
        }
        return result(bestValue, bestChars);
    }

    private Match result(int value, int chars) {
        if (value < 0 || value >= replacements.length) return null;
        int end = value;
        while (end < replacements.length && replacements[end] != 0) end++;
        return new Match(new String(replacements, value, end - value, StandardCharsets.UTF_8), chars);
    }

    private static int offset(int unit) {
        return (unit >>> 10) << ((unit & (1 << 9)) >>> 6);
    }

    private static int encode(int cp, byte[] out) {
        if (cp < 0x80) {
            out[0] = (byte) cp;
            return 1;
        }
        if (cp < 0x800) {
            out[0] = (byte) (0xC0 | cp >> 6);
            out[1] = (byte) (0x80 | cp & 0x3F);
            return 2;
        }
        if (cp < 0x10000) {
            // a lone surrogate cannot be UTF-8; U+FFFD is what the normalizer substitutes anyway
            if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
            out[0] = (byte) (0xE0 | cp >> 12);
            out[1] = (byte) (0x80 | (cp >> 6) & 0x3F);
            out[2] = (byte) (0x80 | cp & 0x3F);
            return 3;
        }
        out[0] = (byte) (0xF0 | cp >> 18);
        out[1] = (byte) (0x80 | (cp >> 12) & 0x3F);
        out[2] = (byte) (0x80 | (cp >> 6) & 0x3F);
        out[3] = (byte) (0x80 | cp & 0x3F);
        return 4;
    }
}
