# Writes moge-core/src/main/java/moge/tensor/FewTokens.java: few-token matmul kernels with register tiles
# that fit 16 vector registers. Edit this file, not the Java, and run: python3 scripts/gen-fewtokens.py
def kernel(fmt, R, Tn):
    bf = fmt == "bf16"
    name = f"{fmt}R{R}T{Tn}"
    xs = "xp" if bf else "x"
    args = ", ".join(f"int x{j}" for j in range(Tn))
    eb = 2 if bf else 4
    L = []
    L.append(f"    private static void {name}(MemorySegment w, int cols, int r, float[] {xs}, {args}, float[] y, int yStride, int yo,")
    L.append(f"            float[] tmp) {{")
    L.append(f"        long rb = (long) cols * {eb};")
    L.append("        long " + ", ".join(f"b{i} = " + ("r * rb" if i == 0 else f"b{i-1} + rb") for i in range(R)) + ";")
    L.append("        FloatVector z = FloatVector.zero(FS);")
    accs = [f"a{i}{j}" for i in range(R) for j in range(Tn)]
    L.append("        FloatVector " + ", ".join(f"{a} = z" for a in accs) + ";")
    L.append("        int c = 0;")
    step = "BF16_CHUNK" if bf else "L"
    L.append(f"        for (; c + {step} <= cols; c += {step}) {{")
    L.append(f"            long cb = (long) c * {eb};")
    if bf:
        if Tn >= R:
            for i in range(R):
                L.append(f"            IntVector v{i} = IntVector.fromMemorySegment(IS, w, b{i} + cb, ByteOrder.LITTLE_ENDIAN);")
                L.append(f"            FloatVector we{i} = v{i}.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();")
                L.append(f"            FloatVector wo{i} = v{i}.and(0xFFFF0000).reinterpretAsFloats();")
            for j in range(Tn):
                L.append(f"            FloatVector e{j} = FloatVector.fromArray(FS, xp, x{j} + c), o{j} = FloatVector.fromArray(FS, xp, x{j} + c + L);")
                for i in range(R):
                    L.append(f"            a{i}{j} = wo{i}.fma(o{j}, we{i}.fma(e{j}, a{i}{j}));")
        else:
            for j in range(Tn):
                L.append(f"            FloatVector e{j} = FloatVector.fromArray(FS, xp, x{j} + c), o{j} = FloatVector.fromArray(FS, xp, x{j} + c + L);")
            for i in range(R):
                L.append(f"            IntVector v{i} = IntVector.fromMemorySegment(IS, w, b{i} + cb, ByteOrder.LITTLE_ENDIAN);")
                L.append(f"            FloatVector we{i} = v{i}.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();")
                L.append(f"            FloatVector wo{i} = v{i}.and(0xFFFF0000).reinterpretAsFloats();")
                for j in range(Tn):
                    L.append(f"            a{i}{j} = wo{i}.fma(o{j}, we{i}.fma(e{j}, a{i}{j}));")
    else:
        if Tn >= R:
            for i in range(R):
                L.append(f"            FloatVector q{i} = FloatVector.fromMemorySegment(FS, w, b{i} + cb, ByteOrder.LITTLE_ENDIAN);")
            for j in range(Tn):
                L.append(f"            FloatVector v{j} = FloatVector.fromArray(FS, x, x{j} + c);")
                for i in range(R):
                    L.append(f"            a{i}{j} = q{i}.fma(v{j}, a{i}{j});")
        else:
            for j in range(Tn):
                L.append(f"            FloatVector v{j} = FloatVector.fromArray(FS, x, x{j} + c);")
            for i in range(R):
                L.append(f"            FloatVector q{i} = FloatVector.fromMemorySegment(FS, w, b{i} + cb, ByteOrder.LITTLE_ENDIAN);")
                for j in range(Tn):
                    L.append(f"            a{i}{j} = q{i}.fma(v{j}, a{i}{j});")
    L.append("        }")
    tail = "tailBf16" if bf else "tailF32"
    for j in range(Tn):
        for i in range(R):
            L.append(f"        a{i}{j}.intoArray(tmp, 0);")
            yi = "yo" + (" + yStride" if j == 1 else f" + {j} * yStride" if j else "") + (f" + {i}" if i else "")
            L.append(f"        y[{yi}] = {tail}(hsum(tmp), w, b{i}, {xs}, x{j}, c, cols);")
    L.append("    }")
    return "\n".join(L)

def driver(fmt):
    bf = fmt == "bf16"
    xs = "xp" if bf else "x"
    if bf:
        sig = "static void bf16(MemorySegment w, int cols, float[] xp, int T, float[] y, int yStride, int yOff, int r0, int r1)"
        xo = ""
        doc = '''    /**
     * bf16 weights against activations in even/odd order ({@link Activations#evenOdd} with
     * {@link #BF16_CHUNK}), token t at {@code t * cols}; y[t * yStride + yOff + r] for rows [r0, r1).
     */'''
    else:
        sig = "static void f32(MemorySegment w, int cols, float[] x, int xOff, int T, float[] y, int yStride, int yOff, int r0, int r1)"
        xo = "xOff + "
        doc = '''    /** float32 weights against activations x, token t at {@code xOff + t * cols}; y as for {@link #bf16}. */'''
    f = fmt
    return f'''{doc}
    {sig} {{
        float[] tmp = new float[L];
        int fives = fives(T);
        int r = r0;
        // Four rows at a time, every token of the batch, so the rows stay in cache between token tiles.
        for (; r + 4 <= r1; r += 4) {{
            int t = 0;
            for (; t < fives * 5; t += 5) {{
                int xi = {xo}t * cols, yo = t * yStride + yOff + r;
                {f}R2T5(w, cols, r, {xs}, xi, xi + cols, xi + 2 * cols, xi + 3 * cols, xi + 4 * cols, y, yStride, yo, tmp);
                {f}R2T5(w, cols, r + 2, {xs}, xi, xi + cols, xi + 2 * cols, xi + 3 * cols, xi + 4 * cols, y, yStride, yo + 2, tmp);
            }}
            for (; t + 4 <= T; t += 4) {{
                int xi = {xo}t * cols, yo = t * yStride + yOff + r;
                {f}R2T4(w, cols, r, {xs}, xi, xi + cols, xi + 2 * cols, xi + 3 * cols, y, yStride, yo, tmp);
                {f}R2T4(w, cols, r + 2, {xs}, xi, xi + cols, xi + 2 * cols, xi + 3 * cols, y, yStride, yo + 2, tmp);
            }}
            if (T - t >= 2) {{
                int xi = {xo}t * cols;
                {f}R4T2(w, cols, r, {xs}, xi, xi + cols, y, yStride, t * yStride + yOff + r, tmp);
                t += 2;
            }}
            if (T - t == 1) {f}R4T1(w, cols, r, {xs}, {xo}t * cols, y, yStride, t * yStride + yOff + r, tmp);
        }}
        for (; r < r1; r++) {{
            for (int t = 0; t < T; t++) {f}R1T1(w, cols, r, {xs}, {xo}t * cols, y, yStride, t * yStride + yOff + r, tmp);
        }}
    }}
'''

head = '''package moge.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import moge.format.Layouts;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Matrix products for a handful of tokens (2..{@link #MAX}): speculative verification, small decode
 * batches. Decoding is bound by streaming the weights, and a pass over a few tokens should cost little
 * more than one; so each weight vector is loaded and widened once and multiplied into the accumulators of
 * every token of a tile: 2 rows x 5 or 4 tokens, 4 x 2 or 4 x 1, at most 15 live vectors, which fits AVX2's
 * 16 registers (larger tiles spilled, and in larger methods C2 stopped inlining vector operations). No lane
 * is spent on absent tokens, unlike a tile sized for prefill; each block of four rows serves every token
 * before the next block is read, so the weights stream from memory once per call.
 * <p>Each (row, token) sum runs in one order (vector lanes, then the lanes one after another, then the
 * columns past the last whole vector) whatever the tile, the row split or the JIT tier, so a token's result
 * does not depend on the other tokens of its batch, the thread count or JIT state.
 * <p>Generated by scripts/gen-fewtokens.py: change the template there, not the kernels here.
 */
final class FewTokens {
    /**
     * Never more tokens than this (past it the panel GEMM always wins); from 16 tokens on the formats choose by
     * {@link Gemm#wins}.
     */
    static final int MAX = 64;
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> IS = IntVector.SPECIES_PREFERRED;
    private static final int L = FS.length();
    /** bf16 values per int vector: L pairs. */
    static final int BF16_CHUNK = 2 * L;

    private FewTokens() {
    }

'''
tail = '''
    /**
     * How many 5-token tiles to take before the 4-token ones. Per token a 5-token tile costs what a 4-token one
     * does, while the 2- and 1-token tiles of a remainder cost 1.3x and 1.8x (BF16 2048x2048, AVX2): so 5, 9,
     * 10, 13, 14 and 15 tokens are covered by 5s and 4s alone, 7 and 11 leave a pair, and multiples of 4 stay
     * on 4s. Every (row, token) sum runs in the same order in either tile.
     */
    static int fives(int T) {
        int a = T % 4;
        if (5 * a > T) a = a == 3 && T >= 7 ? 1 : 0;
        return a;
    }

    /** The lanes of a stored accumulator summed one after another: one order in every JIT tier. */
    private static float hsum(float[] tmp) {
        float s = tmp[0];
        for (int i = 1; i < L; i++) s += tmp[i];
        return s;
    }

    /** Adds the columns past the last whole chunk, one at a time. */
    private static float tailBf16(float s, MemorySegment w, long rowByte, float[] xp, int xo, int c, int cols) {
        for (; c < cols; c++) s += Float.intBitsToFloat((w.get(Layouts.I16, rowByte + (long) c * 2) & 0xFFFF) << 16) * xp[xo + c];
        return s;
    }

    private static float tailF32(float s, MemorySegment w, long rowByte, float[] x, int xo, int c, int cols) {
        for (; c < cols; c++) s += w.get(Layouts.F32, rowByte + (long) c * 4) * x[xo + c];
        return s;
    }
}
'''
parts = [head, driver("bf16"), driver("f32")]
for fmt in ["bf16", "f32"]:
    for R, Tn in [(2, 5), (2, 4), (4, 2), (4, 1), (1, 1)]:
        parts.append(kernel(fmt, R, Tn) + "\n")
out = "\n".join(parts).rstrip() + "\n" + tail
out = out.replace("\n\n\n", "\n\n")
import os
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
open(os.path.join(root, "moge-core/src/main/java/moge/tensor/FewTokens.java"), "w").write(out)
