package moge.train.eval;

import moge.model.LoadedModel;
import moge.model.ModelLoader;
import moge.train.data.ChatFormat;
import moge.train.data.HeldOut;
import moge.train.merge.CheckpointMerge;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Developer entry point for the numbers in the report (java -cp ... moge.train.eval.EvalTool):
 * <pre>
 *   table MODEL [PER_CLASS]                held-out accuracy per class and mode
 *   agree TARGET DRAFT [PER_CLASS]         draft token agreement on the target's greedy outputs
 *   merge-demo A B OUT [PER_CLASS]         accuracy of A, B and their equal-weight merge
 * </pre>
 */
public final class EvalTool {
    private EvalTool() {
    }

    public static void main(String[] args) throws Exception {
        int threads = Integer.getInteger("threads", Runtime.getRuntime().availableProcessors());
        switch (args[0]) {
            case "table" -> {
                Path m = Path.of(args[1]);
                int per = args.length > 2 ? Integer.parseInt(args[2]) : 50;
                System.out.print(HeldOutEval.markdown(EvalReport.evaluate(m, per, 320, threads)));
            }
            case "agree" -> {
                Path target = Path.of(args[1]), draft = Path.of(args[2]);
                int per = args.length > 3 ? Integer.parseInt(args[3]) : 20;
                List<HeldOut.Item> items = EvalReport.items(target, per);
                int[] ks = {1, 2, 3, 4, 5, 6, 8};
                for (ChatFormat.Mode mode : ChatFormat.Mode.values()) {
                    List<HeldOutEval.Output> outs;
                    try (LoadedModel t = ModelLoader.load(target)) {
                        outs = HeldOutEval.run(t, items, List.of(mode), 320, threads);
                    }
                    DraftAgreement.Result r;
                    try (LoadedModel d = ModelLoader.load(draft)) {
                        r = DraftAgreement.measure(d, outs, ks, threads);
                    }
                    StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%s: %d target tokens, draft agrees on %.1f%%; tokens per target pass:",
                            mode.name().toLowerCase(), r.tokens(), 100 * r.agreement()));
                    for (int i = 0; i < ks.length; i++) sb.append(String.format(Locale.ROOT, " K=%d %.2f", ks[i], r.tokensPerRound()[i]));
                    System.out.println(sb);
                }
            }
            case "merge-demo" -> {
                Path a = Path.of(args[1]), b = Path.of(args[2]), out = Path.of(args[3]);
                int per = args.length > 4 ? Integer.parseInt(args[4]) : 50;
                CheckpointMerge.merge(List.of(a, b), null, out, null);
                for (Path p : List.of(a, b, out)) {
                    System.out.println("## " + p);
                    System.out.print(HeldOutEval.markdown(EvalReport.evaluate(p, per, 320, threads)));
                }
            }
            default -> throw new IllegalArgumentException("unknown command " + args[0]);
        }
    }
}
