package moge.thinking;

/**
 * Splits generated text into reasoning (between the think markers) and answer, as a streaming state machine over
 * decoded pieces. A marker may arrive split over several pieces, so text that could still become a marker is held
 * back until it cannot. Leading whitespace is trimmed from both parts (the space or newlines after a marker are
 * layout), trailing whitespace only from the reasoning (held back while it may be trailing): the answer ends where
 * the model or a stop string ended it, as a completion without reasoning would.
 * Feeding the text in any chunking gives the same split as {@link #split} on the whole text.
 *
 * <p>Rules: leading whitespace is skipped; an opening marker starts the reasoning block (also after some answer
 * text), the first closing marker ends it and the rest is the answer. A closing marker without an opening one
 * (the template opened the block, or an empty block) is dropped. After the block, markers are plain text. A block
 * that never closes leaves everything in the reasoning and the answer empty. Without markers all text is answer.
 */
public final class ReasoningParser {
    /** What one push added to each part; either may be empty. */
    public record Delta(String reasoning, String content) {
        public static final Delta EMPTY = new Delta("", "");

        public boolean isEmpty() {
            return reasoning.isEmpty() && content.isEmpty();
        }
    }

    /** The whole split: {@code opened} when a reasoning block started, {@code closed} when it also ended. */
    public record Split(String reasoning, String content, boolean opened, boolean closed) {
    }

    private enum State { START, REASONING, ANSWER }

    private final ThinkProtocol protocol;
    private final String open;
    private final String close;
    private State state;
    private boolean opened;
    private boolean closed;
    private final StringBuilder pending = new StringBuilder();
    private final Section reasoning = new Section(true);
    private final Section content = new Section(false);

    /** @param startInReasoning the prompt already opened the block (see {@link ThinkProtocol#promptOpensReasoning}) */
    public ReasoningParser(ThinkProtocol protocol, boolean startInReasoning) {
        this.protocol = protocol;
        this.open = protocol.open();
        this.close = protocol.close();
        boolean markers = protocol.hasMarkers();
        this.state = markers && startInReasoning ? State.REASONING : markers ? State.START : State.ANSWER;
        this.opened = markers && startInReasoning;
        if (!markers) closed = true;
    }

    /** A parser for the output that follows {@code prompt}. */
    public static ReasoningParser forPrompt(ThinkProtocol protocol, String prompt) {
        return new ReasoningParser(protocol, protocol.promptOpensReasoning(prompt));
    }

    /** Non-streaming split of a whole generated text. */
    public static Split split(ThinkProtocol protocol, boolean startInReasoning, String text) {
        ReasoningParser p = new ReasoningParser(protocol, startInReasoning);
        p.push(text);
        p.finish();
        return p.result();
    }

    /** Feeds one generated token: marker ids count as their marker text even if the decoder gave something else. */
    public Delta pushToken(int id, String piece) {
        return push(protocol.markerText(id, piece));
    }

    /** Feeds decoded text; returns what became certain. */
    public Delta push(String text) {
        int r0 = reasoning.out.length(), c0 = content.out.length();
        pending.append(text);
        process();
        return delta(r0, c0);
    }

    /** Ends the stream: text held as a possible marker start is plain text after all; the reasoning's trailing whitespace is dropped. */
    public Delta finish() {
        int r0 = reasoning.out.length(), c0 = content.out.length();
        String rest = pending.toString();
        pending.setLength(0);
        (state == State.REASONING ? reasoning : content).emit(rest);
        reasoning.hold.setLength(0);
        content.hold.setLength(0);
        return delta(r0, c0);
    }

    public Split result() {
        return new Split(reasoning.out.toString(), content.out.toString(), opened, opened && closed);
    }

    public String reasoning() {
        return reasoning.out.toString();
    }

    public String content() {
        return content.out.toString();
    }

    /** True while the text being produced belongs to the reasoning block. */
    public boolean inReasoning() {
        return state == State.REASONING;
    }

    private Delta delta(int r0, int c0) {
        if (reasoning.out.length() == r0 && content.out.length() == c0) return Delta.EMPTY;
        return new Delta(reasoning.out.substring(r0), content.out.substring(c0));
    }

    private void process() {
        while (!pending.isEmpty()) {
            switch (state) {
                case START -> {
                    int i = 0;
                    while (i < pending.length() && Character.isWhitespace(pending.charAt(i))) i++;
                    pending.delete(0, i);
                    if (pending.isEmpty()) return;
                    if (startsWith(open)) {
                        pending.delete(0, open.length());
                        state = State.REASONING;
                        opened = true;
                    } else if (startsWith(close)) {
                        pending.delete(0, close.length());
                        state = State.ANSWER;
                        closed = true;
                    } else if (isPrefixOf(pending, open) || isPrefixOf(pending, close)) {
                        return;
                    } else {
                        state = State.ANSWER;
                    }
                }
                case REASONING -> {
                    int k = pending.indexOf(close);
                    if (k >= 0) {
                        reasoning.emit(pending.substring(0, k));
                        reasoning.hold.setLength(0);
                        pending.delete(0, k + close.length());
                        state = State.ANSWER;
                        closed = true;
                        // answer text before the block already ends in held whitespace: do not double it
                        content.skipLeading = true;
                    } else {
                        int keep = partialSuffix(pending, close);
                        reasoning.emit(pending.substring(0, pending.length() - keep));
                        pending.delete(0, pending.length() - keep);
                        return;
                    }
                }
                case ANSWER -> {
                    if (closed || opened || !protocol.hasMarkers()) {
                        content.emit(pending.toString());
                        pending.setLength(0);
                        return;
                    }
                    // no block yet: one may still open (or a stray closing marker appear) after some answer text
                    int ko = pending.indexOf(open), kc = pending.indexOf(close);
                    if (ko < 0 && kc < 0) {
                        int keep = Math.max(partialSuffix(pending, open), partialSuffix(pending, close));
                        content.emit(pending.substring(0, pending.length() - keep));
                        pending.delete(0, pending.length() - keep);
                        return;
                    }
                    boolean isOpen = ko >= 0 && (kc < 0 || ko < kc);
                    int k = isOpen ? ko : kc;
                    content.emit(pending.substring(0, k));
                    pending.delete(0, k + (isOpen ? open.length() : close.length()));
                    if (isOpen) {
                        state = State.REASONING;
                        opened = true;
                    } else {
                        closed = true;
                    }
                }
            }
        }
    }

    private boolean startsWith(String marker) {
        return pending.length() >= marker.length() && pending.substring(0, marker.length()).equals(marker);
    }

    /** Whether all of {@code buf} is the start of {@code marker}. */
    private static boolean isPrefixOf(CharSequence buf, String marker) {
        if (buf.length() >= marker.length()) return false;
        for (int i = 0; i < buf.length(); i++) if (buf.charAt(i) != marker.charAt(i)) return false;
        return true;
    }

    /** Length of the longest proper prefix of {@code marker} that {@code buf} ends with. */
    static int partialSuffix(CharSequence buf, String marker) {
        int max = Math.min(buf.length(), marker.length() - 1);
        for (int k = max; k > 0; k--) {
            boolean match = true;
            int off = buf.length() - k;
            for (int i = 0; i < k && match; i++) match = buf.charAt(off + i) == marker.charAt(i);
            if (match) return k;
        }
        return 0;
    }

    /** One output part: trimmed at the start and, if {@code trimEnd}, at the end (trailing whitespace held until more text follows it). */
    private static final class Section {
        final StringBuilder out = new StringBuilder();
        final StringBuilder hold = new StringBuilder();
        final boolean trimEnd;
        boolean started;
        boolean skipLeading;

        Section(boolean trimEnd) {
            this.trimEnd = trimEnd;
        }

        void emit(String s) {
            if (s.isEmpty()) return;
            if (!started || skipLeading) {
                int i = 0;
                while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++;
                if (i == s.length()) return;
                s = s.substring(i);
                started = true;
                skipLeading = false;
            }
            int end = s.length();
            while (trimEnd && end > 0 && Character.isWhitespace(s.charAt(end - 1))) end--;
            if (end == 0) {
                hold.append(s);
                return;
            }
            out.append(hold).append(s, 0, end);
            hold.setLength(0);
            hold.append(s, end, s.length());
        }
    }
}
