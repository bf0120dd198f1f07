package moge.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.PriorityQueue;

/**
 * Byte-level BPE (GGUF {@code tokenizer.ggml.model = "gpt2"}: GPT-2, Llama 3, Qwen). Encoding splits out
 * control and user-defined tokens atomically (leftmost, longest first), pre-tokenizes the rest into
 * words, maps each word's UTF-8 bytes to GPT-2 characters and merges adjacent symbols by merge rank, lowest
 * first and leftmost among equals, as llama.cpp's {@code llm_tokenizer_bpe_session} does. Decoding maps
 * the characters back to bytes; control and user-defined tokens come out as their text.
 */
public final class ByteBpeTokenizer implements Tokenizer {
    /** llama.cpp token types (GGUF tokenizer.ggml.token_type). */
    public static final int NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6;

    private final String[] tokens;
    private final int[] types;
    private final Map<String, Integer> ids;
    private final Map<String, Integer> ranks;
    private final BpePreTokenizer pre;
    private final SpecialTokens special;
    /** Atomic tokens by first character, longest first. */
    private final Map<Character, String[]> atomic;
    private final int[] atomicIds;
    private final Map<String, Integer> atomicId;

    /**
     * @param types  per-token types (null = all normal)
     * @param merges "left right" pairs in rank order
     */
    public ByteBpeTokenizer(String[] tokens, int[] types, String[] merges, BpePreTokenizer pre, SpecialTokens special) {
        this.tokens = tokens.clone();
        this.types = types == null ? filled(tokens.length) : types.clone();
        if (this.types.length != tokens.length) throw new IllegalArgumentException("token_type has " + this.types.length + " entries for " + tokens.length + " tokens");
        this.pre = pre;
        this.special = special;
        ids = new HashMap<>(tokens.length * 2);
        for (int i = 0; i < tokens.length; i++) ids.put(tokens[i], i); // the last duplicate wins, as in llama.cpp
        ranks = new HashMap<>(merges.length * 2);
        for (int r = 0; r < merges.length; r++) {
            String m = merges[r];
            int sp = m.indexOf(' ', 1);
            if (sp < 0) continue;
            ranks.putIfAbsent(m, r);
        }
        Map<Character, List<String>> byFirst = new HashMap<>();
        atomicId = new HashMap<>();
        List<Integer> aIds = new ArrayList<>();
        for (int i = 0; i < tokens.length; i++) {
            int t = this.types[i];
            if ((t == CONTROL || t == USER_DEFINED) && !tokens[i].isEmpty()) {
                byFirst.computeIfAbsent(tokens[i].charAt(0), k -> new ArrayList<>()).add(tokens[i]);
                atomicId.put(tokens[i], i);
                aIds.add(i);
            }
        }
        atomic = new HashMap<>();
        byFirst.forEach((c, l) -> {
            l.sort((a, b) -> Integer.compare(b.length(), a.length()));
            atomic.put(c, l.toArray(new String[0]));
        });
        atomicIds = aIds.stream().mapToInt(Integer::intValue).toArray();
    }

    private static int[] filled(int n) {
        int[] t = new int[n];
        Arrays.fill(t, NORMAL);
        return t;
    }

    @Override
    public int[] encode(String text) {
        IntList out = new IntList();
        int start = 0, i = 0;
        while (i < text.length()) {
            String[] cands = atomic.isEmpty() ? null : atomic.get(text.charAt(i));
            String hit = null;
            if (cands != null) {
                for (String c : cands) {
                    if (text.startsWith(c, i)) {
                        hit = c;
                        break;
                    }
                }
            }
            if (hit == null) {
                i++;
                continue;
            }
            if (i > start) encodePlain(text.substring(start, i), out);
            out.add(atomicId.get(hit));
            i += hit.length();
            start = i;
        }
        if (start < text.length()) encodePlain(text.substring(start), out);
        return out.toArray();
    }

    private void encodePlain(String text, IntList out) {
        for (String word : pre.split(text)) {
            String w = ByteLevel.encode(word);
            if (pre.ignoreMerges()) {
                Integer id = ids.get(w);
                if (id != null) {
                    out.add(id);
                    continue;
                }
            }
            merge(w, out);
        }
    }

    private record Pair(int rank, int left, int size) {
    }

    /** Merges the characters of one mapped word; symbols are [start, start+len) ranges of it in a linked list. */
    private void merge(String w, IntList out) {
        int n = w.length();
        if (n == 1) {
            emit(w, out);
            return;
        }
        int[] len = new int[n], prev = new int[n], next = new int[n];
        for (int i = 0; i < n; i++) {
            len[i] = 1;
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        PriorityQueue<Pair> queue = new PriorityQueue<>((a, b) -> a.rank != b.rank ? Integer.compare(a.rank, b.rank)
                : Integer.compare(a.left, b.left));
        for (int i = 0; i + 1 < n; i++) push(w, i, i + 1, len, queue);
        while (!queue.isEmpty()) {
            Pair p = queue.poll();
            int l = p.left, r = next[l];
            // Stale entries: one side already merged away or grown since this pair was queued.
            if (len[l] == 0 || r < 0 || len[r] == 0 || len[l] + len[r] != p.size) continue;
            len[l] += len[r];
            len[r] = 0;
            next[l] = next[r];
            if (next[r] >= 0) prev[next[r]] = l;
            if (prev[l] >= 0) push(w, prev[l], l, len, queue);
            if (next[l] >= 0) push(w, l, next[l], len, queue);
        }
        for (int i = 0; i >= 0; i = next[i]) emit(w.substring(i, i + len[i]), out);
    }

    private void push(String w, int l, int r, int[] len, PriorityQueue<Pair> queue) {
        String key = w.substring(l, l + len[l]) + ' ' + w.substring(r, r + len[r]);
        Integer rank = ranks.get(key);
        if (rank != null) queue.add(new Pair(rank, l, len[l] + len[r]));
    }

    /** A finished symbol: its id, or (for a vocabulary without it) the ids of its single characters. */
    private void emit(String sym, IntList out) {
        Integer id = ids.get(sym);
        if (id != null) {
            out.add(id);
            return;
        }
        for (int i = 0; i < sym.length(); i++) {
            Integer b = ids.get(String.valueOf(sym.charAt(i)));
            if (b != null) out.add(b);
        }
    }

    @Override
    public String decode(int[] ids) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        for (int id : ids) appendBytes(id, bytes);
        return bytes.toString(StandardCharsets.UTF_8);
    }

    void appendBytes(int id, ByteArrayOutputStream out) {
        if (id < 0 || id >= tokens.length) return;
        int t = types[id];
        if (t == CONTROL || t == USER_DEFINED || t == UNUSED) {
            out.writeBytes(tokens[id].getBytes(StandardCharsets.UTF_8));
        } else {
            ByteLevel.decode(tokens[id], out);
        }
    }

    /** A normal or byte token's bytes; null for control, user-defined (Qwen3's think tags) and unused ones. */
    @Override
    public byte[] textBytes(int id) {
        if (id < 0 || id >= tokens.length) return null;
        int t = types[id];
        if (t == CONTROL || t == USER_DEFINED || t == UNUSED || t == UNKNOWN) return null;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteLevel.decode(tokens[id], out);
        return out.size() == 0 ? null : out.toByteArray();
    }

    @Override
    public StreamDecoder newStreamDecoder(TextMode mode) {
        if (mode.showsSpecial()) return new Utf8StreamDecoder(this::appendBytes);
        // control tokens (turn markers) only: Qwen3's think tags are ordinary added tokens, kept by llama.cpp and vLLM too
        return new Utf8StreamDecoder((id, out) -> {
            if (id >= 0 && id < tokens.length && types[id] != CONTROL) appendBytes(id, out);
        });
    }

    @Override
    public int vocabSize() {
        return tokens.length;
    }

    @Override
    public String piece(int id) {
        return id >= 0 && id < tokens.length ? tokens[id] : null;
    }

    public int tokenType(int id) {
        return id >= 0 && id < types.length ? types[id] : -1;
    }

    @Override
    public OptionalInt tokenId(String piece) {
        Integer id = ids.get(piece);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    @Override
    public SpecialTokens special() {
        return special;
    }

    /** End-of-generation ids: EOS plus the control tokens llama.cpp also treats as end of turn when present. */
    @Override
    public int[] eosIds() {
        IntList out = new IntList();
        if (special.eos() >= 0) out.add(special.eos());
        for (String t : new String[]{"<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|eom_id|>", "<|end|>", "<end_of_turn>"}) {
            Integer id = ids.get(t);
            if (id != null && id != special.eos() && types[id] == CONTROL) out.add(id);
        }
        return out.toArray();
    }

    public BpePreTokenizer preTokenizer() {
        return pre;
    }

    /** Ids matched atomically in text (control and user-defined tokens). */
    public int[] atomicIds() {
        return atomicIds.clone();
    }

    /** A growable int array (token output without boxing). */
    private static final class IntList {
        int[] a = new int[16];
        int n;

        void add(int v) {
            if (n == a.length) a = Arrays.copyOf(a, n * 2);
            a[n++] = v;
        }

        int[] toArray() {
            return Arrays.copyOf(a, n);
        }
    }
}
