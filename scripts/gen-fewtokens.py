# Writes moge-core/src/main/java/moge/tensor/FewTokens.java: few-token matmul kernels with register tiles
# that fit 16 vector registers. Edit this file, not the Java, and run: python3 scripts/gen-fewtokens.py
def kernel(fmt, R, Tn, any_group=False):
    """R rows x Tn tokens of one group; with any_group, one token (j) of a group of n."""
    bf = fmt == "bf16"
    name = f"{fmt}R{R}T{Tn}"
    xs = "xp" if bf else "x"
    step = "BF16_CHUNK" if bf else "L"
    eb = 2 if bf else 4
    L = []
    gargs = "int xb, int n, int j" if any_group else "int xb"
    L.append(f"    private static void {name}(MemorySegment w, int cols, int r, float[] {xs}, {gargs}, float[] y, int yStride, int yo,")
    L.append(f"            float[] tmp) {{")
    L.append(f"        long rb = (long) cols * {eb};")
    L.append("        long " + ", ".join(f"b{i} = " + ("r * rb" if i == 0 else f"b{i-1} + rb") for i in range(R)) + ";")
    L.append("        FloatVector z = FloatVector.zero(FS);")
    accs = [f"a{i}{j}" for i in range(R) for j in range(Tn)]
    L.append("        FloatVector " + ", ".join(f"{a} = z" for a in accs) + ";")
    L.append(f"        int full = cols - cols % {step};")
    if any_group:
        L.append(f"        int c = 0, xi = xb + j * {step}, stride = n * {step};")
        L.append(f"        for (; c + {step} <= cols; c += {step}, xi += stride) {{")
    else:
        L.append("        int c = 0, xi = xb;")
        # one index with constant offsets: C2 folds the activations' range checks into two per step
        inc = f"{Tn} * {step}" if Tn > 1 else step
        # written so that C2 keeps (two) range checks in the loop: with none it hoists every load and spills
        L.append(f"        for (; c + {step} <= cols; c += {step}, xi += {inc}) {{")
    L.append(f"            long cb = (long) c * {eb};")
    def off(j):
        return "xi" if j == 0 else (f"xi + {step}" if j == 1 else f"xi + {j} * {step}")
    if bf:
        def loads(j):
            return f"            FloatVector e{j} = FloatVector.fromArray(FS, xp, {off(j)}), o{j} = FloatVector.fromArray(FS, xp, {off(j)} + L);"
        def widen(i):
            return [f"            IntVector v{i} = IntVector.fromMemorySegment(IS, w, b{i} + cb, ByteOrder.LITTLE_ENDIAN);",
                    f"            FloatVector we{i} = v{i}.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();",
                    f"            FloatVector wo{i} = v{i}.and(0xFFFF0000).reinterpretAsFloats();"]
        def fma(i, j):
            return f"            a{i}{j} = wo{i}.fma(o{j}, we{i}.fma(e{j}, a{i}{j}));"
    else:
        def loads(j):
            return f"            FloatVector v{j} = FloatVector.fromArray(FS, x, {off(j)});"
        def widen(i):
            return [f"            FloatVector q{i} = FloatVector.fromMemorySegment(FS, w, b{i} + cb, ByteOrder.LITTLE_ENDIAN);"]
        def fma(i, j):
            return f"            a{i}{j} = q{i}.fma(v{j}, a{i}{j});"
    if Tn >= R:
        for i in range(R):
            L.extend(widen(i))
        for j in range(Tn):
            L.append(loads(j))
            for i in range(R):
                L.append(fma(i, j))
    else:
        for j in range(Tn):
            L.append(loads(j))
        for i in range(R):
            L.extend(widen(i))
            for j in range(Tn):
                L.append(fma(i, j))
    L.append("        }")
    tail = "tailBf16" if bf else "tailF32"
    # the columns past the last whole chunk follow the group's chunks, token after token
    if any_group:
        L.append("        int xt = xb + (n - 1) * full + j * (cols - full);")
    else:
        L.append(f"        int xt = xb + {Tn - 1} * full;" if Tn > 1 else "        int xt = xb;")
    for j in range(Tn):
        for i in range(R):
            L.append(f"        a{i}{j}.intoArray(tmp, 0);")
            yi = "yo" + (" + yStride" if j == 1 else f" + {j} * yStride" if j else "") + (f" + {i}" if i else "")
            xo = "xt" if j == 0 else ("xt + (cols - full)" if j == 1 else f"xt + {j} * (cols - full)")
            L.append(f"        y[{yi}] = {tail}(hsum(tmp), w, b{i}, {xs}, {xo}, c, cols);")
    L.append("    }")
    return "\n".join(L)

def driver(fmt):
    bf = fmt == "bf16"
    xs = "xp" if bf else "x"
    if bf:
        sig = "static void bf16(MemorySegment w, int cols, float[] xp, int T, float[] y, int yStride, int yOff, int r0, int r1)"
        doc = '''    /**
     * bf16 weights against the tokens in groups ({@link Activations#groupedBf16}); y[t * yStride + yOff + r]
     * for rows [r0, r1).
     */'''
    else:
        sig = "static void f32(MemorySegment w, int cols, float[] x, int T, float[] y, int yStride, int yOff, int r0, int r1)"
        doc = '''    /** float32 weights against the tokens in groups ({@link Activations#groupedF32}); y as for {@link #bf16}. */'''
    f = fmt
    return f'''{doc}
    {sig} {{
        float[] tmp = new float[L];
        int fives = fives(T);
        int r = r0;
        // Four rows at a time, every token of the batch, so the rows stay in cache between token tiles. A group
        // of n tokens starting at token t starts at t * cols (see group).
        for (; r + 4 <= r1; r += 4) {{
            int t = 0;
            for (; t < fives * 5; t += 5) {{
                int xb = t * cols, yo = t * yStride + yOff + r;
                {f}R2T5(w, cols, r, {xs}, xb, y, yStride, yo, tmp);
                {f}R2T5(w, cols, r + 2, {xs}, xb, y, yStride, yo + 2, tmp);
            }}
            for (; t + 4 <= T; t += 4) {{
                int xb = t * cols, yo = t * yStride + yOff + r;
                {f}R2T4(w, cols, r, {xs}, xb, y, yStride, yo, tmp);
                {f}R2T4(w, cols, r + 2, {xs}, xb, y, yStride, yo + 2, tmp);
            }}
            if (T - t >= 2) {{
                {f}R4T2(w, cols, r, {xs}, t * cols, y, yStride, t * yStride + yOff + r, tmp);
                t += 2;
            }}
            if (T - t == 1) {f}R4T1(w, cols, r, {xs}, t * cols, y, yStride, t * yStride + yOff + r, tmp);
        }}
        for (; r < r1; r++) {{
            for (int t = 0; t < T; ) {{
                int n = group(T, t);
                for (int j = 0; j < n; j++) {f}R1T1(w, cols, r, {xs}, t * cols, n, j, y, yStride, (t + j) * yStride + yOff + r, tmp);
                t += n;
            }}
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
 * <p>A tile's tokens arrive interleaved chunk by chunk ({@link Activations#groupedBf16}), so one index
 * with constant offsets addresses all of them: C2 then checks the activations' bounds twice per step
 * instead of twice per token, and the loop fits the core's issue width (a 2x4 BF16 tile on 16 tokens:
 * 22.6-23.2 -> 19.4-19.9 ms for eight 2048x2048 matrices on one thread). Without any check in the loop
 * (bounds known in advance) C2 hoists every load to the top and spills accumulators: 30 ms.
 * <p>Each (row, token) sum runs in one order (vector lanes, then the lanes one after another, then the
 * columns past the last whole vector) whatever the tile, the row split or the JIT tier, so a token's result
 * does not depend on the other tokens of its batch, the thread count or JIT state.
 * <p>Generated by scripts/gen-fewtokens.py: change the template there, not the kernels here.
 */
final class FewTokens {
    /**
     * Never more tokens than this (past it the panel GEMM always wins); F32 chooses by {@link Gemm#wins} from 16
     * tokens on, BF16 takes these tiles up to 13 tokens (8 at 512 bits) and {@link Bf16TokenLanes} from 14 (9).
     */
    static final int MAX = 64;
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> IS = IntVector.SPECIES_PREFERRED;
    static final int L = FS.length();
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

    /**
     * The size of the group of tokens that starts at token t of T, in the order the tiles take them: the
     * 5-token tiles, then 4s, then a pair, then a single token.
     */
    static int group(int T, int t) {
        if (t < 5 * fives(T)) return 5;
        if (T - t >= 4) return 4;
        return T - t >= 2 ? 2 : 1;
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
    for R, Tn in [(2, 5), (2, 4), (4, 2), (4, 1)]:
        parts.append(kernel(fmt, R, Tn) + "\n")
    parts.append(kernel(fmt, 1, 1, any_group=True) + "\n")
out = "\n".join(parts).rstrip() + "\n" + tail
out = out.replace("\n\n\n", "\n\n")
import os
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
open(os.path.join(root, "moge-core/src/main/java/moge/tensor/FewTokens.java"), "w").write(out)
