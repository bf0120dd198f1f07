package moge.cluster;

import moge.model.ModelConfig;
import moge.model.Weights;
import moge.tensor.Matrix;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * Identifies the model a worker serves, so that a coordinator refuses a worker started on other weights.
 * The config part covers the shapes that the protocol depends on; the weights part covers every expert
 * matrix of the served groups: its dtype, shape and sampled content (all of a small matrix, 32 windows of
 * 256 bytes spread over a large one). Sampling keeps the check to a few pages per matrix on the
 * coordinator, which must not stream the remote groups' weights it never uses; any retrained or
 * re-quantized checkpoint differs in every window.
 */
public final class Fingerprint {
    private static final long FULL_BELOW = 64 * 1024;
    private static final int WINDOWS = 32;
    private static final int WINDOW = 256;

    private Fingerprint() {
    }

    public static long config(ModelConfig c) {
        MessageDigest md = sha256();
        ByteBuffer b = ByteBuffer.allocate(64 + c.layers()).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(c.layers()).putInt(c.hidden()).putInt(c.numExperts()).putInt(c.expertGroups()).putInt(c.moeIntermediate());
        for (int l = 0; l < c.layers(); l++) b.put((byte) (c.isMoe(l) ? 1 : 0));
        md.update(b.array(), 0, b.position());
        md.update(c.arch().hfName.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        return first8(md.digest());
    }

    /** Over the expert matrices of the given groups, in layer, expert, gate/up/down order. */
    public static long weights(ModelConfig c, Weights w, int[] groups) {
        MessageDigest md = sha256();
        int per = c.expertsPerGroup();
        ByteBuffer head = ByteBuffer.allocate(32).order(ByteOrder.LITTLE_ENDIAN);
        for (int l = 0; l < c.layers(); l++) {
            if (!c.isMoe(l)) continue;
            Weights.Layer L = w.layers[l];
            for (int g : groups) {
                for (int e = g * per; e < (g + 1) * per; e++) {
                    for (Matrix m : new Matrix[]{L.expertGate[e], L.expertUp[e], L.expertDown[e]}) {
                        if (m == null) throw new IllegalStateException("expert " + e + " of layer " + l + " is not loaded");
                        head.clear();
                        head.putInt(l).putInt(e).putInt(m.type().ordinal()).putInt(m.rows).putInt(m.cols).putLong(m.bytes());
                        md.update(head.array(), 0, head.position());
                        sample(md, m.segment());
                    }
                }
            }
        }
        return first8(md.digest());
    }

    private static void sample(MessageDigest md, MemorySegment s) {
        long n = s.byteSize();
        if (n <= FULL_BELOW) {
            md.update(s.toArray(ValueLayout.JAVA_BYTE));
            return;
        }
        for (int i = 0; i < WINDOWS; i++) {
            long off = (n - WINDOW) * i / (WINDOWS - 1);
            md.update(s.asSlice(off, WINDOW).toArray(ValueLayout.JAVA_BYTE));
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static long first8(byte[] d) {
        return ByteBuffer.wrap(d).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }
}
