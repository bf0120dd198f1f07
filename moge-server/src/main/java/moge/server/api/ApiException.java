package moge.server.api;

/**
 * An error answered in the OpenAI shape {@code {"error":{"message","type","param","code"}}} with an HTTP
 * status. The message is written for the API user; nothing else (no stack trace) leaves the server.
 */
public final class ApiException extends RuntimeException {
    public final int status;
    public final String type;
    public final String param;
    public final String code;

    public ApiException(int status, String type, String param, String code, String message) {
        super(message, null, false, false);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
    }

    /** 400: a field is missing, of the wrong type or out of range. */
    public static ApiException invalid(String param, String message) {
        return new ApiException(400, "invalid_request_error", param, "invalid_value", message);
    }

    public static ApiException badJson(String message) {
        return new ApiException(400, "invalid_request_error", null, "invalid_json", message);
    }

    public static ApiException contextExceeded(String param, String message) {
        return new ApiException(400, "invalid_request_error", param, "context_length_exceeded", message);
    }

    public static ApiException unauthorized(String message) {
        return new ApiException(401, "authentication_error", null, "invalid_api_key", message);
    }

    public static ApiException modelNotFound(String model) {
        return new ApiException(404, "invalid_request_error", "model", "model_not_found",
                "The model '" + model + "' does not exist; GET /v1/models lists the served model");
    }

    public static ApiException routeNotFound(String method, String path) {
        return new ApiException(404, "not_found_error", null, "not_found", "Unknown route: " + method + " " + path);
    }

    /** 405, worded as OpenAI's: the route exists for other methods, listed in {@code allowed} (the Allow header). */
    public static ApiException methodNotAllowed(String method, String path, String allowed) {
        return new ApiException(405, "invalid_request_error", null, "method_not_allowed",
                "Invalid method for URL (" + method + " " + path + "); allowed: " + allowed);
    }

    public static ApiException tooLarge(long limit) {
        return new ApiException(413, "invalid_request_error", null, "request_too_large",
                "Request body too large: the limit is " + limit + " bytes");
    }

    public static ApiException queueFull(String message) {
        return new ApiException(429, "rate_limit_error", null, "queue_full", message);
    }

    public static ApiException unavailable(String message) {
        return new ApiException(503, "server_error", null, "unavailable", message);
    }

    public static ApiException internal(String message) {
        return new ApiException(500, "server_error", null, "internal_error", message);
    }
}
