package moge.format.gguf;

import moge.MogeException;
import moge.format.DType;
import moge.format.TensorData;
import moge.model.Arch;
import moge.model.Batch;
import moge.model.KvCache;
import moge.model.LoadedModel;
import moge.model.Model;
import moge.model.ModelLoader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/**
 * Damaged GGUF files must fail with a MogeException, never another exception, an OutOfMemoryError, a hang
 * or a crash. Two corpora, generated here: random valid files of every metadata and tensor type (built
 * byte by byte by {@link GgufBytes}, which records where each count, length, type and offset lies), and
 * small valid models of each architecture (loaded through ModelLoader and run one step when they still
 * load). Mutations: truncation, flipped bytes, absurd values in header fields, random type ids. The case
 * count is bounded for the normal build; -Dmoge.fuzz.cases=N runs more.
 */
class GgufFuzzTest {
    private static final int CASES = Integer.getInteger("moge.fuzz.cases", 2400);
    private static final long[] ABSURD = {0, 1, 2, 3, 5, 31, 33, 255, 0x7FFFFFFFL, 0x80000000L, 0xFFFFFFFFL, 1L << 32, 1L << 40,
            1L << 62, Long.MAX_VALUE, Long.MIN_VALUE, -1L, -8L};

    @TempDir
    Path tmp;

    @Test
    void damagedFilesFailCleanly() {
        assertTimeoutPreemptively(Duration.ofSeconds(120), () -> {
            int opened = 0, refused = 0;
            for (int i = 0; i < CASES; i++) {
                SplittableRandom r = new SplittableRandom(1000 + i);
                GgufBytes base = validFile(r);
                byte[] bytes = base.bytes();
                String how = "valid";
                if (i % 10 != 0) { // every tenth case stays valid: the corpus itself must load
                    StringBuilder sb = new StringBuilder();
                    bytes = mutate(bytes, base, r, sb);
                    how = sb.toString();
                }
                boolean ok = run(bytes, "file case " + i + " (" + how + ")", false);
                if (i % 10 == 0) assertThat(ok).as("valid file case " + i + " must open").isTrue();
                if (ok) opened++; else refused++;
            }
            assertThat(opened).isGreaterThan(CASES / 10);
            assertThat(refused).isGreaterThan(CASES / 3);
        });
    }

    @Test
    void damagedModelsFailCleanly() {
        assertTimeoutPreemptively(Duration.ofSeconds(120), () -> {
            TestGguf.Vocab v = TestGguf.vocab(8, "qwen2");
            int V = v.size();
            var configs = new moge.model.ModelConfig[]{
                    TestGguf.config(Arch.PANGU_EMBEDDED, V, 32, 1, 2, 1, 16, 32, 0, 0, 0, 0, 0, false),
                    TestGguf.config(Arch.QWEN3_MOE, V, 32, 1, 2, 2, 16, 0, 4, 2, 1, 32, 0, true),
                    TestGguf.config(Arch.PANGU_PRO_MOE, V, 32, 1, 2, 2, 16, 0, 4, 2, 2, 32, 32, false),
                    TestGguf.config(Arch.LLAMA, V, 32, 1, 2, 2, 16, 32, 0, 0, 0, 0, 0, true)};
            byte[][] models = new byte[configs.length][];
            long[] headerEnd = new long[configs.length];
            for (int m = 0; m < configs.length; m++) {
                Path p = TestGguf.write(tmp.resolve("model" + m + ".gguf"), configs[m], m % 2 == 0 ? DType.F32 : DType.Q8_0, m, v);
                models[m] = Files.readAllBytes(p);
                try (GgufFile f = GgufFile.open(p)) {
                    headerEnd[m] = f.dataStart();
                }
            }
            int loaded = 0;
            for (int i = 0; i < CASES / 4; i++) {
                SplittableRandom r = new SplittableRandom(77 + i);
                int m = i % models.length;
                byte[] b = models[m].clone();
                StringBuilder how = new StringBuilder();
                int k = 1 + r.nextInt(3);
                for (int j = 0; j < k; j++) {
                    if (b.length == 0) break;
                    int at = r.nextInt((int) Math.min(b.length, headerEnd[m]));
                    switch (r.nextInt(3)) {
                        case 0 -> {
                            b[at] ^= (byte) (1 << r.nextInt(8));
                            how.append(" flip@").append(at);
                        }
                        case 1 -> {
                            at &= ~3;
                            long val = ABSURD[r.nextInt(ABSURD.length)];
                            for (int q = 0; q < 8 && at + q < b.length; q++) b[at + q] = (byte) (val >>> (8 * q));
                            how.append(" put@").append(at).append('=').append(val);
                        }
                        default -> {
                            int len = r.nextInt(b.length);
                            b = java.util.Arrays.copyOf(b, len);
                            how.append(" truncate@").append(len);
                        }
                    }
                }
                if (run(b, "model " + m + " case " + i + how, true)) loaded++;
            }
            assertThat(loaded).as("some mutated models still load and run").isGreaterThan(0);
        });
    }

    /** Opens (and for models loads and runs) the bytes; true when they were accepted. Fails on anything but MogeException. */
    private boolean run(byte[] bytes, String what, boolean model) throws IOException {
        Path p = tmp.resolve("case.gguf");
        Files.write(p, bytes);
        try {
            if (model) {
                try (LoadedModel lm = ModelLoader.load(p)) {
                    try (Model m = new Model(lm.config, lm.weights, 1, 2)) {
                        KvCache cache = KvCache.forContext(lm.config, Math.min(8, lm.config.maxPositions()), 1, 4);
                        Batch b = new Batch(2);
                        b.add(0, 0, cache.newSequence(), true);
                        m.forward(b);
                    }
                    if (lm.tokenizer != null) lm.tokenizer.decode(lm.tokenizer.encode("hi <|im_end|> ü"));
                }
            } else {
                try (GgufFile f = GgufFile.open(p)) {
                    for (TensorData t : f.tensors().values()) {
                        long n = t.data().byteSize();
                        if (n > 0) {
                            t.data().get(ValueLayout.JAVA_BYTE, 0);
                            t.data().get(ValueLayout.JAVA_BYTE, n - 1);
                        }
                    }
                    f.metadata().asMap().values().forEach(GgufValue::display);
                    try {
                        GgufModelConfig.read(f);
                    } catch (MogeException expected) {
                        // most random files are no model
                    }
                }
            }
            return true;
        } catch (MogeException e) {
            assertThat(e.getMessage()).as(what).isNotBlank();
            return false;
        } catch (Throwable t) {
            fail(what + ": " + t, t);
            return false;
        }
    }

    /** A random valid GGUF file: random metadata of every type, tensors of every supported type and rank. */
    static GgufBytes validFile(SplittableRandom r) {
        int alignment = r.nextInt(3) == 0 ? new int[]{8, 16, 64}[r.nextInt(3)] : 32;
        int nKv = r.nextInt(6), nT = r.nextInt(5);
        GgufBytes b = new GgufBytes().header(r.nextBoolean() ? 3 : 2, nT, nKv + (alignment != 32 ? 1 : 0));
        if (alignment != 32) {
            b.str("general.alignment", "key");
            b.u32(4, "alignment type");
            b.u32(alignment, "alignment value");
        }
        for (int i = 0; i < nKv; i++) {
            String key = "k" + i + "." + GgufBytes.randomString(r);
            b.str(key, "key");
            b.randomValue(r, key, 3, true);
        }
        DType[] types = DType.values();
        long[] sizes = new long[nT];
        long offset = 0;
        for (int t = 0; t < nT; t++) {
            DType type = types[r.nextInt(types.length)];
            int dims = 1 + r.nextInt(4);
            long[] ne = new long[dims];
            ne[0] = (long) type.blockSize * (1 + r.nextInt(2));
            long n = ne[0];
            for (int d = 1; d < dims; d++) n *= (ne[d] = 1 + r.nextInt(3));
            sizes[t] = type.bytesFor(n);
            b.str("t" + t, "tensor name");
            b.u32(dims, "n_dims");
            for (int d = 0; d < dims; d++) b.u64(ne[d], "ne[" + d + "]");
            b.u32(type.ggmlId, "ggml type");
            b.u64(offset, "tensor offset");
            offset += (sizes[t] + alignment - 1) / alignment * alignment;
        }
        b.pad(alignment);
        for (int t = 0; t < nT; t++) {
            byte[] data = new byte[(int) sizes[t]];
            r.nextBytes(data);
            b.raw(data);
            b.pad(alignment);
        }
        return b;
    }

    static byte[] mutate(byte[] in, GgufBytes layout, SplittableRandom r, StringBuilder how) {
        byte[] b = in.clone();
        int kinds = 1 + r.nextInt(2);
        for (int k = 0; k < kinds; k++) {
            switch (r.nextInt(4)) {
                case 0 -> {
                    int len = r.nextInt(b.length + 1);
                    b = java.util.Arrays.copyOf(b, len);
                    how.append(" truncate@").append(len);
                }
                case 1 -> {
                    int n = 1 + r.nextInt(8);
                    for (int j = 0; j < n && b.length > 0; j++) {
                        int at = r.nextInt(b.length);
                        b[at] = (byte) r.nextInt(256);
                        how.append(" byte@").append(at);
                    }
                }
                default -> {
                    if (layout.fields.isEmpty()) break;
                    GgufBytes.Field f = layout.fields.get(r.nextInt(layout.fields.size()));
                    long v = r.nextInt(4) == 0 ? r.nextLong() : ABSURD[r.nextInt(ABSURD.length)];
                    if (f.what().contains("type") && r.nextBoolean()) v = r.nextInt(48);
                    for (int q = 0; q < f.width() && f.at() + q < b.length; q++) b[f.at() + q] = (byte) (v >>> (8 * q));
                    how.append(' ').append(f.what()).append('=').append(v);
                }
            }
        }
        return b;
    }
}
