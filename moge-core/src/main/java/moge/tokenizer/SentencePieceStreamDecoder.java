package moge.tokenizer;

import java.util.Arrays;

/**
 * Streaming counterpart of {@link SentencePieceTokenizer#decode}: the same rules, but text is handed out as soon as
 * it can no longer change. Byte pieces are held while they could still complete a UTF-8 character. In
 * {@link TextMode#CHAT} the dummy-prefix space is dropped at the start of every run of ordinary pieces, exactly as
 * the batch decode does, so the pushes plus the flush always concatenate to {@code decode(ids)}; a continuation
 * keeps every space, as the text before it is the prompt's.
 */
final class SentencePieceStreamDecoder implements StreamDecoder {
    private final SentencePieceTokenizer tokenizer;
    private final TextMode mode;
    private byte[] bytes = new byte[8];
    private int nBytes;
    private boolean runHasText;
    private boolean isBosWs;
    private boolean bosWsSeen;

    SentencePieceStreamDecoder(SentencePieceTokenizer tokenizer, TextMode mode) {
        this.tokenizer = tokenizer;
        this.mode = mode;
        this.isBosWs = !mode.keepsLeadingSpace();
    }

    @Override
    public String push(int id) {
        StringBuilder out = new StringBuilder();
        byte kind = tokenizer.kind(id);
        if (kind == SentencePieceTokenizer.BYTE) {
            if (nBytes == bytes.length) bytes = Arrays.copyOf(bytes, nBytes * 2);
            bytes[nBytes++] = (byte) tokenizer.byteOf(id);
            drainBytes(false, out);
            return out.toString();
        }
        drainBytes(true, out);
        if (kind == SentencePieceTokenizer.VERBATIM) {
            // a hidden special token leaves no trace: the text around it reads as one run
            if (!mode.showsSpecial()) return out.toString();
            out.append(tokenizer.verbatim(id));
            runHasText = false;
            isBosWs = !mode.keepsLeadingSpace();
            bosWsSeen = false;
            return out.toString();
        }
        if (bosWsSeen || runHasText || mode.keepsLeadingSpace()) isBosWs = false;
        int before = out.length();
        bosWsSeen = tokenizer.appendPiece(id, kind, isBosWs, out);
        runHasText |= out.length() > before;
        return out.toString();
    }

    @Override
    public String flush() {
        StringBuilder out = new StringBuilder();
        drainBytes(true, out);
        return out.toString();
    }

    private void drainBytes(boolean atEnd, StringBuilder out) {
        if (nBytes == 0) return;
        int before = out.length();
        int used = BytePieces.decode(bytes, nBytes, atEnd, out);
        System.arraycopy(bytes, used, bytes, 0, nBytes - used);
        nBytes -= used;
        runHasText |= out.length() > before;
    }
}
