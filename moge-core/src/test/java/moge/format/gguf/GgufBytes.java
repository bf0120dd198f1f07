package moge.format.gguf;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A byte-level GGUF builder for tests, independent of GgufWriter: it writes whatever it is told (valid or
 * not) and records where every count, length, type and offset field sits, so fuzzing can aim at them.
 */
final class GgufBytes {
    /** A numeric header field: where it is and how wide (4 or 8 bytes). */
    record Field(String what, int at, int width) {
    }

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    final List<Field> fields = new ArrayList<>();

    int size() {
        return out.size();
    }

    byte[] bytes() {
        return out.toByteArray();
    }

    GgufBytes raw(byte[] b) {
        out.writeBytes(b);
        return this;
    }

    GgufBytes u8(int v) {
        out.write(v);
        return this;
    }

    GgufBytes u16(int v) {
        out.write(v);
        out.write(v >>> 8);
        return this;
    }

    GgufBytes u32(long v, String field) {
        if (field != null) fields.add(new Field(field, out.size(), 4));
        for (int i = 0; i < 4; i++) out.write((int) (v >>> (8 * i)));
        return this;
    }

    GgufBytes u64(long v, String field) {
        if (field != null) fields.add(new Field(field, out.size(), 8));
        for (int i = 0; i < 8; i++) out.write((int) (v >>> (8 * i)));
        return this;
    }

    GgufBytes str(String s, String field) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        u64(b.length, field + " length");
        out.writeBytes(b);
        return this;
    }

    GgufBytes header(int version, long nTensors, long nKv) {
        raw(new byte[]{'G', 'G', 'U', 'F'});
        u32(version, "version");
        u64(nTensors, "tensor count");
        u64(nKv, "kv count");
        return this;
    }

    GgufBytes pad(int alignment) {
        while (out.size() % alignment != 0) out.write(0);
        return this;
    }

    /** A random metadata value of a random type (arrays nested up to {@code depth}); returns its type id. */
    int randomValue(SplittableRandom r, String key, int depth, boolean writeType) {
        int type = r.nextInt(depth > 0 ? 13 : 12);
        if (type == 9 && depth == 0) type = 8;
        if (writeType) u32(type, key + " type");
        switch (type) {
            case 0, 1, 7 -> u8(r.nextInt(256));
            case 2, 3 -> u16(r.nextInt(65536));
            case 4, 5, 6 -> u32(r.nextInt(), null);
            case 10, 11, 12 -> u64(r.nextLong(), null);
            case 8 -> str(randomString(r), key);
            case 9 -> {
                int et = r.nextInt(13);
                if (et == 9 && depth <= 1) et = 4;
                u32(et, key + " element type");
                int n = r.nextInt(5);
                u64(n, key + " array count");
                for (int i = 0; i < n; i++) element(r, et, key + "[" + i + "]", depth - 1);
            }
            default -> throw new IllegalStateException();
        }
        return type;
    }

    private void element(SplittableRandom r, int type, String key, int depth) {
        switch (type) {
            case 0, 1, 7 -> u8(r.nextInt(256));
            case 2, 3 -> u16(r.nextInt(65536));
            case 4, 5, 6 -> u32(r.nextInt(), null);
            case 10, 11, 12 -> u64(r.nextLong(), null);
            case 8 -> str(randomString(r), key);
            case 9 -> {
                int et = r.nextInt(9);
                u32(et, key + " element type");
                int n = r.nextInt(3);
                u64(n, key + " array count");
                for (int i = 0; i < n; i++) element(r, et, key + "[" + i + "]", depth - 1);
            }
            default -> throw new IllegalStateException();
        }
    }

    static String randomString(SplittableRandom r) {
        String[] parts = {"", "a", "tokenizer", "ü", "中", "😀", " ", "\n", "blk.0.attn_q.weight"};
        StringBuilder sb = new StringBuilder();
        int n = r.nextInt(4);
        for (int i = 0; i < n; i++) sb.append(parts[r.nextInt(parts.length)]);
        return sb.toString();
    }
}
