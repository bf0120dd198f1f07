package moge.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Streams the bytes of decoded tokens as text, holding back an incomplete UTF-8 sequence at the end until
 * the token that completes it arrives (byte-level BPE splits characters across tokens).
 */
public final class Utf8StreamDecoder implements StreamDecoder {
    /** Appends the bytes of one token id. */
    @FunctionalInterface
    public interface ByteSource {
        void append(int id, ByteArrayOutputStream out);
    }

    private final ByteSource source;
    private final ByteArrayOutputStream scratch = new ByteArrayOutputStream();
    private byte[] held = new byte[0];

    public Utf8StreamDecoder(ByteSource source) {
        this.source = source;
    }

    @Override
    public String push(int id) {
        scratch.reset();
        scratch.writeBytes(held);
        source.append(id, scratch);
        byte[] b = scratch.toByteArray();
        int cut = completePrefix(b);
        held = Arrays.copyOfRange(b, cut, b.length);
        return new String(b, 0, cut, StandardCharsets.UTF_8);
    }

    @Override
    public String flush() {
        String s = new String(held, StandardCharsets.UTF_8);
        held = new byte[0];
        return s;
    }

    /** Length of b without a trailing sequence that is a valid but unfinished UTF-8 start. */
    static int completePrefix(byte[] b) {
        int n = b.length;
        for (int back = 1; back <= Math.min(3, n); back++) {
            int c = b[n - back] & 0xFF;
            if ((c & 0xC0) == 0x80) continue; // continuation byte: keep looking for the lead
            int need = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
            return need > back ? n - back : n;
        }
        return n;
    }
}
