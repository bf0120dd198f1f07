package moge.train.vocab;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Serializes a SentencePiece {@code ModelProto} (tokenizer.model) with the field numbers of
 * sentencepiece_model.proto: the pieces with score and type, a trainer_spec saying BPE with byte fallback and
 * split digits, and an identity normalizer_spec with the dummy prefix and whitespace escaping on — the settings
 * of the openPangu tokenizer family.
 */
public final class SentencePieceWriter {
    // ModelProto.SentencePiece.Type
    public static final int NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, BYTE = 6;

    private SentencePieceWriter() {
    }

    /** One vocabulary entry. */
    public record Piece(String piece, float score, int type) {
    }

    /**
     * @param userDefined the added special tokens, recorded in trainer_spec.user_defined_symbols as
     *                    spm_train's {@code --user_defined_symbols} would
     */
    public static byte[] write(List<Piece> pieces, List<String> userDefined, int unkId, int bosId, int eosId) {
        Proto model = new Proto();
        for (Piece p : pieces) {
            Proto sp = new Proto();
            sp.string(1, p.piece());
            sp.fixed32(2, Float.floatToRawIntBits(p.score()));
            // proto2 default NORMAL is omitted, as SentencePiece itself writes it
            if (p.type() != NORMAL) sp.varint(3, p.type());
            model.message(1, sp);
        }
        Proto trainer = new Proto();
        trainer.string(2, "tokenizer");
        trainer.varint(3, 2); // model_type = BPE
        trainer.varint(4, pieces.size()); // vocab_size
        trainer.fixed32(10, Float.floatToRawIntBits(1.0f)); // character_coverage
        trainer.varint(20, 16); // max_sentencepiece_length
        trainer.varint(21, 1); // split_by_unicode_script
        trainer.varint(22, 1); // split_by_whitespace
        trainer.varint(23, 1); // split_by_number
        trainer.varint(24, 0); // treat_whitespace_as_suffix
        trainer.varint(25, 1); // split_digits
        for (String s : userDefined) trainer.string(31, s);
        trainer.varint(32, 1); // vocabulary_output_piece_score
        trainer.varint(33, 1); // hard_vocab_limit
        trainer.varint(35, 1); // byte_fallback
        trainer.varint(40, unkId);
        trainer.varint(41, bosId);
        trainer.varint(42, eosId);
        trainer.varint(43, -1); // pad_id: none (HF uses <unk> as pad)
        trainer.string(44, " \u2047 ");
        trainer.string(45, "<unk>");
        trainer.string(46, "<s>");
        trainer.string(47, "</s>");
        trainer.string(48, "<pad>");
        model.message(2, trainer);
        Proto norm = new Proto();
        norm.string(1, "identity");
        norm.bytes(2, new byte[0]); // precompiled_charsmap: none
        norm.varint(3, 1); // add_dummy_prefix
        norm.varint(4, 0); // remove_extra_whitespaces
        norm.varint(5, 1); // escape_whitespaces
        model.message(3, norm);
        return model.toByteArray();
    }

    /** A minimal protobuf encoder: varint, fixed32 and length-delimited fields. */
    static final class Proto {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        private void tag(int field, int wire) {
            rawVarint(((long) field << 3) | wire);
        }

        private void rawVarint(long v) {
            while ((v & ~0x7FL) != 0) {
                out.write((int) ((v & 0x7F) | 0x80));
                v >>>= 7;
            }
            out.write((int) v);
        }

        /** int32 fields: negative values are sign-extended to ten bytes, as protobuf does. */
        void varint(int field, long v) {
            tag(field, 0);
            rawVarint(v);
        }

        void fixed32(int field, int bits) {
            tag(field, 5);
            for (int i = 0; i < 4; i++) out.write((bits >>> (8 * i)) & 0xFF);
        }

        void bytes(int field, byte[] b) {
            tag(field, 2);
            rawVarint(b.length);
            out.writeBytes(b);
        }

        void string(int field, String s) {
            bytes(field, s.getBytes(StandardCharsets.UTF_8));
        }

        void message(int field, Proto m) {
            bytes(field, m.toByteArray());
        }

        byte[] toByteArray() {
            return out.toByteArray();
        }
    }
}
