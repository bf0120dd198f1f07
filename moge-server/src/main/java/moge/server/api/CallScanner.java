package moge.server.api;

import java.util.ArrayList;
import java.util.List;

/**
 * Reads a block of calls character by character as it streams, so that each call's name and arguments can be sent
 * before the block is whole: the block is a JSON array of {"name", "arguments"} objects or one such object. A
 * call's name is known once its string closes; its arguments (an object) grow as their characters arrive, white
 * space outside strings left out, so they end up as compact JSON. Anything else (a block that is not that JSON, the
 * arguments as a string) makes the scanner {@link #lost()}; the caller then parses the block whole as before. Only
 * used where decoding enforces the block, so the text is that JSON unless the output is cut short.
 */
final class CallScanner {
    /** One call as far as it has come. */
    static final class Call {
        final StringBuilder name = new StringBuilder(), arguments = new StringBuilder();
        boolean named, hasArguments, done;
    }

    private enum At { KEY, KEY_TEXT, COLON, VALUE, IN_VALUE, AFTER }

    private enum Value { NAME, ARGUMENTS, OTHER }

    final List<Call> calls = new ArrayList<>();
    /** Open arrays and objects ('[' or '{'), outermost first. */
    private final StringBuilder stack = new StringBuilder();
    private final StringBuilder key = new StringBuilder();
    /** The depth of call objects: 1 when the block is one object, 2 inside the array; 0 before the first bracket. */
    private int callDepth;
    private boolean inString, escape, lost, closed;
    private At at = At.KEY;
    private Value value = Value.OTHER;
    /** Whether the value in progress is a string, a container, or a bare word (number, true, false, null). */
    private char valueKind;

    boolean lost() {
        return lost;
    }

    /** Whether the block's outermost value has closed. */
    boolean closed() {
        return closed;
    }

    void push(CharSequence text) {
        for (int i = 0; i < text.length() && !lost; i++) next(text.charAt(i));
    }

    private Call current() {
        return calls.getLast();
    }

    private void next(char c) {
        int depth = stack.length();
        if (callDepth == 0 || closed) {
            // before the block's value or after it: white space only
            if (isWs(c)) return;
            if (closed || (c != '[' && c != '{')) {
                lost = true;
                return;
            }
            callDepth = c == '[' ? 2 : 1;
            stack.append(c);
            if (c == '{') startCall();
            return;
        }
        if (depth < callDepth) { // inside the array, between calls
            if (isWs(c) || c == ',') return;
            if (c == '{') {
                stack.append(c);
                startCall();
            } else if (c == ']') {
                stack.setLength(0);
                closed = true;
            } else {
                lost = true;
            }
            return;
        }
        if (depth == callDepth && at != At.IN_VALUE && at != At.KEY_TEXT) {
            callLevel(c);
            return;
        }
        if (at == At.KEY_TEXT) {
            if (escape) escape = false;
            else if (c == '\\') escape = true;
            else if (c == '"') {
                at = At.COLON;
                return;
            }
            key.append(c);
            return;
        }
        inValue(c);
    }

    private void startCall() {
        calls.add(new Call());
        at = At.KEY;
    }

    /** A character between the members of a call object. */
    private void callLevel(char c) {
        if (isWs(c)) return;
        switch (at) {
            case KEY -> {
                if (c == '"') {
                    key.setLength(0);
                    at = At.KEY_TEXT;
                } else if (c == '}') endCall();
                else lost = true;
            }
            case COLON -> {
                if (c == ':') at = At.VALUE;
                else lost = true;
            }
            case VALUE -> {
                String k = key.toString();
                value = k.equals("name") ? Value.NAME : k.equals("arguments") || k.equals("parameters") ? Value.ARGUMENTS : Value.OTHER;
                if ((value == Value.NAME && c != '"') || (value == Value.ARGUMENTS && c != '{')) {
                    lost = true; // a name that is no string, arguments that are no object: left to the whole parse
                    return;
                }
                if (value == Value.ARGUMENTS) {
                    current().hasArguments = true;
                    current().arguments.setLength(0);
                }
                valueKind = c == '"' ? '"' : c == '{' || c == '[' ? '{' : 'w';
                at = At.IN_VALUE;
                if (c == '"') inString = true;
                else if (valueKind == '{') stack.append(c);
                if (value == Value.ARGUMENTS) current().arguments.append(c);
            }
            case AFTER -> {
                if (c == ',') at = At.KEY;
                else if (c == '}') endCall();
                else lost = true;
            }
            default -> throw new IllegalStateException(at.name());
        }
    }

    /** A character of a member's value. */
    private void inValue(char c) {
        Call call = current();
        if (inString) {
            if (escape) escape = false;
            else if (c == '\\') escape = true;
            else if (c == '"') {
                inString = false;
                if (valueKind == '"') {
                    if (value == Value.NAME) call.named = true;
                    at = At.AFTER;
                    return;
                }
            }
            if (value == Value.NAME) call.name.append(c);
            else if (value == Value.ARGUMENTS) call.arguments.append(c);
            return;
        }
        if (valueKind == 'w' && (isWs(c) || c == ',' || c == '}')) {
            // a bare word ends at what follows it
            at = At.AFTER;
            callLevel(c);
            return;
        }
        if (c == '"') inString = true;
        else if (c == '{' || c == '[') stack.append(c);
        else if (c == '}' || c == ']') {
            stack.setLength(stack.length() - 1);
            if (stack.length() == callDepth) at = At.AFTER;
        }
        if (value == Value.ARGUMENTS && !isWs(c)) call.arguments.append(c);
    }

    private void endCall() {
        Call call = current();
        if (!call.named) {
            lost = true;
            return;
        }
        call.done = true;
        stack.setLength(stack.length() - 1);
        if (callDepth == 1) closed = true;
        at = At.KEY;
    }

    private static boolean isWs(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
    }
}
