package moge.tensor;

import moge.format.DType;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** Whether a product is handed to the team: by its multiply-adds or, where they are more, its bytes. */
class KernelsCostTest {
    @Test
    void float32RouterIsSplitByItsBytes() {
        // qwen3moe's router: 64 x 2048 float32, 131072 multiply-adds (below the inline cost) but 512 KiB to read
        Matrix router = Matrix.of("router", DType.F32, 64, 2048, QuantTestData.random(DType.F32, 64, 2048, 1));
        assertThat((long) router.rows * router.cols).isLessThan(Parallel.INLINE_COST);
        assertThat(Kernels.cost(router, 1)).isEqualTo(router.bytes()).isGreaterThanOrEqualTo(Parallel.INLINE_COST);
    }

    @Test
    void quantizedProductsAreCountedByMultiplyAdds() {
        Matrix q4 = QuantizedMatrices.create("w", DType.Q4_0, 64, 2048, QuantTestData.random(DType.Q4_0, 64, 2048, 2));
        assertThat(Kernels.cost(q4, 1)).isEqualTo(64L * 2048);
        assertThat(Kernels.cost(q4, 3)).isEqualTo(3L * 64 * 2048);
        // a small float32 product stays on the calling thread
        Matrix small = Matrix.of("small", DType.F32, 16, 256, QuantTestData.random(DType.F32, 16, 256, 3));
        assertThat(Kernels.cost(small, 1)).isLessThan(Parallel.INLINE_COST);
    }
}
