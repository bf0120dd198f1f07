package moge.server.api;

import io.javalin.http.Context;
import org.eclipse.jetty.ee10.servlet.ServletContextRequest;
import org.eclipse.jetty.io.AbstractConnection;
import org.eclipse.jetty.io.EndPoint;

/**
 * Notices a client that closed its connection while its completion is still running, so the request can
 * be cancelled and its KV blocks freed at once rather than when the next write fails (a non-streaming
 * request writes nothing until the end). Jetty reads nothing from a connection while a request is being
 * handled; asking it to read makes it see the end of stream and close the endpoint. That spends the
 * connection, so completion responses carry {@code Connection: close}.
 */
final class ClientConnection {
    private final EndPoint endPoint;

    private ClientConnection(EndPoint endPoint) {
        this.endPoint = endPoint;
    }

    /**
     * @param quiet how long the connection may carry no bytes (a long prompt before the first token, a whole
     *              non-streamed answer); the idle timeout that guards request reading is far shorter
     */
    static ClientConnection watch(Context ctx, java.time.Duration quiet) {
        ctx.header("Connection", "close");
        try {
            var core = ServletContextRequest.getServletContextRequest(ctx.req());
            if (core == null) return new ClientConnection(null);
            var connection = core.getConnectionMetaData().getConnection();
            connection.getEndPoint().setIdleTimeout(quiet.toMillis());
            if (connection instanceof AbstractConnection ac && !ac.isFillInterested()) ac.fillInterested();
            return new ClientConnection(connection.getEndPoint());
        } catch (RuntimeException | LinkageError e) {
            // not Jetty as expected: fall back to noticing on the next failed write
            return new ClientConnection(null);
        }
    }

    boolean isOpen() {
        return endPoint == null || endPoint.isOpen();
    }
}
