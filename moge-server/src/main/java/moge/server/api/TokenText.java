package moge.server.api;

import moge.tokenizer.StreamDecoder;
import moge.tokenizer.TextMode;
import moge.tokenizer.Tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.ConcurrentHashMap;

/** The text and UTF-8 bytes of single tokens, as logprobs entries show them. */
final class TokenText {
    private final Tokenizer tokenizer;
    private final ConcurrentHashMap<Integer, String> texts = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<Integer, Boolean> hidden = new ConcurrentHashMap<>();

    TokenText(Tokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /**
     * The token as it reads inside a text: a SentencePiece word piece keeps its leading space ("▁the" is
     * " the"), which decoding the token alone would drop.
     */
    String text(int id) {
        return texts.computeIfAbsent(id, i -> {
            String p = tokenizer.piece(i);
            if (p != null && p.indexOf('\u2581') >= 0 && !isBytePiece(p)) return p.replace('\u2581', ' ');
            return tokenizer.decode(new int[]{i});
        });
    }

    /**
     * Whether a raw completion's text leaves the token out: a special token, hidden unless the request sets
     * {@code skip_special_tokens: false}; its {@code text_offset} then does not advance.
     */
    /** The ids' text as a completion shows them (special tokens left out when {@code hideSpecial}). */
    String joined(int[] ids, boolean hideSpecial) {
        StringBuilder sb = new StringBuilder();
        for (int id : ids) if (!(hideSpecial && hiddenInContinuation(id))) sb.append(text(id));
        return sb.toString();
    }

    boolean hiddenInContinuation(int id) {
        return hidden.computeIfAbsent(id, i -> {
            StreamDecoder d = tokenizer.newStreamDecoder(TextMode.CONTINUATION);
            return (d.push(i) + d.flush()).isEmpty() && !text(i).isEmpty();
        });
    }

    private static boolean isBytePiece(String p) {
        return p.length() == 6 && p.startsWith("<0x") && p.endsWith(">");
    }

    /** The token's own bytes: a byte-fallback piece ("<0xE4>") is that one byte, not a replacement character. */
    byte[] bytes(int id) {
        String p = tokenizer.piece(id);
        if (p != null && isBytePiece(p)) {
            try {
                return new byte[]{(byte) Integer.parseInt(p.substring(3, 5), 16)};
            } catch (NumberFormatException ignored) {
                // not a byte piece after all
            }
        }
        return text(id).getBytes(StandardCharsets.UTF_8);
    }
}
