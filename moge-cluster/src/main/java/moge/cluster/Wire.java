package moge.cluster;

import io.grpc.MethodDescriptor;
import moge.format.HfCheckpointWriter;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.ShortBuffer;

/**
 * The worker protocol: two unary gRPC methods whose messages are byte arrays in a small little-endian
 * binary encoding (no protobuf, no Java serialization); activations are raw F32 or BF16 values.
 * <pre>
 * Hello   request: magic, version
 *         reply:   magic, version, layers, hidden, experts, groups, moeFF, configHash, weightsHash, served groups, description
 * Run     request: magic, version, weightsHash, layer, transport, hidden, tokens, rows, segments,
 *                  segExpert[segments], segCount[segments], rowToken[rows], x[tokens * hidden]
 *         reply:   transport, rows, hidden, computeNanos, y[rows * hidden]
 * </pre>
 */
final class Wire {
    static final int MAGIC = 0x45474f4d; // "MOGE" little-endian
    static final int VERSION = 1;
    static final String SERVICE = "moge.ExpertWorker";

    private Wire() {
    }

    static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
            try {
                return stream.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    };

    static final MethodDescriptor<byte[], byte[]> HELLO = method("Hello");
    static final MethodDescriptor<byte[], byte[]> RUN = method("Run");

    private static MethodDescriptor<byte[], byte[]> method(String name) {
        return MethodDescriptor.<byte[], byte[]>newBuilder()
                .setType(MethodDescriptor.MethodType.UNARY)
                .setFullMethodName(MethodDescriptor.generateFullMethodName(SERVICE, name))
                .setRequestMarshaller(BYTES)
                .setResponseMarshaller(BYTES)
                .setIdempotent(true)
                .build();
    }

    static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }

    static ByteBuffer allocate(long bytes) {
        if (bytes > Integer.MAX_VALUE - 64) throw new IllegalArgumentException("message of " + bytes + " bytes is too large");
        return le(new byte[(int) bytes]);
    }

    static void checkHeader(ByteBuffer b) {
        if (b.remaining() < 8 || b.getInt() != MAGIC) throw new IllegalArgumentException("not a moge worker message");
        int v = b.getInt();
        if (v != VERSION) throw new IllegalArgumentException("protocol version " + v + ", expected " + VERSION);
    }

    /** What a worker says about itself. */
    record Hello(int layers, int hidden, int experts, int groups, int moeIntermediate, long configHash, long weightsHash,
                 int[] served, String description) {
        byte[] encode() {
            byte[] d = description.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            ByteBuffer b = allocate(7 * 4L + 16 + 4 + 4L * served.length + 4 + d.length);
            b.putInt(MAGIC).putInt(VERSION).putInt(layers).putInt(hidden).putInt(experts).putInt(groups).putInt(moeIntermediate);
            b.putLong(configHash).putLong(weightsHash);
            b.putInt(served.length);
            for (int g : served) b.putInt(g);
            b.putInt(d.length).put(d);
            return b.array();
        }

        static Hello decode(byte[] bytes) {
            ByteBuffer b = le(bytes);
            checkHeader(b);
            int layers = b.getInt(), hidden = b.getInt(), experts = b.getInt(), groups = b.getInt(), ff = b.getInt();
            long ch = b.getLong(), wh = b.getLong();
            int n = b.getInt();
            if (n < 0 || n > groups) throw new IllegalArgumentException("bad group count " + n);
            int[] served = new int[n];
            for (int i = 0; i < n; i++) served[i] = b.getInt();
            int dl = b.getInt();
            byte[] d = new byte[dl];
            b.get(d);
            return new Hello(layers, hidden, experts, groups, ff, ch, wh, served, new String(d, java.nio.charset.StandardCharsets.UTF_8));
        }
    }

    static byte[] helloRequest() {
        return allocate(8).putInt(MAGIC).putInt(VERSION).array();
    }

    // ---- Run request -------------------------------------------------------------------------------------

    /** Encodes a device batch: the hidden states of its distinct tokens and its rows, sorted by expert. */
    static byte[] encodeRun(long weightsHash, moge.moe.DeviceBatch db, Transport t) {
        int H = db.hidden;
        long size = 8 + 8 + 4 * 6L + 8L * db.segments + 4L * db.rows + (long) db.tokens * H * t.bytesPerValue;
        ByteBuffer b = allocate(size);
        b.putInt(MAGIC).putInt(VERSION).putLong(weightsHash);
        b.putInt(db.layer).putInt(t.code()).putInt(H).putInt(db.tokens).putInt(db.rows).putInt(db.segments);
        for (int s = 0; s < db.segments; s++) b.putInt(db.segExpert[s]);
        for (int s = 0; s < db.segments; s++) b.putInt(db.segCount[s]);
        for (int r = 0; r < db.rows; r++) b.putInt(db.rowToken[r]);
        for (int u = 0; u < db.tokens; u++) putValues(b, db.x, db.tokenIndex[u] * H, H, t);
        return b.array();
    }

    /** A decoded run request, as a worker sees it. */
    static final class RunRequest {
        long weightsHash;
        Transport transport;
        final moge.moe.DeviceBatch batch = new moge.moe.DeviceBatch();
    }

    /** Decodes into {@code into} (its batch arrays are reused); checks every count against the message size. */
    static RunRequest decodeRun(byte[] bytes, int maxExperts, RunRequest into) {
        ByteBuffer b = le(bytes);
        checkHeader(b);
        RunRequest r = into;
        r.weightsHash = b.getLong();
        int layer = b.getInt();
        r.transport = Transport.of((byte) b.getInt());
        int H = b.getInt(), tokens = b.getInt(), rows = b.getInt(), segments = b.getInt();
        if (H <= 0 || tokens < 0 || rows < 0 || segments < 0 || segments > maxExperts) throw new IllegalArgumentException("bad counts");
        long expect = 8L * segments + 4L * rows + (long) tokens * H * r.transport.bytesPerValue;
        if (b.remaining() != expect) throw new IllegalArgumentException("message holds " + b.remaining() + " bytes, counts imply " + expect);
        moge.moe.DeviceBatch db = r.batch;
        float[] x = db.x != null && db.x.length >= tokens * H ? db.x : new float[tokens * H];
        db.reset(layer, H, x, tokens, rows, segments);
        db.tokens = tokens;
        db.rows = rows;
        db.segments = segments;
        int start = 0;
        for (int s = 0; s < segments; s++) db.segExpert[s] = b.getInt();
        for (int s = 0; s < segments; s++) {
            int c = b.getInt();
            if (c <= 0) throw new IllegalArgumentException("empty segment");
            db.segCount[s] = c;
            db.segStart[s] = start;
            start += c;
        }
        if (start != rows) throw new IllegalArgumentException("segments cover " + start + " rows of " + rows);
        for (int i = 0; i < rows; i++) {
            int u = b.getInt();
            if (u < 0 || u >= tokens) throw new IllegalArgumentException("row token " + u + " outside 0.." + (tokens - 1));
            db.rowToken[i] = u;
        }
        for (int u = 0; u < tokens; u++) db.tokenIndex[u] = u;
        getValues(b, x, 0, tokens * H, r.transport);
        return r;
    }

    // ---- Run reply ---------------------------------------------------------------------------------------

    static byte[] encodeReply(moge.moe.DeviceBatch db, Transport t, long computeNanos) {
        int H = db.hidden;
        ByteBuffer b = allocate(4 * 3L + 8 + (long) db.rows * H * t.bytesPerValue);
        b.putInt(t.code()).putInt(db.rows).putInt(H).putLong(computeNanos);
        putValues(b, db.y, 0, db.rows * H, t);
        return b.array();
    }

    /** Decodes a reply into {@code db.y}; returns the worker's compute time in nanoseconds. */
    static long decodeReply(byte[] bytes, moge.moe.DeviceBatch db) {
        ByteBuffer b = le(bytes);
        Transport t = Transport.of((byte) b.getInt());
        int rows = b.getInt(), H = b.getInt();
        long nanos = b.getLong();
        if (rows != db.rows || H != db.hidden) {
            throw new IllegalArgumentException("reply holds " + rows + "x" + H + " values, expected " + db.rows + "x" + db.hidden);
        }
        if (b.remaining() != (long) rows * H * t.bytesPerValue) throw new IllegalArgumentException("reply of the wrong size");
        db.ensureOutput();
        getValues(b, db.y, 0, rows * H, t);
        return nanos;
    }

    // ---- values ------------------------------------------------------------------------------------------

    private static void putValues(ByteBuffer b, float[] v, int off, int n, Transport t) {
        if (t == Transport.F32) {
            b.asFloatBuffer().put(v, off, n);
            b.position(b.position() + 4 * n);
        } else {
            ShortBuffer s = b.asShortBuffer();
            for (int i = 0; i < n; i++) s.put(HfCheckpointWriter.toBf16(v[off + i]));
            b.position(b.position() + 2 * n);
        }
    }

    private static void getValues(ByteBuffer b, float[] v, int off, int n, Transport t) {
        if (t == Transport.F32) {
            b.asFloatBuffer().get(v, off, n);
            b.position(b.position() + 4 * n);
        } else {
            ShortBuffer s = b.asShortBuffer();
            for (int i = 0; i < n; i++) v[off + i] = Float.intBitsToFloat((s.get() & 0xFFFF) << 16);
            b.position(b.position() + 2 * n);
        }
    }
}
