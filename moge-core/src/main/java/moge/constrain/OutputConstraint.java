package moge.constrain;

import moge.sample.LogitMask;

import java.util.Arrays;

/**
 * What one request's output must be: text the shared {@link TokenMask}'s matcher accepts (JSON following a schema,
 * or a GBNF grammar's text; "the JSON" below), and where that text starts. A thinking model may first write a think block ({@code openId} ... {@code closeId}), which is
 * free text; the constraint applies to the answer after it. Before the block the model may open it or start
 * the JSON at once; inside it, anything but an end of the output goes (a thinking budget may force the close); after the close, the
 * JSON starts afresh. Whether the prompt already opened the block (a template that ends with the opening marker)
 * is read from the prompt's ids: the last marker in it is an opening one. A model without think markers (or a raw
 * completion) is constrained from its first token.
 * <p>
 * A lazy constraint (a trigger set; llama.cpp's "lazy grammar") leaves the answer free text, the think
 * block unconstrained as without it, until the model writes the trigger (a tool call's opening marker);
 * from there the JSON is enforced, and once it is whole the closing marker (or an end) may follow, after which the
 * text is free again and another trigger starts the JSON afresh. The markers are special tokens
 * ({@code triggerId}, {@code triggerCloseId}) where the vocabulary has them, else texts ({@code triggerText},
 * {@code triggerCloseText}) that may take several tokens, or end or start inside one: the trigger is found in the
 * free text's bytes, the JSON starts with the bytes after it, and once the JSON is whole only tokens that spell the
 * closing text on (or an end) are allowed until it is written.
 */
public record OutputConstraint(TokenMask mask, int openId, int closeId, int triggerId, int triggerCloseId,
                               byte[] triggerText, byte[] triggerCloseText) {
    public OutputConstraint(TokenMask mask, int openId, int closeId) {
        this(mask, openId, closeId, -1, -1);
    }

    public OutputConstraint(TokenMask mask, int openId, int closeId, int triggerId, int triggerCloseId) {
        this(mask, openId, closeId, triggerId, triggerCloseId, null, null);
    }

    /** JSON from the first generated token. */
    public static OutputConstraint plain(TokenMask mask) {
        return new OutputConstraint(mask, -1, -1);
    }

    /**
     * Free text in which each {@code trigger} token starts JSON of {@code mask} that {@code triggerClose} ends (both
     * ids special tokens without text), after {@code protocol}'s think block if the model writes one.
     */
    public static OutputConstraint lazy(TokenMask mask, moge.thinking.ThinkProtocol protocol, int trigger, int triggerClose) {
        if (trigger < 0 || triggerClose < 0) throw new IllegalArgumentException("a lazy constraint needs both marker ids");
        return protocol != null && protocol.hasMarkers()
                ? new OutputConstraint(mask, protocol.openId(), protocol.closeId(), trigger, triggerClose)
                : new OutputConstraint(mask, -1, -1, trigger, triggerClose);
    }

    /**
     * Like {@link #lazy(TokenMask, moge.thinking.ThinkProtocol, int, int)} for markers that are texts, not single
     * tokens of the vocabulary (a template's {@code <tool_call>} in a vocabulary without it).
     */
    public static OutputConstraint lazy(TokenMask mask, moge.thinking.ThinkProtocol protocol, String trigger, String triggerClose) {
        if (trigger.isEmpty() || triggerClose.isEmpty()) throw new IllegalArgumentException("a lazy constraint needs both markers");
        byte[] open = trigger.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        byte[] close = triggerClose.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        return protocol != null && protocol.hasMarkers()
                ? new OutputConstraint(mask, protocol.openId(), protocol.closeId(), -1, -1, open, close)
                : new OutputConstraint(mask, -1, -1, -1, -1, open, close);
    }

    /** Whether the output is free text until a trigger. */
    public boolean lazy() {
        return triggerId >= 0 || triggerText != null;
    }

    /** JSON after the think block, if the model writes one ({@code protocol}'s markers). */
    public static OutputConstraint afterThinking(TokenMask mask, moge.thinking.ThinkProtocol protocol) {
        return protocol.hasMarkers() ? new OutputConstraint(mask, protocol.openId(), protocol.closeId()) : plain(mask);
    }

    /**
     * A mask for one sequence: prompt of {@code promptLength} ids; {@code endIds} (EOS, end of turn) are allowed
     * exactly when the JSON is complete.
     */
    public Tracker track(int promptLength, int[] endIds) {
        return new Tracker(promptLength, endIds);
    }

    /**
     * FREE: lazy free text (no trigger yet, or after a closed call); CALL: the JSON after a trigger; CLOSING: part of
     * a closing text written after the whole JSON.
     */
    private static final byte BEFORE = 0, THINKING = 1, JSON = 2, FREE = 3, CALL = 4, CLOSING = 5;

    /**
     * Follows one sequence's generated tokens. The sampler asks it for the history it is choosing after, which
     * is the committed tokens plus, during speculative verification, drafted ones that may be dropped; so the
     * states are kept per position and recomputed from the first position whose token changed.
     */
    public final class Tracker implements LogitMask {
        private final int promptLength;
        private final int[] endIds;
        private int[] tok = new int[64];
        private byte[] phase = new byte[65];
        private Object[] state = new Object[65];
        // per position: in FREE, how many bytes of the trigger text the text ends with; in CLOSING, how many of the
        // closing text are written
        private int[] marker = new int[65];
        private long[][] closers; // per count of closing bytes written: the tokens that spell the rest on (lazily)
        private int known = -1; // positions after the prompt whose token and resulting state are known (-1: none yet)
        private long[] scratch = new long[0];

        Tracker(int promptLength, int[] endIds) {
            this.promptLength = promptLength;
            this.endIds = endIds == null ? new int[0] : endIds.clone();
            state[0] = mask.matcher().start();
        }

        @Override
        public void apply(float[] logits, int vocab, int[] history, int len) {
            int n = sync(history, len);
            byte ph = phase[n];
            if (ph == FREE || (lazy() && (ph == BEFORE || ph == THINKING))) return; // free text, as without a constraint
            if (ph == CLOSING) {
                // the closing text goes on (or the output ends) and nothing else
                long[] keep = closers(marker[n], vocab).clone();
                for (int e : endIds) set(keep, e, vocab);
                mask(logits, vocab, keep);
                return;
            }
            if (ph == THINKING) {
                // the block must close before the output may end: an answer that stops inside it has no JSON at all
                for (int e : endIds) if (e >= 0 && e < vocab) logits[e] = Float.NEGATIVE_INFINITY;
                return;
            }
            Object s = state[n];
            int words = (vocab + 63) >>> 6;
            if (scratch.length < words) scratch = new long[words];
            Arrays.fill(scratch, 0, words, 0L);
            long[] allowed = s == null ? null : mask.allowed(s);
            boolean any = allowed != null && !isEmpty(allowed);
            if (any) System.arraycopy(allowed, 0, scratch, 0, Math.min(words, allowed.length));
            // the ends are allowed once the JSON is whole, or as the only way out when no token can continue it
            // (a forced token broke it, or the vocabulary lacks the bytes it needs)
            // in a call the closing marker ends it (an end of the output too: an unclosed call is read as it stands)
            if (!any || mask.matcher().accepting(s)) {
                for (int e : endIds) set(scratch, e, vocab);
                if (ph == CALL) set(scratch, triggerCloseId, vocab);
                if (ph == CALL && triggerCloseText != null) {
                    long[] c = closers(0, vocab);
                    for (int w = 0; w < words; w++) scratch[w] |= c[w];
                }
            }
            if (ph == BEFORE) set(scratch, openId, vocab);
            mask(logits, vocab, scratch);
        }

        private static void mask(float[] logits, int vocab, long[] allowed) {
            for (int w = 0, words = (vocab + 63) >>> 6; w < words; w++) {
                long bits = allowed[w];
                if (bits == -1L) continue;
                for (int i = w << 6, end = Math.min(vocab, i + 64); i < end; i++) {
                    if ((bits & (1L << i)) == 0) logits[i] = Float.NEGATIVE_INFINITY;
                }
            }
        }

        /**
         * The tokens that go on with the closing text after {@code written} of its bytes: their bytes are the next
         * ones of it, or all of the rest and then free text.
         */
        private long[] closers(int written, int vocab) {
            if (closers == null) closers = new long[triggerCloseText.length][];
            if (closers[written] == null) {
                long[] bits = new long[(vocab + 63) >>> 6];
                for (int id = 0; id < vocab; id++) {
                    byte[] b = mask.vocab().bytes(id);
                    if (b != null && b.length > 0 && spellsOn(b, written)) set(bits, id, vocab);
                }
                closers[written] = bits;
            }
            return closers[written];
        }

        private boolean spellsOn(byte[] b, int written) {
            byte[] close = triggerCloseText;
            for (int i = 0, k = written; i < b.length && k < close.length; i++, k++) if (b[i] != close[k]) return false;
            return true;
        }

        /** Whether the JSON is complete and nothing but an end may follow: the sequence should stop. */
        public boolean finished(int[] history, int len) {
            int n = sync(history, len);
            if (phase[n] != JSON || state[n] == null) return false;
            return mask.matcher().accepting(state[n]) && isEmpty(mask.allowed(state[n]));
        }

        /** Whether the generated tokens so far, from the JSON's start, still follow the schema. */
        public boolean valid(int[] history, int len) {
            int n = sync(history, len);
            return (phase[n] != JSON && phase[n] != CALL) || state[n] != null;
        }

        /** Whether the sequence is inside a call (after a trigger, before its close is whole): lazy constraints only. */
        public boolean inCall(int[] history, int len) {
            int n = sync(history, len); // first: it may grow the arrays
            return phase[n] == CALL || phase[n] == CLOSING;
        }

        /** Brings the per-position states up to {@code history[0 .. len)}; returns how many tokens were generated. */
        private int sync(int[] history, int len) {
            int n = len - promptLength;
            if (n < 0) throw new IllegalArgumentException("history of " + len + " ids is shorter than the prompt of " + promptLength);
            if (known < 0) {
                phase[0] = openId < 0 || closeId < 0 ? (lazy() ? FREE : JSON) : opensReasoning(history) ? THINKING : BEFORE;
                known = 0;
            }
            int k = 0;
            while (k < known && k < n && tok[k] == history[promptLength + k]) k++;
            if (n + 1 > phase.length) {
                int cap = Math.max(n + 1, phase.length * 2);
                tok = Arrays.copyOf(tok, cap);
                phase = Arrays.copyOf(phase, cap + 1);
                state = Arrays.copyOf(state, cap + 1);
                marker = Arrays.copyOf(marker, cap + 1);
            }
            for (; k < n; k++) {
                int id = history[promptLength + k];
                tok[k] = id;
                byte ph = phase[k];
                Object s = state[k];
                int m = marker[k];
                if (ph == BEFORE && id == openId) ph = THINKING;
                else if (ph == THINKING) {
                    ph = id == closeId ? (lazy() ? FREE : JSON) : THINKING;
                    m = 0;
                } else if (lazy() && ph == CALL && id == triggerCloseId) {
                    ph = FREE;
                    m = 0;
                } else if (lazy() && ph == CALL && triggerCloseText != null && startsClose(s, id)) {
                    afterClose(mask.vocab().bytes(id), 0);
                    ph = step;
                    s = stepState;
                    m = stepMarker;
                } else if (lazy() && ph == CLOSING) {
                    byte[] b = mask.vocab().bytes(id);
                    if (b != null && b.length > 0 && spellsOn(b, m)) {
                        afterClose(b, m);
                        ph = step;
                        s = stepState;
                        m = stepMarker;
                    } else {
                        ph = FREE; // a token the mask forbids, forced in: the call is read as it stands
                        m = 0;
                    }
                } else if (lazy() && ph != CALL) {
                    // before a trigger (or between calls): free text; the trigger starts a call's JSON
                    if (id == triggerId) {
                        ph = CALL;
                        s = mask.matcher().start();
                    } else if (triggerText != null) {
                        freeText(mask.vocab().bytes(id), 0, ph == FREE ? m : 0);
                        ph = step;
                        s = stepState;
                        m = stepMarker;
                    } else {
                        ph = FREE;
                    }
                } else if (s != null) s = next(s, id, ph);
                if (ph == BEFORE) ph = JSON; // the first token of an answer without thinking
                phase[k + 1] = ph;
                state[k + 1] = s;
                marker[k + 1] = m;
            }
            known = n;
            return n;
        }

        // the outcome of freeText and afterClose: the phase, JSON state and marker count after a token's bytes
        private byte step;
        private Object stepState;
        private int stepMarker;

        /**
         * Free text {@code b[from ..)} after text that ends with {@code matched} bytes of the trigger: still free, or a
         * call whose JSON starts with the bytes after the trigger (a token may hold the trigger's end and the JSON's start).
         */
        private void freeText(byte[] b, int from, int matched) {
            step = FREE;
            stepState = null;
            if (b == null) { // a special token breaks the text
                stepMarker = 0;
                return;
            }
            for (int i = from; i < b.length; i++) {
                matched = extend(triggerText, matched, b[i]);
                if (matched == triggerText.length) {
                    step = CALL;
                    stepMarker = 0;
                    Object s = mask.matcher().start();
                    stepState = i + 1 == b.length ? s : mask.matcher().next(s, Arrays.copyOfRange(b, i + 1, b.length));
                    return;
                }
            }
            stepMarker = matched;
        }

        /** A token that {@link #spellsOn} the closing text after {@code written} of its bytes: closing, or free after it. */
        private void afterClose(byte[] b, int written) {
            int take = Math.min(b.length, triggerCloseText.length - written);
            if (written + take < triggerCloseText.length) {
                step = CLOSING;
                stepState = null;
                stepMarker = written + take;
            } else {
                freeText(b, take, 0);
            }
        }

        /**
         * Whether {@code id}, in a call whose JSON is at {@code s}, starts the closing text: the JSON is whole and
         * cannot take it, or broken (null), when the mask leaves only the close or an end.
         */
        private boolean startsClose(Object s, int id) {
            byte[] b = mask.vocab().bytes(id);
            if (b == null || b.length == 0 || !spellsOn(b, 0)) return false;
            return s == null || mask.matcher().accepting(s) && mask.matcher().next(s, b) == null;
        }

        /** Whether the prompt's last think marker opens a block (the template starts the reply inside one). */
        private boolean opensReasoning(int[] history) {
            for (int i = promptLength - 1; i >= 0; i--) {
                if (history[i] == openId) return true;
                if (history[i] == closeId) return false;
            }
            return false;
        }

        private Object next(Object s, int id, byte ph) {
            byte[] b = mask.vocab().bytes(id);
            return b == null ? null : mask.matcher().next(s, b);
        }
    }

    /** How many bytes of {@code marker} text ends with, after text that ended with {@code matched} of them, and then {@code c}. */
    static int extend(byte[] marker, int matched, byte c) {
        for (int l = Math.min(matched + 1, marker.length); l > 0; l--) {
            if (marker[l - 1] != c) continue;
            int shift = matched + 1 - l;
            boolean same = true;
            for (int i = 0; i < l - 1 && same; i++) same = marker[i] == marker[shift + i];
            if (same) return l;
        }
        return 0;
    }

    private static void set(long[] bits, int id, int vocab) {
        if (id >= 0 && id < vocab) bits[id >>> 6] |= 1L << id;
    }

    private static boolean isEmpty(long[] bits) {
        for (long w : bits) if (w != 0) return false;
        return true;
    }
}
