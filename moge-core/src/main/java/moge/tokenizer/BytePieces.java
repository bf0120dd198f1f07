package moge.tokenizer;

/**
 * Byte-fallback pieces ({@code <0xE4>}) and how SentencePiece turns a run of them back into text: each complete,
 * valid UTF-8 character is copied, every other byte becomes one U+FFFD. That is per byte, unlike Python's
 * {@code bytes.decode('utf-8', 'replace')}, which folds a truncated sequence into a single U+FFFD; the upstream
 * tokenizer decodes through SentencePiece, so we follow it.
 */
final class BytePieces {
    static final char REPLACEMENT = '\uFFFD';

    private BytePieces() {
    }

    /** The byte of a piece written {@code <0xXX>} (either hex case), or -1. */
    static int parse(String piece) {
        if (piece.length() != 6 || !piece.startsWith("<0x") || piece.charAt(5) != '>') return -1;
        int hi = Character.digit(piece.charAt(3), 16);
        int lo = Character.digit(piece.charAt(4), 16);
        return hi < 0 || lo < 0 ? -1 : hi << 4 | lo;
    }

    static String name(int b) {
        return "<0x%02X>".formatted(b);
    }

    /**
     * Decodes {@code buf[0, len)} into {@code out} and returns how many bytes were used. With {@code atEnd} false it
     * stops in front of a sequence that more bytes could still complete, so a stream never shows half a character;
     * with {@code atEnd} true everything is used. Either way the output equals what one pass over all bytes gives.
     */
    static int decode(byte[] buf, int len, boolean atEnd, StringBuilder out) {
        int off = 0;
        while (off < len) {
            int b0 = buf[off] & 0xff;
            int need = b0 < 0x80 ? 1 : (b0 & 0xE0) == 0xC0 ? 2 : (b0 & 0xF0) == 0xE0 ? 3 : (b0 & 0xF8) == 0xF0 ? 4 : 0;
            if (need == 0) {
                out.append(REPLACEMENT);
                off++;
                continue;
            }
            int have = Math.min(need, len - off);
            boolean trailsOk = true;
            for (int k = 1; k < have; k++) trailsOk &= isTrail(buf[off + k]);
            if (have < need) {
                // an incomplete sequence whose bytes so far are fine may still become valid: wait for more
                if (!atEnd && trailsOk) break;
                out.append(REPLACEMENT);
                off++;
                continue;
            }
            int cp = trailsOk ? codePoint(buf, off, need) : -1;
            if (cp >= 0) {
                out.appendCodePoint(cp);
                off += need;
            } else {
                out.append(REPLACEMENT);
                off++;
            }
        }
        return off;
    }

    private static boolean isTrail(byte b) {
        return (b & 0xC0) == 0x80;
    }

    /** The code point of a sequence with well-formed trail bytes, or -1 if overlong, a surrogate or too large. */
    private static int codePoint(byte[] b, int off, int n) {
        int cp;
        int min;
        switch (n) {
            case 1 -> {
                return b[off];
            }
            case 2 -> {
                cp = (b[off] & 0x1F) << 6 | (b[off + 1] & 0x3F);
                min = 0x80;
            }
            case 3 -> {
                cp = (b[off] & 0x0F) << 12 | (b[off + 1] & 0x3F) << 6 | (b[off + 2] & 0x3F);
                min = 0x800;
            }
            default -> {
                cp = (b[off] & 0x07) << 18 | (b[off + 1] & 0x3F) << 12 | (b[off + 2] & 0x3F) << 6 | (b[off + 3] & 0x3F);
                min = 0x10000;
            }
        }
        boolean valid = cp >= min && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF);
        return valid ? cp : -1;
    }
}
