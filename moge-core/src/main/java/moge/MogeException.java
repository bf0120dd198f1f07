package moge;

/**
 * The one user-facing failure: its message is written for the person running moge and names the file,
 * tensor or field at fault. The CLI prints it as one line and exits non-zero; the server maps it to an
 * OpenAI error with a 4xx/5xx status.
 */
public class MogeException extends RuntimeException {
    public MogeException(String message) {
        super(message);
    }

    public MogeException(String message, Throwable cause) {
        super(message, cause);
    }
}
