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

    /** A failed file operation on {@code target}, in words (NIO's exceptions carry little more than the path). */
    public static MogeException io(Object target, java.io.IOException e) {
        return new MogeException(target + ": " + describe(e), e);
    }

    static String describe(java.io.IOException e) {
        if (e instanceof java.nio.file.FileSystemException f) {
            String what = switch (f) {
                case java.nio.file.NoSuchFileException x -> "no such file or directory";
                case java.nio.file.AccessDeniedException x -> "permission denied";
                case java.nio.file.FileAlreadyExistsException x -> "already exists";
                case java.nio.file.NotDirectoryException x -> "not a directory";
                case java.nio.file.DirectoryNotEmptyException x -> "directory not empty";
                default -> f.getReason() != null ? f.getReason() : f.getClass().getSimpleName();
            };
            String file = f.getFile(), other = f.getOtherFile();
            return what + (file != null ? " (" + file + (other != null ? " -> " + other : "") + ")" : "");
        }
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }
}
