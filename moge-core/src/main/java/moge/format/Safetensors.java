package moge.format;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import moge.MogeException;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One safetensors file, memory-mapped: an 8-byte little-endian header length, a JSON header of
 * {name: {dtype, shape, data_offsets}}, then the raw tensor bytes. Every claim the header makes is checked
 * against the file before a tensor is handed out, so a lying header fails here with the tensor's name.
 */
public final class Safetensors {
    private static final long MAX_HEADER = 100L << 20;
    private static final ObjectMapper JSON = new ObjectMapper();

    private Safetensors() {
    }

    /** Maps {@code file} into {@code arena} and returns its tensors by name (unknown dtypes are rejected). */
    public static Map<String, TensorData> open(Path file, Arena arena) {
        String fn = file.toString();
        MemorySegment seg;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) throw new MogeException(fn + ": truncated safetensors file (" + size + " bytes, no header)");
            seg = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            HugePages.adviseMapped(seg);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new MogeException(fn + ": file not found");
        } catch (IOException e) {
            throw new MogeException(fn + ": cannot read (" + e.getMessage() + ")");
        }
        long size = seg.byteSize();
        long headerLen = seg.get(Layouts.I64, 0);
        if (headerLen <= 0 || headerLen > MAX_HEADER || headerLen > size - 8) {
            throw new MogeException(fn + ": corrupt safetensors header length " + headerLen + " (file has " + size + " bytes)");
        }
        byte[] hb = seg.asSlice(8, headerLen).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        JsonNode header;
        try {
            header = JSON.readTree(new String(hb, StandardCharsets.UTF_8).trim());
        } catch (IOException e) {
            throw new MogeException(fn + ": corrupt safetensors header (not valid JSON)");
        }
        if (header == null || !header.isObject()) throw new MogeException(fn + ": corrupt safetensors header (not a JSON object)");
        long dataStart = 8 + headerLen;
        long dataLen = size - dataStart;
        Map<String, TensorData> out = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey();
            if (name.equals("__metadata__")) continue;
            out.put(name, tensor(fn, name, e.getValue(), seg, dataStart, dataLen));
        }
        return out;
    }

    private static TensorData tensor(String fn, String name, JsonNode info, MemorySegment seg, long dataStart, long dataLen) {
        String where = fn + ": tensor " + name;
        if (!info.isObject()) throw new MogeException(where + ": header entry is not an object");
        String dt = info.path("dtype").asText("");
        DType type = DType.fromSafetensors(dt);
        JsonNode shapeNode = info.path("shape");
        JsonNode offs = info.path("data_offsets");
        if (!shapeNode.isArray()) throw new MogeException(where + ": header has no shape");
        if (!offs.isArray() || offs.size() != 2 || !offs.get(0).canConvertToLong() || !offs.get(1).canConvertToLong()) {
            throw new MogeException(where + ": header has no valid data_offsets");
        }
        long[] shape = new long[shapeNode.size()];
        long n = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = shapeNode.get(i);
            if (!d.canConvertToLong() || d.asLong() < 0) throw new MogeException(where + ": invalid shape " + shapeNode);
            shape[i] = d.asLong();
            try {
                n = Math.multiplyExact(n, shape[i]);
            } catch (ArithmeticException ex) {
                throw new MogeException(where + ": shape " + shapeNode + " overflows");
            }
        }
        long begin = offs.get(0).asLong(), end = offs.get(1).asLong();
        if (begin < 0 || end < begin || end > dataLen) {
            throw new MogeException(where + ": data_offsets [" + begin + ", " + end + "] outside the data area of "
                    + dataLen + " bytes (file truncated or header corrupt)");
        }
        if (type == null) {
            // Unused extras (e.g. int64 rotary_emb.inv_freq) may have any dtype; the model asks only for what it needs.
            return new TensorData(name, null, shape, seg.asSlice(dataStart + begin, end - begin), fn + " (dtype " + dt + ")");
        }
        long expect;
        try {
            expect = type.bytesFor(n);
        } catch (ArithmeticException ex) {
            expect = -1;
        }
        if (expect != end - begin) {
            throw new MogeException(where + ": shape " + shapeNode + " of " + dt + " needs " + expect
                    + " bytes but data_offsets give " + (end - begin));
        }
        return new TensorData(name, type, shape, seg.asSlice(dataStart + begin, end - begin), fn);
    }

    /** Writes tensors as one safetensors file (used by training, conversion and tests). */
    public static void write(Path file, Map<String, TensorBytes> tensors, Map<String, String> metadata) throws IOException {
        var header = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            var md = header.putObject("__metadata__");
            metadata.forEach(md::put);
        }
        long off = 0;
        for (var e : tensors.entrySet()) {
            var t = header.putObject(e.getKey());
            t.put("dtype", e.getValue().dtype());
            var sh = t.putArray("shape");
            for (long d : e.getValue().shape()) sh.add(d);
            var o = t.putArray("data_offsets");
            o.add(off);
            off += e.getValue().bytes().length;
            o.add(off);
        }
        byte[] hb = JSON.writeValueAsBytes(header);
        int pad = (8 - hb.length % 8) % 8;
        byte[] padded = new byte[hb.length + pad];
        System.arraycopy(hb, 0, padded, 0, hb.length);
        for (int i = hb.length; i < padded.length; i++) padded[i] = ' ';
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            var len = java.nio.ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded.length).flip();
            ch.write(len);
            ch.write(java.nio.ByteBuffer.wrap(padded));
            for (var e : tensors.values()) ch.write(java.nio.ByteBuffer.wrap(e.bytes()));
        }
    }

    /** A tensor to write: safetensors dtype string, shape, little-endian bytes. */
    public record TensorBytes(String dtype, long[] shape, byte[] bytes) {
    }
}
