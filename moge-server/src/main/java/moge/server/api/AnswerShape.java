package moge.server.api;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.OutputStream;
import java.util.List;

/**
 * How a request's answer is shaped: chat/completions objects and chunks ({@link CompletionWriter}), or the Responses
 * API's response object and events ({@link ResponsesWriter}). {@link CompletionWriter} runs the waiting and streaming
 * loops for both.
 */
interface AnswerShape {
    /** The whole answer, once every choice has finished. */
    ObjectNode object(CompletionWriter.Answer a, List<CompletionWriter.Choice> choices);

    /** What the stream of this answer sends at each point of {@link CompletionWriter#stream}'s loop. */
    Parts stream(CompletionWriter.Answer a, List<CompletionWriter.Choice> choices);

    /** The parts of a stream: its opening, a choice's new output, a choice's end, a failure, the end of all. */
    interface Parts {
        void begin(OutputStream out) throws IOException;

        void pending(OutputStream out, CompletionWriter.Choice c) throws IOException;

        void finished(OutputStream out, CompletionWriter.Choice c) throws IOException;

        void failed(OutputStream out, ApiException e) throws IOException;

        void end(OutputStream out) throws IOException;
    }
}
