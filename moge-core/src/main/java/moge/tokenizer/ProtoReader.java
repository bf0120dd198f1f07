package moge.tokenizer;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * A bounded reader of the protobuf wire format, just enough for SentencePiece models. Every length is checked
 * against the bytes that remain, so a corrupt file fails with {@link Malformed} instead of an index error, a
 * huge allocation or a loop that never ends.
 */
final class ProtoReader {
    static final int VARINT = 0;
    static final int FIXED64 = 1;
    static final int LEN = 2;
    static final int FIXED32 = 5;

    /** A structural problem in the bytes; the caller adds the file name. */
    static final class Malformed extends Exception {
        Malformed(String message) {
            super(message);
        }
    }

    private final byte[] buf;
    private final int end;
    private final int base;
    private int pos;
    private int tag;

    ProtoReader(byte[] buf) {
        this(buf, 0, buf.length);
    }

    private ProtoReader(byte[] buf, int from, int to) {
        this.buf = buf;
        this.pos = from;
        this.base = from;
        this.end = to;
    }

    /** Advances to the next field; false at the end of this message. */
    boolean next() throws Malformed {
        if (pos >= end) return false;
        long key = varint();
        if (key >>> 32 != 0 || (key >>> 3) == 0) throw malformed("invalid field key " + key);
        tag = (int) key;
        return true;
    }

    int field() {
        return tag >>> 3;
    }

    int wireType() {
        return tag & 7;
    }

    long varint() throws Malformed {
        long result = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (pos >= end) throw malformed("truncated varint");
            byte b = buf[pos++];
            result |= (long) (b & 0x7f) << shift;
            if (b >= 0) return result;
        }
        throw malformed("varint longer than 10 bytes");
    }

    float fixed32AsFloat() throws Malformed {
        expect(FIXED32);
        if (end - pos < 4) throw malformed("truncated fixed32");
        int bits = (buf[pos] & 0xff) | (buf[pos + 1] & 0xff) << 8 | (buf[pos + 2] & 0xff) << 16 | (buf[pos + 3] & 0xff) << 24;
        pos += 4;
        return Float.intBitsToFloat(bits);
    }

    long varintField() throws Malformed {
        expect(VARINT);
        return varint();
    }

    boolean boolField() throws Malformed {
        return varintField() != 0;
    }

    /** An int32 field; negative values are sign-extended to 64 bits on the wire. */
    int int32Field() throws Malformed {
        return (int) varintField();
    }

    byte[] bytesField() throws Malformed {
        int len = length();
        byte[] out = new byte[len];
        System.arraycopy(buf, pos, out, 0, len);
        pos += len;
        return out;
    }

    String stringField() throws Malformed {
        int len = length();
        try {
            String s = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(buf, pos, len)).toString();
            pos += len;
            return s;
        } catch (CharacterCodingException e) {
            throw malformed("string field " + field() + " is not valid UTF-8");
        }
    }

    /** A reader over the embedded message of the current field; this reader moves past it. */
    ProtoReader message() throws Malformed {
        int len = length();
        ProtoReader sub = new ProtoReader(buf, pos, pos + len);
        pos += len;
        return sub;
    }

    void skip() throws Malformed {
        switch (wireType()) {
            case VARINT -> varint();
            case FIXED64 -> advance(8);
            case LEN -> advance(length());
            case FIXED32 -> advance(4);
            // groups are deprecated and never written by SentencePiece; refusing them keeps skipping simple
            default -> throw malformed("unsupported wire type " + wireType() + " in field " + field());
        }
    }

    private void advance(int n) throws Malformed {
        if (end - pos < n) throw malformed("truncated field " + field());
        pos += n;
    }

    private int length() throws Malformed {
        expect(LEN);
        long len = varint();
        if (len < 0 || len > end - pos) {
            throw malformed("field " + field() + " claims " + len + " bytes but only " + (end - pos) + " remain");
        }
        return (int) len;
    }

    private void expect(int wireType) throws Malformed {
        if (wireType() != wireType) {
            throw malformed("field " + field() + " has wire type " + wireType() + ", expected " + wireType);
        }
    }

    private Malformed malformed(String what) {
        return new Malformed(what + " at byte " + pos + (base > 0 ? " (message starting at byte " + base + ")" : ""));
    }
}
