package moge.server.api;

/**
 * Splits the streamed output text of a chat completion into reasoning and answer (a reasoning parser).
 * Fed the text deltas in order; returns what became final in each part. The plain splitter puts everything
 * in the answer.
 */
public interface OutputSplitter {
    record Delta(String reasoning, String content) {
        public static final Delta EMPTY = new Delta("", "");

        public boolean isEmpty() {
            return reasoning.isEmpty() && content.isEmpty();
        }
    }

    Delta push(String text);

    /** The rest, at the end of the output. */
    Delta flush();

    static OutputSplitter plain() {
        return new OutputSplitter() {
            @Override
            public Delta push(String text) {
                return text.isEmpty() ? Delta.EMPTY : new Delta("", text);
            }

            @Override
            public Delta flush() {
                return Delta.EMPTY;
            }
        };
    }
}
