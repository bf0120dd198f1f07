package moge.format.gguf;

import moge.MogeException;
import moge.format.DType;
import moge.format.TensorData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** GgufWriter to GgufFile round trips, and the one-line errors for files that break the format. */
class GgufFileTest {
    @TempDir
    Path tmp;

    @Test
    void everyMetadataTypeRoundTrips() throws IOException {
        GgufWriter w = new GgufWriter();
        w.put("u8", new GgufValue(GgufType.UINT8, 250L));
        w.put("i8", new GgufValue(GgufType.INT8, -5L));
        w.put("u16", new GgufValue(GgufType.UINT16, 65535L));
        w.put("i16", new GgufValue(GgufType.INT16, -32768L));
        w.putU32("u32", 0xFFFFFFFFL);
        w.put("i32", GgufValue.ofI32(-7));
        w.putF32("f32", 1.5f);
        w.putBool("bool", true);
        w.putString("str", "héllo 中文 😀\n");
        w.put("u64", GgufValue.ofU64(-1L));
        w.put("i64", new GgufValue(GgufType.INT64, Long.MIN_VALUE));
        w.put("f64", GgufValue.ofF64(Math.PI));
        w.putStrings("strs", new String[]{"", "a", "ü"});
        w.putI32s("ints", new int[]{1, -2, 3});
        w.putF32s("floats", new float[]{0.5f, -1f});
        w.put("bools", GgufValue.ofArray(GgufType.BOOL, new boolean[]{true, false}));
        w.put("bytes", GgufValue.ofArray(GgufType.UINT8, new byte[]{(byte) 200, 1}));
        w.put("shorts", GgufValue.ofArray(GgufType.INT16, new short[]{-3, 4}));
        w.put("longs", GgufValue.ofArray(GgufType.UINT64, new long[]{1, -1}));
        w.put("doubles", GgufValue.ofArray(GgufType.FLOAT64, new double[]{1e300}));
        w.put("empty", GgufValue.ofArray(GgufType.STRING, new String[0]));
        w.put("nested", GgufValue.ofArray(GgufType.ARRAY, new GgufValue.GgufArray[]{
                new GgufValue.GgufArray(GgufType.INT32, new int[]{1, 2}),
                new GgufValue.GgufArray(GgufType.STRING, new String[]{"x"})}));
        Path p = tmp.resolve("md.gguf");
        w.write(p);
        try (GgufFile f = GgufFile.open(p)) {
            GgufMetadata md = f.metadata();
            assertThat(f.version()).isEqualTo(3);
            assertThat(f.tensors()).isEmpty();
            assertThat(md.asMap().keySet()).containsExactlyElementsOf(w.metadata().keySet());
            assertThat(md.integer("u8")).isEqualTo(250);
            assertThat(md.integer("i8")).isEqualTo(-5);
            assertThat(md.integer("u16")).isEqualTo(65535);
            assertThat(md.integer("i16")).isEqualTo(-32768);
            assertThat(md.integer("u32")).isEqualTo(0xFFFFFFFFL);
            assertThat(md.integer("i32")).isEqualTo(-7);
            assertThat(md.number("f32")).isEqualTo(1.5);
            assertThat(md.bool("bool", false)).isTrue();
            assertThat(md.string("str")).isEqualTo("héllo 中文 😀\n");
            assertThat((Long) md.get("u64").value()).isEqualTo(-1L);
            assertThatThrownBy(() -> md.integer("u64")).isInstanceOf(MogeException.class).hasMessageContaining("u64");
            assertThat(md.integer("i64")).isEqualTo(Long.MIN_VALUE);
            assertThat(md.number("f64")).isEqualTo(Math.PI);
            assertThat(md.strings("strs")).containsExactly("", "a", "ü");
            assertThat(md.ints("ints")).containsExactly(1, -2, 3);
            assertThat(md.floats("floats")).containsExactly(0.5f, -1f);
            assertThat((boolean[]) ((GgufValue.GgufArray) md.get("bools").value()).data()).containsExactly(true, false);
            assertThat(md.ints("bytes")).containsExactly(200, 1);
            assertThat(md.ints("shorts")).containsExactly(-3, 4);
            assertThat(md.arrayLength("empty")).isZero();
            GgufValue.GgufArray[] nested = (GgufValue.GgufArray[]) ((GgufValue.GgufArray) md.get("nested").value()).data();
            assertThat((int[]) nested[0].data()).containsExactly(1, 2);
            assertThat((String[]) nested[1].data()).containsExactly("x");
            assertThatThrownBy(() -> md.string("u8")).isInstanceOf(MogeException.class)
                    .hasMessage(p + ": metadata key u8 is a UINT8, expected a string");
            assertThatThrownBy(() -> md.count("missing")).hasMessage(p + ": missing metadata key missing");
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 8, 32, 64, 4096})
    void tensorsComeBackInPyTorchOrderAtTheirAlignment(int alignment) throws IOException {
        GgufWriter w = new GgufWriter().putU32("general.alignment", alignment);
        float[] v = new float[2 * 3 * 32];
        for (int i = 0; i < v.length; i++) v[i] = i * 0.25f - 7;
        w.addF32("vec", new long[]{5}, new float[]{1, 2, 3, 4, 5});
        w.addTensor("q8", DType.Q8_0, new long[]{2, 3, 32}, GgmlQuantizer.encode(DType.Q8_0, v, 0, v.length));
        w.addF32("m", new long[]{2, 3, 32}, v);
        w.addTensor("bf", DType.BF16, new long[]{1, 2, 1, 3}, GgmlQuantizer.encode(DType.BF16, v, 0, 6));
        Path p = tmp.resolve("t.gguf");
        w.write(p);
        try (GgufFile f = GgufFile.open(p)) {
            assertThat(f.alignment()).isEqualTo(alignment);
            assertThat(f.dataStart() % alignment).isZero();
            TensorData m = f.require("m");
            assertThat(m.shape()).containsExactly(2, 3, 32);
            assertThat(f.ggmlShape("m")).containsExactly(32, 3, 2);
            assertThat(m.toFloatArray()).containsExactly(v);
            assertThat(f.require("vec").toFloatArray()).containsExactly(1, 2, 3, 4, 5);
            assertThat(f.require("bf").shape()).containsExactly(1, 2, 1, 3);
            assertThat(f.require("bf").toFloatArray()).containsExactly(-7, -6.75f, -6.5f, -6.25f, -6, -5.75f);
            TensorData q = f.require("q8");
            assertThat(q.type()).isEqualTo(DType.Q8_0);
            assertThat(q.data().byteSize()).isEqualTo(6 * 34);
            for (TensorData t : f.tensors().values()) {
                long off = t.data().address() - f.require("vec").data().address() + f.dataStart();
                assertThat(off % alignment).as(t.name()).isZero();
            }
        }
    }

    @Test
    void version2Reads() throws IOException {
        Path p = tmp.resolve("v2.gguf");
        new GgufWriter().putString("general.architecture", "llama").addF32("x", new long[]{2}, new float[]{1, 2}).write(p);
        byte[] b = Files.readAllBytes(p);
        b[4] = 2;
        Files.write(p, b);
        try (GgufFile f = GgufFile.open(p)) {
            assertThat(f.version()).isEqualTo(2);
            assertThat(f.require("x").toFloatArray()).containsExactly(1, 2);
        }
    }

    private Path raw(Consumer<GgufBytes> build) throws IOException {
        GgufBytes b = new GgufBytes();
        build.accept(b);
        Path p = tmp.resolve("bad.gguf");
        Files.write(p, b.bytes());
        return p;
    }

    private void refused(Path p, String message) {
        assertThatThrownBy(() -> GgufFile.open(p).close()).isInstanceOf(MogeException.class).hasMessageStartingWith(p + ": ")
                .hasMessageContaining(message);
    }

    private static void tensor(GgufBytes b, String name, long[] ne, int type, long offset) {
        b.str(name, null);
        b.u32(ne.length, null);
        for (long d : ne) b.u64(d, null);
        b.u32(type, null);
        b.u64(offset, null);
    }

    @Test
    void brokenFilesAreRefusedWithOneLine() throws IOException {
        refused(raw(b -> b.raw("GGML".getBytes()).u32(3, null).u64(0, null).u64(0, null)), "not a GGUF file");
        refused(raw(b -> b.header(1, 0, 0).u64(0, null)), "version 1 is not supported");
        refused(raw(b -> b.header(7, 0, 0)), "unsupported GGUF version 7");
        refused(raw(b -> b.raw("GGUF".getBytes()).u32(0x03000000L, null).u64(0, null).u64(0, null)), "big-endian");
        refused(raw(b -> b.raw("GGUF".getBytes())), "truncated GGUF file");
        refused(raw(b -> b.header(3, 0, 1L << 40)), "metadata count");
        refused(raw(b -> b.header(3, 1L << 40, 0)), "tensor count");
        refused(raw(b -> b.header(3, 0, 1).str("k", null).u32(8, null).u64(1L << 50, null)), "string length");
        refused(raw(b -> b.header(3, 0, 1).str("k", null).u32(9, null).u32(4, null).u64(1L << 20, null).raw(new byte[64])),
                "runs past the end");
        refused(raw(b -> b.header(3, 0, 1).str("k", null).u32(13, null).raw(new byte[32])), "unknown value type 13");
        refused(raw(b -> b.header(3, 0, 2).str("k", null).u32(4, null).u32(1, null).str("k", null).u32(4, null).u32(2, null)),
                "duplicate metadata key k");
        refused(raw(b -> b.header(3, 0, 1).str("general.alignment", null).u32(4, null).u32(48, null)), "not a power of two");
        refused(raw(b -> {
            b.header(3, 1, 0);
            tensor(b, "blk.0.ffn_down.weight", new long[]{256, 4}, 16, 0);
            b.pad(32).raw(new byte[4096]);
        }), "tensor blk.0.ffn_down.weight has ggml type IQ2_XXS (16), which moge does not support");
        refused(raw(b -> {
            b.header(3, 1, 0);
            tensor(b, "x", new long[]{1, 1, 1, 1, 1}, 0, 0);
        }), "5 dimensions");
        refused(raw(b -> {
            b.header(3, 1, 0);
            tensor(b, "x", new long[]{1L << 40, 1L << 40}, 0, 0);
        }), "overflows");
        refused(raw(b -> {
            b.header(3, 1, 0);
            tensor(b, "x", new long[]{40}, 8, 0);
        }), "not a multiple of the block size 32");
        refused(raw(b -> {
            b.header(3, 1, 0);
            tensor(b, "x", new long[]{4}, 0, 4);
            b.pad(32).raw(new byte[64]);
        }), "offset 4 is not a multiple of the alignment 32");
        refused(raw(b -> {
            b.header(3, 1, 0);
            tensor(b, "x", new long[]{64}, 0, 0);
            b.pad(32).raw(new byte[100]);
        }), "lies outside the data section");
        refused(raw(b -> {
            b.header(3, 2, 0);
            tensor(b, "x", new long[]{4}, 0, 0);
            tensor(b, "x", new long[]{4}, 0, 32);
            b.pad(32).raw(new byte[64]);
        }), "duplicate tensor x");
        GgufBytes deep = new GgufBytes().header(3, 0, 1);
        deep.str("k", null).u32(9, null);
        for (int i = 0; i < 20; i++) deep.u32(9, null).u64(1, null);
        deep.u32(4, null).u64(0, null);
        Path dp = tmp.resolve("deep.gguf");
        Files.write(dp, deep.bytes());
        refused(dp, "nested deeper");
        refused(tmp, "is a directory");
        refused(tmp.resolve("nope.gguf"), "file not found");
    }

    @Test
    void emptyTensorsAndDataAtTheVeryEnd() throws IOException {
        Path p = raw(b -> {
            b.header(3, 2, 0);
            tensor(b, "empty", new long[]{0, 3}, 0, 0);
            tensor(b, "last", new long[]{2}, 0, 0);
            b.pad(32).raw(new byte[]{0, 0, (byte) 0x80, 0x3F, 0, 0, 0, 0x40});
        });
        try (GgufFile f = GgufFile.open(p)) {
            assertThat(f.require("empty").elements()).isZero();
            assertThat(f.require("last").toFloatArray()).containsExactly(1f, 2f);
            assertThat(f.require("last").data().get(ValueLayout.JAVA_BYTE, 7)).isEqualTo((byte) 0x40);
        }
    }
}
