package moge.server.api;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.http.Context;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/** Request plumbing shared by the routes: bounded body reads, the API key check, JSON and error answers. */
public final class Http {
    /** Set on a context once an error answer was written (so the 404 fallback leaves it alone). */
    public static final String ANSWERED = "moge.answered";
    /** The status to count in metrics when it differs from the response's (a stream that failed after 200, 499). */
    public static final String STATUS = "moge.status";

    private Http() {
    }

    /** The whole body, or 413 when it is longer than {@code limit} (checked before reading when declared). */
    public static byte[] body(Context ctx, long limit) {
        long declared = ctx.req().getContentLengthLong();
        if (declared > limit) throw ApiException.tooLarge(limit);
        try (InputStream in = ctx.req().getInputStream()) {
            byte[] b = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, limit + 1));
            if (b.length > limit) throw ApiException.tooLarge(limit);
            return b;
        } catch (IOException e) {
            throw ApiException.badJson("Incomplete request body (the client stopped sending)");
        }
    }

    public static ObjectNode jsonBody(Context ctx, long limit) {
        return RequestParser.parseObject(body(ctx, limit));
    }

    /**
     * Compares "Authorization: Bearer KEY" (OpenAI's clients), or "x-api-key: KEY" (Anthropic's) when there is no
     * Authorization header, in constant time (digests first, so neither content nor length leaks).
     */
    public static void checkApiKey(Context ctx, String key) {
        if (key == null) return;
        String h = ctx.header("Authorization"), x = ctx.header("x-api-key");
        if ((h == null || h.isBlank()) && (x == null || x.isBlank())) {
            throw ApiException.unauthorized("Missing API key: send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'");
        }
        String given = h == null || h.isBlank() ? x.strip() : h.regionMatches(true, 0, "Bearer ", 0, 7) ? h.substring(7).strip() : "";
        if (!MessageDigest.isEqual(sha256(given), sha256(key))) throw ApiException.unauthorized("Incorrect API key provided");
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public static void json(Context ctx, int status, ObjectNode o) {
        ctx.status(status).contentType("application/json").result(o.toString().getBytes(StandardCharsets.UTF_8));
    }

    /** Answers an error in the OpenAI shape; an already committed response (a stream) is left as it is. */
    public static void error(Context ctx, ApiException e) {
        error(ctx, e, null);
    }

    /** As {@link #error(Context, ApiException)}, with the fields of {@code beside} next to "error" (/health's workers). */
    public static void error(Context ctx, ApiException e, ObjectNode beside) {
        ctx.attribute(ANSWERED, Boolean.TRUE);
        if (ctx.res().isCommitted()) return;
        if (e.status == 401) ctx.header("WWW-Authenticate", "Bearer");
        // an unread body (too large) would otherwise be drained to keep the connection alive
        if (e.status == 413) ctx.header("Connection", "close");
        // Anthropic's clients read their API's error shape
        ObjectNode body = ctx.path().startsWith("/v1/messages") ? MessagesWriter.error(e) : ResponseJson.error(e);
        if (beside != null) body.setAll(beside);
        json(ctx, e.status, body);
    }
}
