package moge.format.gguf;

import moge.MogeException;
import moge.format.DType;
import moge.format.HugePages;
import moge.format.Layouts;
import moge.format.TensorData;
import moge.format.TensorSource;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A GGUF v2/v3 file, memory-mapped into one arena owned by this object: header, typed metadata, tensor
 * infos and the aligned data section (ggml's gguf.cpp layout). Every count, length, shape and offset is
 * checked against the bytes that remain before anything is allocated, so a damaged file fails here with
 * one line naming what is wrong. Tensors are handed out in PyTorch order (ggml's ne reversed: the last
 * dimension is contiguous), their bytes left in the mapping.
 */
public final class GgufFile implements TensorSource {
    /** The tensor types moge runs, for the error that refuses any other: every {@link DType}. */
    private static final String SUPPORTED = java.util.Arrays.stream(DType.values()).map(Enum::name)
            .collect(java.util.stream.Collectors.joining(", "));
    public static final int DEFAULT_ALIGNMENT = 32;
    public static final int MAX_DIMS = 4;
    /** Limits that no real model reaches; past them a file is taken to be corrupt rather than allocated. */
    static final int MAX_NAME_BYTES = 1024;
    static final int MAX_STRING_BYTES = 64 << 20;
    static final int MAX_ARRAY_LENGTH = 1 << 24;
    static final int MAX_ARRAY_DEPTH = 8;

    private final Path path;
    private final Arena arena;
    private final int version;
    private final GgufMetadata metadata;
    private final Map<String, TensorData> tensors;
    private final Map<String, long[]> ggmlShapes;
    private final long alignment;
    private final long dataStart;

    private GgufFile(Path path, Arena arena, int version, GgufMetadata metadata, Map<String, TensorData> tensors,
                     Map<String, long[]> ggmlShapes, long alignment, long dataStart) {
        this.path = path;
        this.arena = arena;
        this.version = version;
        this.metadata = metadata;
        this.tensors = tensors;
        this.ggmlShapes = ggmlShapes;
        this.alignment = alignment;
        this.dataStart = dataStart;
    }

    public static boolean looksLike(Path p) {
        if (!Files.isRegularFile(p)) return false;
        if (p.getFileName().toString().toLowerCase(java.util.Locale.ROOT).endsWith(".gguf")) return true;
        try (var in = Files.newInputStream(p)) {
            byte[] m = in.readNBytes(4);
            return m.length == 4 && m[0] == 'G' && m[1] == 'G' && m[2] == 'U' && m[3] == 'F';
        } catch (IOException e) {
            return false;
        }
    }

    public static GgufFile open(Path file) {
        String fn = file.toString();
        if (Files.isDirectory(file)) throw new MogeException(fn + ": is a directory, not a GGUF file");
        Arena arena = Arena.ofShared();
        try {
            MemorySegment seg;
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                long size = ch.size();
                if (size < 24) throw new MogeException(fn + ": truncated GGUF file (" + size + " bytes, the header alone needs 24)");
                seg = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
                HugePages.adviseMapped(seg);
            } catch (NoSuchFileException e) {
                throw new MogeException(fn + ": file not found");
            } catch (IOException e) {
                throw new MogeException(fn + ": cannot read (" + e.getMessage() + ")");
            }
            return parse(file, arena, seg);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static GgufFile parse(Path file, Arena arena, MemorySegment seg) {
        Cursor c = new Cursor(file.toString(), seg);
        if (seg.get(ValueLayout.JAVA_BYTE, 0) != 'G' || seg.get(ValueLayout.JAVA_BYTE, 1) != 'G'
                || seg.get(ValueLayout.JAVA_BYTE, 2) != 'U' || seg.get(ValueLayout.JAVA_BYTE, 3) != 'F') {
            throw c.fail("not a GGUF file (bad magic)");
        }
        c.pos = 4;
        long version = c.u32();
        if (version == 0x02000000L || version == 0x03000000L) throw c.fail("big-endian GGUF files are not supported");
        if (version == 1) throw c.fail("GGUF version 1 is not supported (convert the model again with a current tool)");
        if (version != 2 && version != 3) throw c.fail("unsupported GGUF version " + version + " (moge reads 2 and 3)");
        long nTensors = c.u64("tensor count");
        long nKv = c.u64("metadata count");
        // Smallest encodings: a tensor info is name length + n_dims + type + offset, a pair is key length + type + 1 byte.
        if (Long.compareUnsigned(nKv, c.remaining() / 13) > 0) throw c.fail("metadata count " + Long.toUnsignedString(nKv) + " exceeds what the file can hold");
        if (Long.compareUnsigned(nTensors, c.remaining() / 24) > 0) {
            throw c.fail("tensor count " + Long.toUnsignedString(nTensors) + " exceeds what the file can hold");
        }
        Map<String, GgufValue> kv = new LinkedHashMap<>();
        for (long i = 0; i < nKv; i++) {
            String key = c.string("metadata key #" + i, MAX_NAME_BYTES);
            GgufType type = c.type("metadata key " + key);
            GgufValue v = c.value(type, "metadata key " + key, 0);
            if (kv.put(key, v) != null) throw c.fail("duplicate metadata key " + key);
        }
        GgufMetadata md = new GgufMetadata(file.toString(), kv);
        long alignment = DEFAULT_ALIGNMENT;
        GgufValue al = kv.get("general.alignment");
        if (al != null) {
            if (!al.type().isInteger()) throw c.fail("general.alignment is a " + al.type() + ", expected UINT32");
            alignment = (Long) al.value();
            if (alignment <= 0 || alignment > (1 << 30) || (alignment & (alignment - 1)) != 0) {
                throw c.fail("general.alignment " + Long.toUnsignedString(alignment) + " is not a power of two");
            }
        }
        record Info(String name, DType type, long[] ne, long bytes, long offset) {
        }
        // Grown as parsed, never sized from the header: a lying count runs into the end of the file first.
        java.util.List<Info> infos = new java.util.ArrayList<>();
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (long i = 0; i < nTensors; i++) {
            String name = c.string("tensor name #" + i, MAX_NAME_BYTES);
            if (!seen.add(name)) throw c.fail("duplicate tensor " + name);
            long nDims = c.u32();
            if (nDims > MAX_DIMS) throw c.fail("tensor " + name + " has " + nDims + " dimensions (at most " + MAX_DIMS + ")");
            long[] ne = new long[(int) nDims];
            long n = 1;
            for (int d = 0; d < ne.length; d++) {
                ne[d] = c.u64("tensor " + name + " ne[" + d + "]");
                if (ne[d] < 0) throw c.fail("tensor " + name + " has dimension " + Long.toUnsignedString(ne[d]) + " (negative or too large)");
                try {
                    n = Math.multiplyExact(n, ne[d]);
                } catch (ArithmeticException e) {
                    throw c.fail("tensor " + name + " shape " + java.util.Arrays.toString(ne) + " overflows");
                }
            }
            long typeId = c.u32();
            DType type = DType.fromGgml((int) typeId);
            if (type == null || typeId > Integer.MAX_VALUE) {
                throw c.fail("tensor " + name + " has ggml type " + GgmlTypes.name(typeId)
                        + ", which moge does not support (supported: " + SUPPORTED + ")");
            }
            long row = ne.length == 0 ? 1 : ne[0];
            if (row % type.blockSize != 0) {
                throw c.fail("tensor " + name + " of type " + type + " has rows of " + row + " values, not a multiple of the block size " + type.blockSize);
            }
            long bytes;
            try {
                bytes = type.bytesFor(n);
            } catch (ArithmeticException e) {
                throw c.fail("tensor " + name + " shape " + java.util.Arrays.toString(ne) + " overflows");
            }
            long offset = c.u64("tensor " + name + " offset");
            infos.add(new Info(name, type, ne, bytes, offset));
        }
        long dataStart = c.pos + (alignment - c.pos % alignment) % alignment;
        long size = seg.byteSize();
        Map<String, TensorData> tensors = new LinkedHashMap<>();
        Map<String, long[]> ggmlShapes = new LinkedHashMap<>();
        for (Info t : infos) {
            if (t.offset % alignment != 0) {
                throw c.fail("tensor " + t.name + " offset " + Long.toUnsignedString(t.offset) + " is not a multiple of the alignment " + alignment);
            }
            long avail = size - dataStart;
            if (t.offset < 0 || avail < 0 || t.bytes > avail || t.offset > avail - t.bytes) {
                throw c.fail("tensor " + t.name + " (" + t.bytes + " bytes at offset " + Long.toUnsignedString(t.offset)
                        + ") lies outside the data section (file truncated or header corrupt)");
            }
            long[] shape = new long[t.ne.length];
            for (int d = 0; d < shape.length; d++) shape[d] = t.ne[t.ne.length - 1 - d];
            tensors.put(t.name, new TensorData(t.name, t.type, shape, seg.asSlice(dataStart + t.offset, t.bytes), file.toString()));
            ggmlShapes.put(t.name, t.ne);
        }
        return new GgufFile(file, arena, (int) version, md, Collections.unmodifiableMap(tensors),
                Collections.unmodifiableMap(ggmlShapes), alignment, dataStart);
    }

    public Path path() {
        return path;
    }

    public int version() {
        return version;
    }

    public GgufMetadata metadata() {
        return metadata;
    }

    public long alignment() {
        return alignment;
    }

    /** File offset of the data section (tensor offsets count from here). */
    public long dataStart() {
        return dataStart;
    }

    /** A tensor's dimensions in ggml order (ne0 = contiguous), as written in the file. */
    public long[] ggmlShape(String name) {
        long[] ne = ggmlShapes.get(name);
        return ne == null ? null : ne.clone();
    }

    @Override
    public Map<String, TensorData> tensors() {
        return tensors;
    }

    @Override
    public String describe() {
        return path.toString();
    }

    @Override
    public void close() {
        arena.close();
    }

    /** A bounds-checked reader over the mapped header. */
    private static final class Cursor {
        final String fn;
        final MemorySegment seg;
        long pos;

        Cursor(String fn, MemorySegment seg) {
            this.fn = fn;
            this.seg = seg;
        }

        long remaining() {
            return seg.byteSize() - pos;
        }

        MogeException fail(String what) {
            return new MogeException(fn + ": " + what);
        }

        private void need(long n, String what) {
            if (n < 0 || n > remaining()) throw fail("truncated GGUF file (" + what + " at byte " + pos + " runs past the end)");
        }

        long u32() {
            need(4, "a 32-bit field");
            long v = seg.get(Layouts.I32, pos) & 0xFFFFFFFFL;
            pos += 4;
            return v;
        }

        long u64(String what) {
            need(8, what);
            long v = seg.get(Layouts.I64, pos);
            pos += 8;
            return v;
        }

        GgufType type(String what) {
            long id = u32();
            GgufType t = GgufType.of((int) Math.min(id, Integer.MAX_VALUE));
            if (t == null) throw fail(what + " has unknown value type " + id);
            return t;
        }

        String string(String what, long max) {
            long len = u64(what + " length");
            if (len < 0 || len > remaining()) {
                throw fail(what + ": string length " + Long.toUnsignedString(len) + " runs past the end of the file");
            }
            if (len > max) throw fail(what + ": string length " + len + " exceeds the limit of " + max + " bytes");
            if (len == 0) return "";
            byte[] b = seg.asSlice(pos, len).toArray(ValueLayout.JAVA_BYTE);
            pos += len;
            return new String(b, StandardCharsets.UTF_8);
        }

        GgufValue value(GgufType type, String what, int depth) {
            return switch (type) {
                case UINT8, INT8 -> {
                    need(1, what);
                    byte b = seg.get(ValueLayout.JAVA_BYTE, pos++);
                    yield new GgufValue(type, type == GgufType.UINT8 ? (long) (b & 0xFF) : (long) b);
                }
                case UINT16, INT16 -> {
                    need(2, what);
                    short s = seg.get(Layouts.I16, pos);
                    pos += 2;
                    yield new GgufValue(type, type == GgufType.UINT16 ? (long) (s & 0xFFFF) : (long) s);
                }
                case UINT32 -> new GgufValue(type, u32());
                case INT32 -> new GgufValue(type, (long) (int) u32());
                case UINT64, INT64 -> new GgufValue(type, u64(what));
                case FLOAT32 -> new GgufValue(type, Float.intBitsToFloat((int) u32()));
                case FLOAT64 -> new GgufValue(type, Double.longBitsToDouble(u64(what)));
                case BOOL -> {
                    need(1, what);
                    yield new GgufValue(type, seg.get(ValueLayout.JAVA_BYTE, pos++) != 0);
                }
                case STRING -> new GgufValue(type, string(what, MAX_STRING_BYTES));
                case ARRAY -> new GgufValue(type, array(what, depth + 1));
            };
        }

        GgufValue.GgufArray array(String what, int depth) {
            if (depth > MAX_ARRAY_DEPTH) throw fail(what + ": arrays nested deeper than " + MAX_ARRAY_DEPTH);
            GgufType et = type(what + " element");
            long n = u64(what + " array length");
            if (n < 0 || n > MAX_ARRAY_LENGTH) throw fail(what + ": array length " + Long.toUnsignedString(n) + " exceeds the limit of " + MAX_ARRAY_LENGTH);
            if (n * et.minBytes > remaining()) {
                throw fail(what + ": array of " + n + " " + et + " runs past the end of the file");
            }
            int len = (int) n;
            Object data = switch (et) {
                case UINT8, INT8 -> bulk(ValueLayout.JAVA_BYTE, new byte[len], len, 1);
                case UINT16, INT16 -> bulk(Layouts.I16, new short[len], len, 2);
                case UINT32, INT32 -> bulk(Layouts.I32, new int[len], len, 4);
                case UINT64, INT64 -> bulk(Layouts.I64, new long[len], len, 8);
                case FLOAT32 -> bulk(Layouts.F32, new float[len], len, 4);
                case FLOAT64 -> bulk(Layouts.F64, new double[len], len, 8);
                case BOOL -> {
                    boolean[] b = new boolean[len];
                    for (int i = 0; i < len; i++) b[i] = seg.get(ValueLayout.JAVA_BYTE, pos + i) != 0;
                    pos += len;
                    yield b;
                }
                case STRING -> {
                    String[] s = new String[len];
                    for (int i = 0; i < len; i++) s[i] = string(what + "[" + i + "]", MAX_STRING_BYTES);
                    yield s;
                }
                case ARRAY -> {
                    GgufValue.GgufArray[] a = new GgufValue.GgufArray[len];
                    for (int i = 0; i < len; i++) a[i] = array(what + "[" + i + "]", depth + 1);
                    yield a;
                }
            };
            return new GgufValue.GgufArray(et, data);
        }

        private Object bulk(ValueLayout layout, Object dst, int n, int width) {
            MemorySegment.copy(seg, layout, pos, dst, 0, n);
            pos += (long) n * width;
            return dst;
        }
    }
}
