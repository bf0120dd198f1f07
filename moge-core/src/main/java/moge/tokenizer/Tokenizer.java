package moge.tokenizer;

import java.util.OptionalInt;

/**
 * Text to token ids and back. Implementations: SentencePiece (openPangu, GGUF "llama") and byte-level BPE
 * (GGUF "gpt2", Qwen3). Special tokens found in the text are matched atomically before the model-specific
 * encoding runs on the segments between them.
 */
public interface Tokenizer {
    /** Encodes text without adding BOS; special tokens in the text become their ids. */
    int[] encode(String text);

    /** Decodes ids to text; special tokens appear verbatim, invalid UTF-8 becomes U+FFFD. */
    String decode(int[] ids);

    /** A decoder for a chat reply ({@link TextMode#CHAT}) that never emits half a UTF-8 character. */
    default StreamDecoder newStreamDecoder() {
        return newStreamDecoder(TextMode.CHAT);
    }

    /** A decoder for generated text in the given mode that never emits half a UTF-8 character. */
    StreamDecoder newStreamDecoder(TextMode mode);

    int vocabSize();

    /**
     * The UTF-8 bytes an id adds to ordinary text (a reply's body), for constrained decoding; null for special
     * and control tokens, which never belong to such text. A byte-fallback or byte-level token may hold part
     * of a character. The default decodes the id alone, which suits vocabularies without special pieces.
     */
    default byte[] textBytes(int id) {
        byte[] b = decode(new int[]{id}).getBytes(java.nio.charset.StandardCharsets.UTF_8);
        return b.length == 0 ? null : b;
    }

    /** The vocabulary entry of an id, as stored (e.g. "▁the", "<0x0A>", "[unused9]"). */
    String piece(int id);

    /** The id of a vocabulary entry given exactly (special tokens by name: "[unused10]"). */
    OptionalInt tokenId(String piece);

    /** BOS/EOS/PAD/UNK ids (-1 when absent) and whether BOS is prepended to prompts. */
    SpecialTokens special();

    /**
     * Every id that ends generation: {@code special().eos()} first, then any others the model's configs name
     * (e.g. a {@code generation_config.json} list). Empty when the vocabulary has no EOS.
     */
    default int[] eosIds() {
        int eos = special().eos();
        return eos >= 0 ? new int[]{eos} : new int[0];
    }

    /** Encodes a prompt the way the upstream tokenizer does: BOS first when the config asks for it. */
    default int[] encodePrompt(String text) {
        int[] body = encode(text);
        SpecialTokens s = special();
        if (!s.addBos() || s.bos() < 0) return body;
        int[] out = new int[body.length + 1];
        out[0] = s.bos();
        System.arraycopy(body, 0, out, 1, body.length);
        return out;
    }
}
