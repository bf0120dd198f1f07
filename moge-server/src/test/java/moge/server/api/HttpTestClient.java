package moge.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** Plain HTTP for tests: JSON posts, server-sent events, and raw sockets for misbehaving clients. */
final class HttpTestClient {
    static final ObjectMapper JSON = new ObjectMapper();
    final String root;
    final int port;
    final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();

    HttpTestClient(int port) {
        this.port = port;
        this.root = "http://127.0.0.1:" + port;
    }

    record Reply(int status, JsonNode json, String text) {
        JsonNode error() {
            return json.path("error");
        }
    }

    Reply post(String path, String body) throws IOException, InterruptedException {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(root + path)).timeout(Duration.ofSeconds(120))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        return reply(r.statusCode(), r.body());
    }

    Reply get(String path) throws IOException, InterruptedException {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(root + path)).timeout(Duration.ofSeconds(60)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        return reply(r.statusCode(), r.body());
    }

    private static Reply reply(int status, String body) {
        JsonNode j;
        try {
            j = JSON.readTree(body);
        } catch (IOException e) {
            j = JSON.missingNode();
        }
        return new Reply(status, j, body);
    }

    /** A streamed completion: the data events (without [DONE]) and whether [DONE] came. */
    record Events(int status, List<JsonNode> data, boolean done, String contentType) {
        /** The concatenated text of a chat or text completion stream. */
        String text() {
            StringBuilder sb = new StringBuilder();
            for (JsonNode d : data) {
                for (JsonNode c : d.path("choices")) {
                    if (c.has("delta")) sb.append(c.path("delta").path("content").asText(""));
                    else sb.append(c.path("text").asText(""));
                }
            }
            return sb.toString();
        }

        String finishReason() {
            for (JsonNode d : data) {
                for (JsonNode c : d.path("choices")) if (c.hasNonNull("finish_reason")) return c.get("finish_reason").asText();
            }
            return null;
        }
    }

    Events stream(String path, String body) throws IOException, InterruptedException {
        HttpResponse<InputStream> r = http.send(HttpRequest.newBuilder(URI.create(root + path)).timeout(Duration.ofSeconds(120))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        List<JsonNode> data = new ArrayList<>();
        boolean done = false;
        try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                if (!line.startsWith("data: ")) continue;
                String d = line.substring(6);
                if (d.equals("[DONE]")) done = true;
                else data.add(JSON.readTree(d));
            }
        }
        return new Events(r.statusCode(), data, done, r.headers().firstValue("Content-Type").orElse(""));
    }

    Socket socket() throws IOException {
        Socket s = new Socket("127.0.0.1", port);
        s.setSoTimeout(30_000);
        return s;
    }

    static String requestHead(String path, long contentLength) {
        return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " + contentLength + "\r\n\r\n";
    }

    static void write(Socket s, String text) throws IOException {
        OutputStream o = s.getOutputStream();
        o.write(text.getBytes(StandardCharsets.UTF_8));
        o.flush();
    }

    /**
     * POSTs a body the server refuses unread (413) from a raw socket: the body is written beside the read, since a
     * client that reads only after sending everything can lose the answer to the reset of a server that closes on
     * bytes it never read (the JDK client then reports "header parser received no bytes").
     */
    Reply postRefused(String path, byte[] body) throws Exception {
        try (Socket s = socket()) {
            write(s, requestHead(path, body.length));
            Thread writer = Thread.ofVirtual().start(() -> {
                try {
                    s.getOutputStream().write(body);
                } catch (IOException ignored) {
                    // the server may close before all of it is sent
                }
            });
            java.io.DataInputStream in = new java.io.DataInputStream(s.getInputStream());
            String status = readLine(in);
            long length = 0;
            for (String h; !(h = readLine(in)).isEmpty(); ) {
                if (h.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) length = Long.parseLong(h.substring(15).trim());
            }
            byte[] b = new byte[(int) length];
            in.readFully(b);
            writer.join(10_000);
            String text = new String(b, StandardCharsets.UTF_8);
            return new Reply(Integer.parseInt(status.split(" ")[1]), text.isEmpty() ? null : JSON.readTree(text), text);
        }
    }

    private static String readLine(java.io.DataInputStream in) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (int c; (c = in.read()) != '\n'; ) {
            if (c < 0) throw new IOException("connection closed in the response head");
            if (c != '\r') sb.append((char) c);
        }
        return sb.toString();
    }

    /** The status code of the response on a raw socket, or -1 if the connection ends first. */
    static int readStatus(Socket s) throws IOException {
        BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.ISO_8859_1));
        String line = in.readLine();
        if (line == null) return -1;
        return Integer.parseInt(line.split(" ")[1]);
    }
}
