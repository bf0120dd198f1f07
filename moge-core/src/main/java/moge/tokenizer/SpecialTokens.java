package moge.tokenizer;

/** Special token ids of a vocabulary (-1 when absent) and the BOS policy of its tokenizer config. */
public record SpecialTokens(int bos, int eos, int pad, int unk, boolean addBos) {
}
