package moge.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import jdk.incubator.vector.FloatVector;
import moge.MogeException;
import moge.format.DType;
import moge.format.gguf.GgufFile;
import moge.format.gguf.GgufFileType;
import moge.model.Batch;
import moge.model.KvCache;
import moge.model.KvSequence;
import moge.model.LoadedModel;
import moge.model.Model;
import moge.model.ModelConfig;
import moge.model.Weights;
import moge.spec.SpecBench;
import moge.spec.SpecConfig;
import moge.spec.SpeculativeDecoder;
import moge.tensor.Matrix;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * llama-bench style throughput: pp = one batch of {@code -p} tokens into an empty cache, tg = {@code -n}
 * single-token decodes from an empty cache (each step feeds a pseudo-random token, as llama-bench does, so
 * neither tokenization nor sampling is timed). Each test first runs untimed for {@code --warmup} seconds, at
 * least once, so that the JIT has compiled the kernels. The machine's read bandwidth is measured in the same
 * run and each decode figure is shown as a fraction of the ceiling it implies (weight bytes read per token /
 * bandwidth). With {@code --spec}
 * or {@code --draft-model} a third test, {@code tg<n>+<source>}, alternates plain and speculative greedy
 * generation of {@code -n} tokens from a copy-heavy prompt ({@link BenchSpeculation}); its record adds the
 * speedup, acceptance rate and mean accepted proposals. With {@code --parallel B} a test {@code tg<n>xB} decodes B
 * sequences together, one token of each per forward pass, and reports their aggregate tokens/s (what
 * llama-batched-bench calls S_TG): what continuous batching can give a server on this model and machine.
 * With {@code -d D} every test starts with D tokens already in the cache (filled once, untimed), as llama-bench's
 * {@code -d}: tests are named {@code pp512 @ d4096}, and attention over the cached keys (what {@code --kv-type}
 * changes) becomes part of each token's cost.
 */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Measure prompt processing (pp) and generation (tg) speed, llama-bench style.")
public final class BenchCommand implements Runnable {
    @Mixin
    ModelOptions model;

    /** --spec / --draft-model add the speculative test. */
    @Mixin
    SpecOptions speculation;

    @Option(names = "--spec-prompt", paramLabel = "FILE", description = "Prompt of the speculative test (default: a copy-heavy editing task).")
    java.nio.file.Path specPrompt;

    // lists as llama-bench takes them: "-p 128,512 -n 64,128 -d 0,1024 -t 1,2" runs every test at every depth and thread count
    @Option(names = {"-p", "--n-prompt"}, split = ",", paramLabel = "N", description = "Prompt tokens of the pp test; a list runs one test each (default 512, 0 = skip).")
    int[] prompts = {512};

    @Option(names = {"-n", "--n-gen"}, split = ",", paramLabel = "N", description = "Generated tokens of the tg test; a list runs one test each (default 128, 0 = skip).")
    int[] gens = {128};

    @Option(names = {"-d", "--n-depth"}, split = ",", paramLabel = "N", description = "Tokens already in the KV cache when each test starts; a list runs every test at each (default 0).")
    int[] depths = {0};

    @Option(names = {"-pg", "--n-pg"}, paramLabel = "PP,TG",
            description = "Also a prompt of PP tokens followed by TG generated ones, timed together (test ppPP+tgTG, llama-bench's -pg; repeatable).")
    List<String> promptGen = new ArrayList<>();

    /** The depth of the tests running now (one of {@link #depths}). */
    private int depth;

    @Option(names = {"-r", "--repetitions"}, paramLabel = "N", description = "Timed runs of each test (default 5).")
    int reps = 5;

    @Option(names = "--warmup", paramLabel = "SECONDS",
            description = "Before each test's timed runs, run it until this many seconds have passed, at least once, "
                    + "then until the JIT has been idle for 0.5 s (default 2: the JIT compiles the kernels in the first seconds).")
    double warmup = 2;

    @Option(names = "--json", description = "Print a JSON array with one record per test (llama-bench field names).")
    boolean json;

    @Option(names = {"-o", "--output"}, paramLabel = "md|json", description = "llama-bench's spelling: json is --json, md the table (default).")
    String output;

    @Option(names = "--parallel", split = ",", paramLabel = "B",
            description = "Also decode B sequences together for -n steps (test tg<n>xB) and report their aggregate tokens/s.")
    int[] parallel = {};

    @Option(names = "--bandwidth-mib", paramLabel = "MIB", description = "Size of the read sweep that measures memory bandwidth (default 1024, 0 = skip).")
    int bandwidthMib = 1024;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        if (output != null) {
            json = switch (output) {
                case "json" -> true;
                case "md" -> json;
                default -> throw new MogeException("-o: expected md or json, got " + output);
            };
        }
        for (int[] list : new int[][]{prompts, gens, depths}) {
            for (int v : list) if (v < 0) throw new MogeException("-p, -n and -d must be >= 0, got " + v);
        }
        int[][] pgs = promptGenPairs();
        int maxPrompt = max(prompts), maxGen = max(gens), maxDepth = max(depths), maxPg = 0;
        for (int[] pg : pgs) {
            maxPrompt = Math.max(maxPrompt, pg[0]);
            maxPg = Math.max(maxPg, pg[0] + pg[1]);
        }
        if (reps < 1) throw new MogeException("-r must be >= 1, got " + reps);
        if (!(warmup >= 0 && warmup <= 3600)) throw new MogeException("--warmup must be 0..3600 seconds, got " + warmup);
        int[] threadCounts = model.threadCounts != null ? model.threadCounts : new int[]{model.threads};
        for (int t : threadCounts) if (t < 1) throw new MogeException("--threads must be >= 1, got " + t);
        PrintWriter out = spec.commandLine().getOut();
        SpecConfig sc = speculation.config();
        if (sc.enabled() && maxGen == 0) throw new MogeException("--spec needs -n > 0 (the tokens each speculative test run generates)");
        int maxParallel = 1;
        for (int p : parallel) {
            if (p < 1 || p > MAX_PARALLEL) throw new MogeException("--parallel values must be 1.." + MAX_PARALLEL + ", got " + p);
            maxParallel = Math.max(maxParallel, p);
        }
        if (parallel.length > 0 && maxGen == 0) throw new MogeException("--parallel needs -n > 0 (the steps each sequence decodes)");
        int maxBatch = Math.max(Math.max(Math.max(1, maxPrompt), maxParallel), sc.enabled() ? Math.max(64, sc.draftMax() + 1) : 1);
        Info info = null;
        List<Run> runs = new ArrayList<>();
        model.threadCounts = null; // bench takes the list itself: one load per count below
        for (int t : threadCounts) {
            model.threads = t;
            try (ModelHandle h = model.open(0, maxBatch)) {
                if (info == null) info = info(h.loaded);
                runs.add(runAll(h, maxBatch, maxDepth + Math.max(maxPg, Math.max(maxPrompt, maxGen)) + 1, sc, pgs));
            }
        }
        if (json) printJson(out, info, runs); else printTable(out, info, runs);
    }

    /** The tests at one thread count, and the bandwidth measured with that many threads. */
    private record Run(int threads, double bandwidth, List<Result> results) {
    }

    /** -pg values as (prompt, generated) pairs: "512,128", both > 0. */
    private int[][] promptGenPairs() {
        int[][] out = new int[promptGen.size()][];
        for (int i = 0; i < out.length; i++) {
            String v = promptGen.get(i);
            String[] parts = v.split(",", -1);
            try {
                if (parts.length != 2) throw new NumberFormatException();
                out[i] = new int[]{Integer.parseInt(parts[0].trim()), Integer.parseInt(parts[1].trim())};
            } catch (NumberFormatException e) {
                throw new MogeException("-pg takes PP,TG such as 512,128, got '" + v + "'");
            }
            if (out[i][0] < 1 || out[i][1] < 1) throw new MogeException("-pg needs both counts >= 1, got '" + v + "'");
        }
        return out;
    }

    private Run runAll(ModelHandle h, int maxBatch, int ctx, SpecConfig sc, int[][] pgs) {
        LoadedModel lm = h.loaded;
        Model m = h.model;
        ModelConfig c = lm.config;
        if (ctx > c.maxPositions()) throw new MogeException("-d + -p/-n exceed the model's " + c.maxPositions() + " positions");
        KvSequence seq = m.newCache(ctx, 1).newSequence();
        Batch batch = new Batch(maxBatch);
        double bandwidth = bandwidthMib > 0 ? Bandwidth.readSweep(m.team(), (long) bandwidthMib << 20, 5) : Double.NaN;
        List<Result> results = new ArrayList<>();
        for (int d : depths) {
            depth = d;
            fill(m, seq, batch, c);
            for (int nPrompt : prompts) {
                if (nPrompt == 0) continue;
                warmUp(() -> pp(m, seq, batch, c, nPrompt));
                resetLoad(h);
                results.add(measure("pp" + nPrompt + at(), nPrompt, 0, nPrompt, () -> pp(m, seq, batch, c, nPrompt)).withLoad(load(h)));
            }
            for (int nGen : gens) {
                if (nGen == 0) continue;
                warmUp(() -> tg(m, seq, batch, c, nGen));
                resetLoad(h);
                results.add(measure("tg" + nGen + at(), 0, nGen, nGen, () -> tg(m, seq, batch, c, nGen)).withLoad(load(h)));
            }
            for (int[] pg : pgs) {
                warmUp(() -> promptThenGen(m, seq, batch, c, pg[0], pg[1]));
                resetLoad(h);
                Result r = measure("pp" + pg[0] + "+tg" + pg[1] + at(), pg[0], pg[1], pg[0] + pg[1], () -> promptThenGen(m, seq, batch, c, pg[0], pg[1]));
                results.add(r.withLoad(load(h)));
            }
            int nGen = max(gens);
            for (int B : parallel) {
                KvCache cache = m.newCache(depth + nGen + 1, B);
                KvSequence[] seqs = new KvSequence[B];
                for (int j = 0; j < B; j++) fill(m, seqs[j] = cache.newSequence(), batch, c);
                warmUp(() -> tgParallel(m, seqs, batch, c, nGen));
                resetLoad(h);
                Result r = measure("tg" + nGen + "x" + B + at(), 0, nGen, nGen * B, () -> tgParallel(m, seqs, batch, c, nGen));
                results.add(r.withLoad(load(h)).withParallel(B));
            }
        }
        depth = 0;
        if (sc.enabled()) {
            int nGen = max(gens);
            int[] prompt = BenchSpeculation.prompt(lm, specPrompt);
            try (SpeculativeDecoder d = speculation.open(lm, m, prompt.length + nGen + 1)) {
                SpecBench.Result r = BenchSpeculation.run(h, d, prompt, nGen, reps);
                results.add(new Result("tg" + nGen + "+" + r.source(), prompt.length, nGen, nGen, 0, BenchSpeculation.samplesNs(r, nGen),
                        null, r, 0));
            }
        }
        // measured again afterwards: the machine may be busier now than at the start
        if (bandwidthMib > 0) bandwidth = Math.max(bandwidth, Bandwidth.readSweep(m.team(), (long) bandwidthMib << 20, 3));
        return new Run(m.team().threads(), bandwidth, results);
    }

    private static int max(int[] v) {
        int m = 0;
        for (int x : v) m = Math.max(m, x);
        return m;
    }

    /** Expert load of the timed runs only (warm-up excluded): imbalance score and load per device. */
    private static void resetLoad(ModelHandle h) {
        if (h.stats != null) h.stats.reset();
    }

    private static ObjectNode load(ModelHandle h) {
        return h.stats == null ? null : h.addLoadFields(new ObjectMapper().createObjectNode());
    }

    /** Most sequences --parallel decodes together. */
    static final int MAX_PARALLEL = 256;

    /** One test; {@code spec} is set for the speculative one, {@code parallel} > 0 for a batched decode. */
    private record Result(String test, int nPrompt, int nGen, int tokens, int depth, long[] samplesNs, ObjectNode load,
                          SpecBench.Result spec, int parallel) {
        Result(String test, int nPrompt, int nGen, int tokens, int depth, long[] samplesNs) {
            this(test, nPrompt, nGen, tokens, depth, samplesNs, null, null, 0);
        }

        Result withLoad(ObjectNode l) {
            return new Result(test, nPrompt, nGen, tokens, depth, samplesNs, l, spec, parallel);
        }

        Result withParallel(int p) {
            return new Result(test, nPrompt, nGen, tokens, depth, samplesNs, load, spec, p);
        }

        /** A single-sequence decode test (not -pg's prompt and decode together). */
        boolean singleDecode() {
            return nGen > 0 && nPrompt == 0 && spec == null && parallel == 0;
        }

        /** ... from an empty cache, so that the weights' bandwidth ceiling bounds its speed (at a depth the keys add reads). */
        boolean underCeiling() {
            return singleDecode() && depth == 0;
        }

        double[] ts() {
            double[] t = new double[samplesNs.length];
            for (int i = 0; i < t.length; i++) t[i] = tokens / (samplesNs[i] / 1e9);
            return t;
        }
    }

    private record Info(String file, String type, long size, long params, long bytesPerToken, String backend) {
    }

    /**
     * Runs a test untimed until {@link #warmup} seconds have passed, at least once, and then on until the JIT has
     * been idle for half a second (at most 30 s more). One short run (llama-bench warms up with one token) left
     * the JIT still compiling: the first timed tg128 run of a Q4_0 model came out 10-20% slower than the rest. A
     * tiny model's passes are so short that after two seconds C2 had not yet compiled the token-lane kernel, and
     * on two threads the demo's pp32 measured 156 t/s against 1,700-2,100 once compiled.
     */
    private void warmUp(Runnable r) {
        long start = System.nanoTime(), end = start + (long) (warmup * 1e9), cap = end + 30_000_000_000L;
        moge.JitWatch jit = new moge.JitWatch();
        while (true) {
            r.run();
            boolean idle = jit.idleFor(500_000_000L); // fed every run, so quiet time before `end` counts
            long now = System.nanoTime();
            if (now >= end && (warmup == 0 || idle || now >= cap)) return;
        }
    }

    private Result measure(String test, int np, int ng, int tokens, Runnable r) {
        long[] ns = new long[reps];
        for (int i = 0; i < reps; i++) {
            long t0 = System.nanoTime();
            r.run();
            ns[i] = System.nanoTime() - t0;
        }
        return new Result(test, np, ng, tokens, depth, ns);
    }

    /** Deterministic token ids, like bench.mjs's prompt generator (kept below the vocabulary size). */
    private static final class Tokens {
        private long x = 12345;
        private final int bound;

        Tokens(int vocab) {
            bound = Math.min(25000, vocab);
        }

        int next() {
            x = (x * 1103515245L + 12345) & 0xFFFFFFFFL;
            return (int) (x % bound);
        }
    }

    /** " @ dD" after a test's name when it starts at depth D, as llama-bench names them. */
    private String at() {
        return depth > 0 ? " @ d" + depth : "";
    }

    /** The first {@link #depth} positions of a sequence, prefilled once in batches the model takes. */
    private void fill(Model m, KvSequence seq, Batch b, ModelConfig c) {
        Tokens tok = new Tokens(c.vocabSize());
        for (int p = 0; p < depth; ) {
            b.clear();
            for (int e = Math.min(depth, p + m.maxBatch()); p < e; p++) b.add(tok.next(), p, seq, p == e - 1);
            m.forward(b);
        }
    }

    private void pp(Model m, KvSequence seq, Batch b, ModelConfig c, int nPrompt) {
        seq.truncate(depth);
        Tokens tok = new Tokens(c.vocabSize());
        b.clear();
        for (int i = 0; i < nPrompt; i++) b.add(tok.next(), depth + i, seq, i == nPrompt - 1);
        m.forward(b);
    }

    private void tg(Model m, KvSequence seq, Batch b, ModelConfig c, int n) {
        seq.truncate(depth);
        decode(m, seq, b, c, depth, n);
    }

    /** n single-token passes at positions start.. (the tokens of {@link Tokens}, from its first). */
    private static void decode(Model m, KvSequence seq, Batch b, ModelConfig c, int start, int n) {
        Tokens tok = new Tokens(c.vocabSize());
        for (int i = 0; i < n; i++) {
            b.clear().add(tok.next(), start + i, seq, true);
            m.forward(b);
        }
    }

    /** -pg: the prompt as one batch, then n tokens decoded after it, one per pass (llama-bench's pp+tg test). */
    private void promptThenGen(Model m, KvSequence seq, Batch b, ModelConfig c, int nPrompt, int n) {
        pp(m, seq, b, c, nPrompt);
        decode(m, seq, b, c, depth + nPrompt, n);
    }

    /** B sequences from {@link #depth}, each step one token of each in one forward pass (a server's decode step). */
    private void tgParallel(Model m, KvSequence[] seqs, Batch b, ModelConfig c, int n) {
        for (KvSequence s : seqs) s.truncate(depth);
        Tokens tok = new Tokens(c.vocabSize());
        for (int i = 0; i < n; i++) {
            b.clear();
            for (KvSequence s : seqs) b.add(tok.next(), depth + i, s, true);
            m.forward(b);
        }
    }

    private Info info(LoadedModel lm) {
        Weights w = lm.weights;
        ModelConfig c = lm.config;
        Map<DType, Long> byType = new EnumMap<>(DType.class);
        long size = 0, perToken = w.embed.bytes() / Math.max(1, w.embed.rows);
        List<Matrix> all = new ArrayList<>();
        all.add(w.embed);
        if (w.lmHead != w.embed) all.add(w.lmHead);
        perToken += w.lmHead.bytes();
        for (Weights.Layer l : w.layers) {
            for (Matrix x : new Matrix[]{l.wq, l.wk, l.wv, l.wo, l.gate, l.up, l.down, l.router, l.sharedGate, l.sharedUp, l.sharedDown}) {
                if (x == null) continue;
                all.add(x);
                perToken += x.bytes();
            }
            if (l.expertGate != null) {
                long experts = 0;
                int n = 0;
                for (int e = 0; e < l.expertGate.length; e++) {
                    if (l.expertGate[e] == null) continue;
                    for (Matrix x : new Matrix[]{l.expertGate[e], l.expertUp[e], l.expertDown[e]}) {
                        all.add(x);
                        experts += x.bytes();
                    }
                    n++;
                }
                if (n > 0) perToken += experts * c.expertsPerTok() / n;
            }
        }
        for (Matrix x : all) {
            size += x.bytes();
            byType.merge(x.type(), x.bytes(), Long::sum);
        }
        // norms and biases count as llama-bench counts them: every tensor of the file (float32 in a GGUF)
        size += 4L * vectorFloats(w);
        DType main = byType.entrySet().stream().max(Map.Entry.comparingByValue()).map(Map.Entry::getKey).orElse(DType.F32);
        String backend = "java-vector " + FloatVector.SPECIES_PREFERRED.vectorBitSize() + "-bit";
        return new Info(lm.name(), c.arch().ggufName + " " + human(c.parameterCount()) + " " + weightsLabel(lm, main), size,
                c.parameterCount(), perToken, backend);
    }

    /**
     * The last word of llama-bench's model column: a GGUF's general.file_type in llama.cpp's words, since a
     * Q4_K_M file is mostly Q4_K but with Q6_K rows, which only the file type says; a Hugging Face directory
     * (or a GGUF without the key) has only its matrices' commonest type to show.
     */
    private static String weightsLabel(LoadedModel lm, DType main) {
        if (lm.source() instanceof GgufFile g && g.metadata().has("general.file_type")) {
            String name = GgufFileType.llamaName(g.metadata().count("general.file_type"));
            if (name != null) return name;
        }
        return main.name();
    }

    /** Elements of the small float vectors (norm weights, biases, router scales), which are not matrices. */
    static long vectorFloats(Weights w) {
        long n = w.finalNorm != null ? w.finalNorm.length : 0;
        for (Weights.Layer l : w.layers) {
            for (float[] v : new float[][]{l.attnNorm, l.bq, l.bk, l.bv, l.bo, l.qNorm, l.kNorm, l.ffnNorm, l.routerScale, l.sharedGateInp}) {
                if (v != null) n += v.length;
            }
        }
        return n;
    }

    private static String human(long n) {
        if (n >= 1_000_000_000L) return String.format("%.1fB", n / 1e9);
        if (n >= 1_000_000L) return String.format("%.0fM", n / 1e6);
        return String.format("%.0fK", n / 1e3);
    }

    private static double mean(double[] v) {
        double s = 0;
        for (double x : v) s += x;
        return s / v.length;
    }

    private static double sd(double[] v) {
        if (v.length < 2) return 0;
        double m = mean(v), s = 0;
        for (double x : v) s += (x - m) * (x - m);
        return Math.sqrt(s / (v.length - 1));
    }

    private void printTable(PrintWriter out, Info info, List<Run> runs) {
        out.println("| model | size | params | backend | threads | test | t/s |");
        out.println("| --- | ---: | ---: | --- | ---: | ---: | ---: |");
        for (Run run : runs) {
            for (Result r : run.results) {
                double[] ts = r.ts();
                out.printf("| %s | %.2f MiB | %.2f M | %s | %d | %s | %.2f ± %.2f |%n", info.type, info.size / 1048576.0,
                        info.params / 1e6, info.backend, run.threads, r.test, mean(ts), sd(ts));
            }
        }
        for (Run run : runs) {
            String at = runs.size() > 1 ? " (" + run.threads + (run.threads == 1 ? " thread)" : " threads)") : "";
            for (Result r : run.results) {
                if (r.load == null) continue;
                out.printf("%s%s expert load: imbalance score mean %.3f, max %.3f, load per %s %s (router %s)%n", r.test, at,
                        r.load.path("imbalance_score_mean").asDouble(), r.load.path("imbalance_score_max").asDouble(),
                        r.load.path("load_unit").asText(), r.load.path("device_load"), r.load.path("router").asText());
            }
            if (!Double.isNaN(run.bandwidth)) {
                double ceiling = run.bandwidth / info.bytesPerToken;
                out.printf("%nmemory bandwidth: %.1f GB/s (read-only sweep of %d MiB, %d thread%s, best pass)%n", run.bandwidth / 1e9,
                        bandwidthMib, run.threads, run.threads == 1 ? "" : "s");
                out.printf("weights read per generated token: %.1f MB -> bandwidth ceiling %.1f t/s%n", info.bytesPerToken / 1e6, ceiling);
                for (Result r : run.results) {
                    if (r.underCeiling()) out.printf("%s%s: %.1f%% of the bandwidth ceiling%n", r.test, at, 100 * mean(r.ts()) / ceiling);
                }
            }
            for (Result r : run.results) {
                Result single = run.results.stream().filter(x -> x.singleDecode() && x.depth == r.depth && x.nGen == r.nGen).findFirst()
                        .orElse(null);
                if (r.parallel > 0 && single != null) {
                    out.printf("%s%s: %d sequences together, %.2fx the aggregate tokens/s of one (%s)%n", r.test, at, r.parallel,
                            mean(r.ts()) / mean(single.ts()), single.test);
                }
            }
            for (Result r : run.results) {
                if (r.spec != null) out.printf("%n%s%n", BenchSpeculation.summary(r.test + at, r.spec));
            }
        }
        out.flush();
    }

    private void printJson(PrintWriter out, Info info, List<Run> runs) {
        ObjectMapper om = new ObjectMapper();
        ArrayNode arr = om.createArrayNode();
        String commit = BuildInfo.commit(), cpu = BuildInfo.cpu();
        String testTime = java.time.Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString();
        for (Run run : runs) {
          for (Result r : run.results) {
            ObjectNode o = arr.addObject();
            double[] ts = r.ts();
            double[] ns = new double[r.samplesNs.length];
            for (int i = 0; i < ns.length; i++) ns[i] = r.samplesNs[i];
            o.put("build_commit", commit);
            o.put("build_number", 0); // llama-bench's is a release counter; moge has none
            o.put("cpu_info", cpu);
            o.put("gpu_info", "");
            o.put("backends", info.backend);
            o.put("model_filename", info.file);
            o.put("model_type", info.type);
            o.put("model_size", info.size);
            o.put("model_n_params", info.params);
            // what ran: a ppN test is one forward pass of N tokens (--batch sizes only the -d fill)
            int nBatch = Math.max(1, r.nPrompt > 0 && r.spec == null ? r.nPrompt : max(prompts));
            o.put("n_batch", nBatch);
            o.put("n_ubatch", nBatch);
            o.put("n_threads", run.threads);
            o.put("n_gpu_layers", 0);
            o.put("flash_attn", true); // prefill attention is tiled with an online softmax
            o.put("use_mmap", true);
            o.put("n_prompt", r.nPrompt);
            o.put("n_gen", r.nGen);
            o.put("n_depth", r.depth);
            o.put("type_k", model.kvType);
            o.put("type_v", model.kvType);
            o.put("test", r.test);
            o.put("test_time", testTime);
            o.put("avg_ns", (long) mean(ns));
            o.put("stddev_ns", (long) sd(ns));
            o.put("avg_ts", mean(ts));
            o.put("stddev_ts", sd(ts));
            ArrayNode sn = o.putArray("samples_ns");
            for (long v : r.samplesNs) sn.add(v);
            ArrayNode st = o.putArray("samples_ts");
            for (double v : ts) st.add(v);
            if (r.load != null) o.setAll(r.load);
            if (r.spec != null) BenchSpeculation.json(o, r.spec);
            if (r.parallel > 0) o.put("n_parallel", r.parallel);
            if (!Double.isNaN(run.bandwidth)) {
                o.put("bandwidth_bytes_per_s", run.bandwidth);
                o.put("bandwidth_method", "read-only sweep, " + bandwidthMib + " MiB, best pass");
                if (r.underCeiling()) {
                    double ceiling = run.bandwidth / info.bytesPerToken;
                    o.put("weight_bytes_per_token", info.bytesPerToken);
                    o.put("bandwidth_ceiling_ts", ceiling);
                    o.put("bandwidth_fraction", mean(ts) / ceiling);
                }
            }
          }
        }
        out.println(arr.toPrettyString());
        out.flush();
    }
}
