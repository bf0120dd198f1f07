package moge.tokenizer;

/**
 * GPT-2's reversible byte to printable-character mapping: the 188 printable Latin-1 bytes map to
 * themselves, the other 68 (controls, space, soft hyphen, ...) to U+0100 onwards in byte order. A
 * byte-level BPE vocabulary is written in these characters ("Ġ" is a space, "Ċ" a newline).
 */
public final class ByteLevel {
    private static final char[] BYTE_TO_CHAR = new char[256];
    private static final int[] CHAR_TO_BYTE = new int[512];

    static {
        java.util.Arrays.fill(CHAR_TO_BYTE, -1);
        int n = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char c = printable ? (char) b : (char) (256 + n++);
            BYTE_TO_CHAR[b] = c;
            CHAR_TO_BYTE[c] = b;
        }
    }

    private ByteLevel() {
    }

    public static char charOf(int b) {
        return BYTE_TO_CHAR[b & 0xFF];
    }

    /** The byte a mapped character stands for, or -1 when the character is not part of the mapping. */
    public static int byteOf(char c) {
        return c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
    }

    /** The UTF-8 bytes of {@code s} as mapped characters. */
    public static String encode(String s) {
        byte[] b = s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        char[] out = new char[b.length];
        for (int i = 0; i < b.length; i++) out[i] = BYTE_TO_CHAR[b[i] & 0xFF];
        return new String(out);
    }

    /** Appends the bytes a mapped vocabulary entry stands for; characters outside the mapping go as UTF-8. */
    public static void decode(String piece, java.io.ByteArrayOutputStream out) {
        for (int i = 0; i < piece.length(); i++) {
            char c = piece.charAt(i);
            int b = byteOf(c);
            if (b >= 0) {
                out.write(b);
            } else {
                int cp = piece.codePointAt(i);
                if (Character.charCount(cp) == 2) i++;
                out.writeBytes(new String(Character.toChars(cp)).getBytes(java.nio.charset.StandardCharsets.UTF_8));
            }
        }
    }
}
