package moge.model;

/** How the MoE router picks experts: MoGE (top-k' inside each equal group) or plain global top-k. */
public enum RouterKind {
    MOGE, TOPK;

    public static RouterKind parse(String s) {
        return switch (s.toLowerCase(java.util.Locale.ROOT)) {
            case "moge", "grouped" -> MOGE;
            case "topk", "top-k", "global" -> TOPK;
            default -> throw new moge.MogeException("--router: unknown router '" + s + "' (expected moge or topk)");
        };
    }
}
