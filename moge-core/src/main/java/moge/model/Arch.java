package moge.model;

/** The model families the forward pass knows; each differs only in a few switches of {@link ModelConfig}. */
public enum Arch {
    PANGU_PRO_MOE("PanguProMoEForCausalLM", "pangu-pro-moe"),
    PANGU_EMBEDDED("PanguEmbeddedForCausalLM", "pangu-embedded"),
    QWEN3("Qwen3ForCausalLM", "qwen3"),
    QWEN3_MOE("Qwen3MoeForCausalLM", "qwen3moe"),
    LLAMA("LlamaForCausalLM", "llama");

    public final String hfName;
    public final String ggufName;

    Arch(String hfName, String ggufName) {
        this.hfName = hfName;
        this.ggufName = ggufName;
    }

    public static Arch fromGguf(String name) {
        for (Arch a : values()) if (a.ggufName.equals(name)) return a;
        return null;
    }

    public static Arch fromHf(String name) {
        for (Arch a : values()) if (a.hfName.equals(name)) return a;
        return null;
    }
}
