package moge.thinking;

import moge.generate.DecodePolicy;

import java.util.ArrayDeque;
import java.util.Arrays;

/**
 * Follows the think block over token ids during one generation, counts its tokens and enforces a budget: once the
 * model has written {@code budget} tokens of reasoning, the next tokens are forced: an optional short message
 * (already tokenized) and then the closing marker, after which the model continues with its answer. Budget 0
 * closes a block as soon as it opens; a negative budget only counts.
 */
public final class ThinkingBudget implements DecodePolicy {
    /** Budget value meaning "no limit". */
    public static final int UNLIMITED = -1;

    private enum State { BEFORE, IN, AFTER }

    private final ThinkProtocol protocol;
    private final int budget;
    private final int[] message;
    private final ArrayDeque<Integer> forced = new ArrayDeque<>();
    private State state;
    private int thought;
    private int reasoningTokens;
    private boolean reached;
    private boolean[] isAnswer = new boolean[64];
    private int n;

    /**
     * @param startInReasoning the prompt already opened the block
     * @param message          ids forced before the closing marker when the budget runs out (empty for none)
     */
    public ThinkingBudget(ThinkProtocol protocol, boolean startInReasoning, int budget, int[] message) {
        this.protocol = protocol;
        this.budget = protocol.hasMarkers() ? budget : UNLIMITED;
        this.message = message == null ? new int[0] : message.clone();
        this.state = !protocol.hasMarkers() ? State.AFTER : startInReasoning ? State.IN : State.BEFORE;
    }

    /** Only counts (no budget). */
    public static ThinkingBudget counting(ThinkProtocol protocol, boolean startInReasoning) {
        return new ThinkingBudget(protocol, startInReasoning, UNLIMITED, null);
    }

    @Override
    public boolean mayForce() {
        return budget >= 0;
    }

    @Override
    public int forcedToken() {
        if (!forced.isEmpty()) return forced.poll();
        if (state == State.IN && budget >= 0 && thought >= budget && !reached) {
            reached = true;
            // with no room to think at all a message would only be noise
            if (budget > 0) for (int id : message) forced.add(id);
            forced.add(protocol.closeId());
            return forced.poll();
        }
        return SAMPLE;
    }

    @Override
    public void accepted(int id, boolean wasForced) {
        boolean answer = false;
        switch (state) {
            case BEFORE -> {
                if (id == protocol.openId()) {
                    state = State.IN;
                } else if (id == protocol.closeId()) {
                    state = State.AFTER;
                } else {
                    answer = true;
                }
            }
            case IN -> {
                if (id == protocol.closeId()) {
                    state = State.AFTER;
                    forced.clear();
                } else {
                    reasoningTokens++;
                    if (!wasForced) thought++;
                }
            }
            case AFTER -> answer = true;
        }
        if (n == isAnswer.length) isAnswer = Arrays.copyOf(isAnswer, n * 2);
        isAnswer[n++] = answer;
    }

    /**
     * Tokens of reasoning text: those inside the think block, a forced budget message included, the markers not
     * (they are protocol, not thought: an empty block of just the two markers is no reasoning at all).
     */
    public int reasoningTokens() {
        return reasoningTokens;
    }

    /** Whether the budget ran out and the engine closed the block. */
    public boolean budgetReached() {
        return reached;
    }

    /** Whether the i-th generated token belongs to the answer (outside the think block). */
    public boolean isAnswerToken(int i) {
        return i < n && isAnswer[i];
    }

    public int budget() {
        return budget;
    }
}
