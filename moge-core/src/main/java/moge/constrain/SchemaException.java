package moge.constrain;

import moge.MogeException;

/** A JSON schema outside the supported subset, or one no value can satisfy; names the place and keyword. */
public final class SchemaException extends MogeException {
    private final String keyword;

    SchemaException(String path, String keyword, String message) {
        super((path.isEmpty() ? "schema" : "schema at " + (path.startsWith(".") ? path.substring(1) : path)) + ": " + message);
        this.keyword = keyword;
    }

    /** The keyword at fault (e.g. "pattern"), or null when the schema as a whole is. */
    public String keyword() {
        return keyword;
    }
}
