package moge.format.gguf;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** llama.cpp's names for general.file_type, which `moge bench` and `moge inspect` show as llama.cpp does. */
class GgufFileTypeTest {
    @Test
    void everyTypeMogeWritesHasLlamaCppsName() {
        for (GgufFileType t : GgufFileType.values()) assertThat(GgufFileType.llamaName(t.id)).as(t.name()).isNotNull();
        assertThat(GgufFileType.llamaName(GgufFileType.Q4_K_M.id)).isEqualTo("Q4_K - Medium");
        assertThat(GgufFileType.llamaName(GgufFileType.Q4_K.id)).isEqualTo("Q4_K - Small");
        assertThat(GgufFileType.llamaName(GgufFileType.F32.id)).isEqualTo("all F32");
        assertThat(GgufFileType.llamaName(GgufFileType.BF16.id)).isEqualTo("BF16");
        assertThat(GgufFileType.llamaName(GgufFileType.Q3_K_M.id)).isEqualTo("Q3_K - Medium");
        assertThat(GgufFileType.llamaName(GgufFileType.Q2_K_M.id)).isEqualTo("Q2_K - Medium");
        assertThat(GgufFileType.llamaName(GgufFileType.Q2_K.id)).isEqualTo("Q2_K - Small");
        assertThat(GgufFileType.llamaName(GgufFileType.IQ4_XS.id)).isEqualTo("IQ4_XS - 4.25 bpw");
    }

    @Test
    void typesOfOtherQuantizersAreNamedAndUnknownOnesAreNot() {
        assertThat(GgufFileType.llamaName(17)).isEqualTo("Q5_K - Medium");
        assertThat(GgufFileType.llamaName(21)).isEqualTo("Q2_K - Small");
        assertThat(GgufFileType.llamaName(19)).isNull(); // IQ2_XXS: not a type moge runs
        assertThat(GgufFileType.llamaName(4)).isNull();  // Q4_1_SOME_F16, long gone from llama.cpp
    }
}
