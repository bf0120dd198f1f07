package moge.model;

import java.util.Arrays;

/**
 * Everything the forward pass needs to know about a model, whatever file it came from. Filled by the
 * reader of each format (config.json or GGUF metadata); the forward pass never looks at file details.
 *
 * @param denseLayers   layers that use a dense SwiGLU MLP although the model has experts (mlp_only_layers)
 * @param expertGroups  MoGE groups; experts [g * n/groups, (g+1) * n/groups) form group g
 * @param normTopkProb  renormalise the selected expert weights to sum to one (Qwen3-MoE), not MoGE
 * @param qkNorm        per-head RMSNorm of q and k before RoPE (Qwen3)
 * @param ropeStyle     which dimensions RoPE pairs (NEOX unless a GGUF {@code llama} file says otherwise)
 */
public record ModelConfig(
        Arch arch,
        int vocabSize,
        int hidden,
        int layers,
        int heads,
        int kvHeads,
        int headDim,
        int intermediate,
        int numExperts,
        int expertsPerTok,
        int expertGroups,
        int moeIntermediate,
        int sharedIntermediate,
        boolean normTopkProb,
        boolean[] denseLayers,
        double ropeTheta,
        float rmsEps,
        int maxPositions,
        boolean tiedEmbeddings,
        boolean qkvBias,
        boolean oBias,
        boolean qkNorm,
        RouterKind router,
        RopeStyle ropeStyle) {

    public ModelConfig {
        if (ropeStyle == null) ropeStyle = RopeStyle.NEOX;
    }

    /** The configuration with NeoX RoPE (every Hugging Face checkpoint moge reads). */
    public ModelConfig(Arch arch, int vocabSize, int hidden, int layers, int heads, int kvHeads, int headDim, int intermediate,
                       int numExperts, int expertsPerTok, int expertGroups, int moeIntermediate, int sharedIntermediate,
                       boolean normTopkProb, boolean[] denseLayers, double ropeTheta, float rmsEps, int maxPositions,
                       boolean tiedEmbeddings, boolean qkvBias, boolean oBias, boolean qkNorm, RouterKind router) {
        this(arch, vocabSize, hidden, layers, heads, kvHeads, headDim, intermediate, numExperts, expertsPerTok, expertGroups,
                moeIntermediate, sharedIntermediate, normTopkProb, denseLayers, ropeTheta, rmsEps, maxPositions, tiedEmbeddings,
                qkvBias, oBias, qkNorm, router, RopeStyle.NEOX);
    }

    public boolean isMoe(int layer) {
        return numExperts > 0 && !(denseLayers != null && layer < denseLayers.length && denseLayers[layer]);
    }

    public boolean hasExperts() {
        return numExperts > 0;
    }

    public int qDim() {
        return heads * headDim;
    }

    public int kvDim() {
        return kvHeads * headDim;
    }

    public int expertsPerGroup() {
        return numExperts / expertGroups;
    }

    public ModelConfig withRouter(RouterKind r) {
        return new ModelConfig(arch, vocabSize, hidden, layers, heads, kvHeads, headDim, intermediate, numExperts,
                expertsPerTok, expertGroups, moeIntermediate, sharedIntermediate, normTopkProb, denseLayers, ropeTheta,
                rmsEps, maxPositions, tiedEmbeddings, qkvBias, oBias, qkNorm, r, ropeStyle);
    }

    /** Total parameters, counted from the shapes the config implies. */
    public long parameterCount() {
        return parameters(false);
    }

    /** Parameters touched by one token (routed experts counted k times, not n). */
    public long activeParameterCount() {
        return parameters(true);
    }

    private long parameters(boolean activeOnly) {
        long h = hidden;
        long attn = h * qDim() + 2 * h * kvDim() + (long) qDim() * h;
        if (qkvBias) attn += qDim() + 2L * kvDim();
        if (oBias) attn += h;
        if (qkNorm) attn += 2L * headDim;
        long total = 0;
        for (int l = 0; l < layers; l++) {
            long ffn;
            if (isMoe(l)) {
                long expert = 3 * h * moeIntermediate;
                ffn = (activeOnly ? expertsPerTok : numExperts) * expert + (long) numExperts * h + numExperts;
                if (sharedIntermediate > 0) ffn += 3 * h * sharedIntermediate;
            } else {
                ffn = 3 * h * intermediate;
            }
            total += attn + ffn + 2 * h;
        }
        long embed = (long) vocabSize * h;
        total += embed + h + (tiedEmbeddings ? 0 : embed);
        return total;
    }

    @Override
    public String toString() {
        return "ModelConfig[" + arch + " vocab=" + vocabSize + " hidden=" + hidden + " layers=" + layers + " heads=" + heads
                + "/" + kvHeads + " headDim=" + headDim + " ff=" + intermediate + " experts=" + numExperts + " k=" + expertsPerTok
                + " groups=" + expertGroups + " moeFF=" + moeIntermediate + " sharedFF=" + sharedIntermediate
                + " dense=" + Arrays.toString(denseLayers) + " theta=" + ropeTheta + " eps=" + rmsEps + " tied=" + tiedEmbeddings
                + " router=" + router + " rope=" + ropeStyle + "]";
    }
}
