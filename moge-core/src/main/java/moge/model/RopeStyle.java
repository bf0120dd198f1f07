package moge.model;

/**
 * Which dimensions RoPE rotates together. NEOX (rotate_half, Hugging Face Llama/Qwen/openPangu): pair
 * (i, i + d/2). INTERLEAVED (GPT-J, llama.cpp's "normal" rope used by its {@code llama} architecture,
 * whose converter permutes the q/k rows to match): pair (2i, 2i + 1). Both rotate pair i by
 * pos * theta^(-2i/d).
 */
public enum RopeStyle {
    NEOX, INTERLEAVED
}
