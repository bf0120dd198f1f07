// Decode/prefill speed and expert load with the experts on 1..N local devices or on remote workers.
//   java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp moge-cli/target/moge.jar \
//        scripts/BenchParallelism.java MODEL ROUTER DEVICES|host:port,host:port [THREADS] [PROMPT] [DECODE] [TRANSPORT]
// Prints one JSON line per run: prefill and decode tokens/s (best of 3 after a warm-up), load fields, worker traffic.
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.cli.ModelHandle;
import moge.cli.ModelOptions;
import moge.cluster.RemoteDevice;
import moge.generate.GenerateOptions;
import moge.generate.GenerationResult;
import moge.generate.Generator;
import moge.generate.TokenListener;
import moge.model.KvCache;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

void main(String[] a) {
    ModelOptions o = new ModelOptions();
    o.model = Path.of(a[0]);
    o.router = a[1];
    if (a[2].contains(":")) o.workers = Arrays.asList(a[2].split(","));
    else o.devices = Integer.parseInt(a[2]);
    o.threads = a.length > 3 ? Integer.parseInt(a[3]) : 2;
    int promptLen = a.length > 4 ? Integer.parseInt(a[4]) : 256, decode = a.length > 5 ? Integer.parseInt(a[5]) : 64;
    if (a.length > 6) o.transport = a[6];
    o.batch = promptLen;
    try (ModelHandle h = o.open()) {
        int vocab = h.loaded.config.vocabSize();
        SplittableRandom r = new SplittableRandom(3);
        int[] prompt = new int[promptLen];
        for (int i = 0; i < promptLen; i++) prompt[i] = r.nextInt(vocab);
        int ctx = promptLen + decode + 8;
        Generator g = new Generator(h.model, null, KvCache.forContext(h.loaded.config, ctx, 1, 16).newSequence(), ctx);
        GenerateOptions go = GenerateOptions.greedy(decode, new int[0]).withIgnoreEos(true);
        g.generate(prompt, go, TokenListener.NONE); // warm-up
        g.reset();
        h.stats.reset();
        List<RemoteDevice.Traffic> before = h.workerTraffic();
        double bestPrefill = 0, bestDecode = 0;
        int[] ids = null;
        for (int rep = 0; rep < 3; rep++) {
            g.reset();
            GenerationResult res = g.generate(prompt, go, TokenListener.NONE);
            bestPrefill = Math.max(bestPrefill, res.timings().promptPerSecond());
            bestDecode = Math.max(bestDecode, res.timings().predictedPerSecond());
            ids = res.generatedIds();
        }
        ObjectNode n = new ObjectMapper().createObjectNode();
        n.put("placement", h.placementDescription());
        n.put("threads", o.threads);
        n.put("prompt_tokens", promptLen);
        n.put("decode_tokens", decode);
        n.put("prefill_tokens_per_s", Math.round(bestPrefill * 10) / 10.0);
        n.put("decode_tokens_per_s", Math.round(bestDecode * 100) / 100.0);
        n.put("ids_hash", Arrays.hashCode(ids));
        h.addLoadFields(n);
        n.remove("expert_popularity");
        List<RemoteDevice.Traffic> after = h.workerTraffic();
        for (int i = 0; i < after.size(); i++) {
            RemoteDevice.Traffic t0 = before.get(i), t1 = after.get(i);
            long calls = t1.calls() - t0.calls();
            ObjectNode w = n.withArray("workers").addObject();
            w.put("calls", calls);
            w.put("bytes_out_per_call", (t1.bytesOut() - t0.bytesOut()) / Math.max(1, calls));
            w.put("bytes_in_per_call", (t1.bytesIn() - t0.bytesIn()) / Math.max(1, calls));
            w.put("round_trip_us_per_call", (t1.roundTripNanos() - t0.roundTripNanos()) / 1000.0 / Math.max(1, calls));
            w.put("worker_compute_us_per_call", (t1.workerNanos() - t0.workerNanos()) / 1000.0 / Math.max(1, calls));
        }
        System.out.println(n);
    }
}
