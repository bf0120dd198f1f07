package moge.server.api;

import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.chat.ChatMessage;
import moge.generate.GenerationResult;
import moge.server.MogeServer;
import moge.server.ServerOptions;
import moge.server.TestEngines;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * 32 concurrent clients x 8 greedy requests of mixed kinds and lengths (chat and text, streamed and not,
 * shared system prompts): no failure, and every answer equals the same request run alone.
 */
class LoadTest {
    static final String[] WORDS = {"apple", "river", "stone", "light", "music", "cloud", "paper", "tiger", "ocean", "green"};

    record Case(boolean chat, boolean stream, String system, String user, int maxTokens) {
        String body(String model) {
            ObjectNode o = HttpTestClient.JSON.createObjectNode();
            o.put("model", model);
            o.put("temperature", 0);
            o.put("max_tokens", maxTokens);
            o.put("stream", stream);
            if (stream) o.putObject("stream_options").put("include_usage", true);
            if (chat) {
                var msgs = o.putArray("messages");
                if (system != null) msgs.addObject().put("role", "system").put("content", system);
                msgs.addObject().put("role", "user").put("content", user);
            } else {
                o.put("prompt", user);
            }
            return o.toString();
        }

        GenerationResult alone(TestEngines.Reference ref) {
            if (!chat) return ref.continuation(ref.textPrompt(user), maxTokens, List.of());
            List<ChatMessage> m = new ArrayList<>();
            if (system != null) m.add(ChatMessage.system(system));
            m.add(ChatMessage.user(user));
            return ref.ids(ref.chatPrompt(m), maxTokens, List.of());
        }
    }

    static String words(SplittableRandom r, int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) sb.append(i == 0 ? "" : " ").append(WORDS[r.nextInt(WORDS.length)]);
        return sb.toString();
    }

    @Test
    void thirtyTwoClientsEightRequestsEachMatchRunningAlone() throws Exception {
        SplittableRandom r = new SplittableRandom(2024);
        String[] systems = {null, "You answer in one word. " + words(r, 30), "You are a poet. " + words(r, 50)};
        int distinct = 48;
        List<Case> cases = new ArrayList<>();
        for (int i = 0; i < distinct; i++) {
            int len = r.nextInt(4) == 0 ? 40 + r.nextInt(80) : 1 + r.nextInt(12);
            cases.add(new Case(r.nextBoolean(), r.nextBoolean(), systems[r.nextInt(systems.length)], words(r, len), 2 + r.nextInt(20)));
        }
        List<GenerationResult> expected = new ArrayList<>();
        moge.thinking.ThinkProtocol protocol;
        try (TestEngines.Reference ref = new TestEngines.Reference()) {
            for (Case c : cases) expected.add(c.alone(ref));
            protocol = moge.thinking.ThinkProtocol.of(ref.lm.tokenizer);
        }

        ServerOptions o = new ServerOptions().parallel(8).context(512).batchTokens(96).queueSize(64).modelId("tiny");
        try (MogeServer server = TestEngines.start(o); ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            HttpTestClient client = new HttpTestClient(server.port());
            ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
            List<Future<?>> clients = new ArrayList<>();
            long t0 = System.nanoTime();
            for (int c = 0; c < 32; c++) {
                final int seed = c;
                clients.add(pool.submit(() -> {
                    SplittableRandom cr = new SplittableRandom(seed);
                    for (int k = 0; k < 8; k++) {
                        int i = cr.nextInt(distinct);
                        Case cs = cases.get(i);
                        GenerationResult want = expected.get(i);
                        try {
                            String text, finish;
                            long completion;
                            if (cs.stream()) {
                                HttpTestClient.Events ev = client.stream(cs.chat() ? "/v1/chat/completions" : "/v1/completions", cs.body("tiny"));
                                if (ev.status() != 200 || !ev.done()) {
                                    failures.add("case " + i + ": status " + ev.status() + " done " + ev.done());
                                    continue;
                                }
                                text = ev.text();
                                finish = ev.finishReason();
                                completion = ev.data().getLast().path("usage").path("completion_tokens").asLong(-1);
                            } else {
                                HttpTestClient.Reply rep = client.post(cs.chat() ? "/v1/chat/completions" : "/v1/completions", cs.body("tiny"));
                                if (rep.status() != 200) {
                                    failures.add("case " + i + ": status " + rep.status() + " " + rep.text());
                                    continue;
                                }
                                var choice = rep.json().path("choices").get(0);
                                text = cs.chat() ? choice.path("message").path("content").asText() : choice.path("text").asText();
                                finish = choice.path("finish_reason").asText();
                                completion = rep.json().path("usage").path("completion_tokens").asLong();
                            }
                            // chat answers come through the reasoning parser (think markers out, edges trimmed)
                            String wantText = cs.chat() ? moge.thinking.ReasoningParser.split(protocol, false,
                                    want.text()).content() : want.text();
                            if (!text.equals(wantText) || !want.finishReason().equals(finish) || completion != want.generatedIds().length) {
                                failures.add("case " + i + ": got [" + text + "] " + finish + " " + completion + ", alone [" + wantText + "] "
                                        + want.finishReason() + " " + want.generatedIds().length);
                            }
                        } catch (Exception e) {
                            failures.add("case " + i + ": " + e);
                        }
                    }
                }));
            }
            for (Future<?> f : clients) f.get(150, TimeUnit.SECONDS);
            double seconds = (System.nanoTime() - t0) / 1e9;
            assertThat(failures).isEmpty();
            assertThat(seconds).isLessThan(120);
            assertThat(server.scheduler().kvBlocksUsed()).isZero();
            // the shared system prompts were served from the prefix cache
            assertThat(server.scheduler().prefixHitTokens()).isPositive();
        }
    }
}
