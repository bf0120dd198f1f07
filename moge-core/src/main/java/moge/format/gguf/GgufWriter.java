package moge.format.gguf;

import moge.format.DType;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongConsumer;

/**
 * Writes a GGUF v3 file: metadata, tensor infos, then the tensor data, each tensor aligned to
 * {@code general.alignment} (32 unless set). Tensor bytes are streamed from a callback, one tensor at a
 * time, so a converter never holds more than the tensor it is writing. Shapes are given in PyTorch order
 * and written reversed (ggml's ne0 = the contiguous dimension).
 */
public final class GgufWriter {
    /** Produces exactly the tensor's bytes, in order. */
    @FunctionalInterface
    public interface Body {
        void write(OutputStream out) throws IOException;
    }

    private record Tensor(String name, DType type, long[] shape, long bytes, Body body) {
    }

    private final Map<String, GgufValue> kv = new LinkedHashMap<>();
    private final List<Tensor> tensors = new ArrayList<>();

    public GgufWriter put(String key, GgufValue v) {
        kv.put(key, v);
        return this;
    }

    public GgufWriter putString(String key, String v) {
        return put(key, GgufValue.ofString(v));
    }

    public GgufWriter putU32(String key, long v) {
        return put(key, GgufValue.ofU32(v));
    }

    public GgufWriter putF32(String key, double v) {
        return put(key, GgufValue.ofF32((float) v));
    }

    public GgufWriter putBool(String key, boolean v) {
        return put(key, GgufValue.ofBool(v));
    }

    public GgufWriter putStrings(String key, String[] v) {
        return put(key, GgufValue.ofArray(GgufType.STRING, v));
    }

    public GgufWriter putI32s(String key, int[] v) {
        return put(key, GgufValue.ofArray(GgufType.INT32, v));
    }

    public GgufWriter putF32s(String key, float[] v) {
        return put(key, GgufValue.ofArray(GgufType.FLOAT32, v));
    }

    public Map<String, GgufValue> metadata() {
        return kv;
    }

    /** Adds a tensor whose bytes {@code body} writes later; {@code shape} is row-major (last dimension contiguous). */
    public GgufWriter addTensor(String name, DType type, long[] shape, Body body) {
        if (shape.length > GgufFile.MAX_DIMS) throw new IllegalArgumentException(name + ": more than 4 dimensions");
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        long row = shape.length == 0 ? 1 : shape[shape.length - 1];
        if (row % type.blockSize != 0) {
            throw new IllegalArgumentException(name + ": rows of " + row + " values are not whole " + type + " blocks");
        }
        for (Tensor t : tensors) if (t.name.equals(name)) throw new IllegalArgumentException("duplicate tensor " + name);
        tensors.add(new Tensor(name, type, shape.clone(), type.bytesFor(n), body));
        return this;
    }

    public GgufWriter addTensor(String name, DType type, long[] shape, byte[] bytes) {
        return addTensor(name, type, shape, out -> out.write(bytes));
    }

    public GgufWriter addF32(String name, long[] shape, float[] values) {
        ByteBuffer bb = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) bb.putFloat(v);
        return addTensor(name, DType.F32, shape, bb.array());
    }

    /** Total bytes of tensor data (without padding). */
    public long tensorBytes() {
        long s = 0;
        for (Tensor t : tensors) s += t.bytes;
        return s;
    }

    public void write(Path file) throws IOException {
        write(file, null);
    }

    /** Writes the file; {@code progress} receives the tensor bytes written so far after each chunk. */
    public void write(Path file, LongConsumer progress) throws IOException {
        long alignment = GgufFile.DEFAULT_ALIGNMENT;
        GgufValue al = kv.get("general.alignment");
        if (al != null) alignment = (Long) al.value();
        try (OutputStream raw = Files.newOutputStream(file);
             CountingStream out = new CountingStream(new BufferedOutputStream(raw, 1 << 20))) {
            Le le = new Le(out);
            out.write(new byte[]{'G', 'G', 'U', 'F'});
            le.u32(3);
            le.u64(tensors.size());
            le.u64(kv.size());
            for (var e : kv.entrySet()) {
                le.string(e.getKey());
                le.u32(e.getValue().type().id);
                value(le, e.getValue().type(), e.getValue().value());
            }
            long offset = 0;
            for (Tensor t : tensors) {
                le.string(t.name);
                le.u32(t.shape.length);
                for (int d = t.shape.length - 1; d >= 0; d--) le.u64(t.shape[d]);
                le.u32(t.type.ggmlId);
                le.u64(offset);
                offset += pad(t.bytes, alignment);
            }
            out.write(new byte[(int) (pad(out.count, alignment) - out.count)]);
            long done = 0;
            for (Tensor t : tensors) {
                long start = out.count;
                out.progress = progress;
                out.progressBase = done - start;
                t.body.write(out);
                long wrote = out.count - start;
                if (wrote != t.bytes) {
                    throw new IOException(file + ": tensor " + t.name + " wrote " + wrote + " bytes, its shape needs " + t.bytes);
                }
                done += t.bytes;
                if (progress != null) progress.accept(done);
                out.write(new byte[(int) (pad(t.bytes, alignment) - t.bytes)]);
            }
        }
    }

    private static long pad(long n, long alignment) {
        return (n + alignment - 1) / alignment * alignment;
    }

    private static void value(Le le, GgufType type, Object v) throws IOException {
        switch (type) {
            case UINT8, INT8, BOOL -> le.out.write(type == GgufType.BOOL ? ((Boolean) v ? 1 : 0) : (int) (long) (Long) v);
            case UINT16, INT16 -> le.u16((int) (long) (Long) v);
            case UINT32, INT32 -> le.u32((Long) v);
            case UINT64, INT64 -> le.u64((Long) v);
            case FLOAT32 -> le.u32(Float.floatToRawIntBits((Float) v));
            case FLOAT64 -> le.u64(Double.doubleToRawLongBits((Double) v));
            case STRING -> le.string((String) v);
            case ARRAY -> {
                GgufValue.GgufArray a = (GgufValue.GgufArray) v;
                le.u32(a.elementType().id);
                le.u64(a.length());
                switch (a.elementType()) {
                    case UINT8, INT8 -> le.out.write((byte[]) a.data());
                    case UINT16, INT16 -> {
                        for (short s : (short[]) a.data()) le.u16(s);
                    }
                    case UINT32, INT32 -> {
                        for (int x : (int[]) a.data()) le.u32(x);
                    }
                    case UINT64, INT64 -> {
                        for (long x : (long[]) a.data()) le.u64(x);
                    }
                    case FLOAT32 -> {
                        for (float x : (float[]) a.data()) le.u32(Float.floatToRawIntBits(x));
                    }
                    case FLOAT64 -> {
                        for (double x : (double[]) a.data()) le.u64(Double.doubleToRawLongBits(x));
                    }
                    case BOOL -> {
                        for (boolean x : (boolean[]) a.data()) le.out.write(x ? 1 : 0);
                    }
                    case STRING -> {
                        for (String x : (String[]) a.data()) le.string(x);
                    }
                    case ARRAY -> {
                        for (GgufValue.GgufArray x : (GgufValue.GgufArray[]) a.data()) value(le, GgufType.ARRAY, x);
                    }
                }
            }
        }
    }

    /** Little-endian primitives. */
    private record Le(OutputStream out) {
        void u16(int v) throws IOException {
            out.write(v & 0xFF);
            out.write((v >>> 8) & 0xFF);
        }

        void u32(long v) throws IOException {
            for (int i = 0; i < 4; i++) out.write((int) (v >>> (8 * i)) & 0xFF);
        }

        void u64(long v) throws IOException {
            for (int i = 0; i < 8; i++) out.write((int) (v >>> (8 * i)) & 0xFF);
        }

        void string(String s) throws IOException {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            u64(b.length);
            out.write(b);
        }
    }

    /** Counts bytes and reports tensor progress about every 4 MiB. */
    private static final class CountingStream extends OutputStream {
        private final OutputStream out;
        long count;
        LongConsumer progress;
        long progressBase;
        private long lastReport;

        CountingStream(OutputStream out) {
            this.out = out;
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            count += len;
            if (progress != null && count - lastReport >= (4 << 20)) {
                lastReport = count;
                progress.accept(progressBase + count);
            }
        }

        @Override
        public void close() throws IOException {
            out.close();
        }
    }
}
