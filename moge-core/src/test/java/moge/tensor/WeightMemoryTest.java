package moge.tensor;

import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import static org.assertj.core.api.Assertions.assertThat;

class WeightMemoryTest {
    private static final boolean LINUX = System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux");

    @Test
    void allocationsAreZeroedAlignedAndApart() {
        // sizes around the slab's quarter (8 MB), odd sizes, and enough small ones to fill more than one slab
        long[] sizes = {1, 63, 64, 65, 4096, 418_304, (8L << 20) - 1, (8L << 20) + 1, 5_000_017};
        List<MemorySegment> all = new ArrayList<>();
        for (int round = 0; round < 12; round++) {
            for (long size : sizes) {
                MemorySegment s = WeightMemory.allocate(size);
                assertThat(s.byteSize()).isEqualTo(size);
                assertThat(s.address() % 64).isZero();
                for (long i = 0; i < size; i += 4093) assertThat(s.get(ValueLayout.JAVA_BYTE, i)).isZero();
                assertThat(s.get(ValueLayout.JAVA_BYTE, size - 1)).isZero();
                s.fill((byte) (all.size() + 1));
                all.add(s);
            }
        }
        // every segment still holds its own fill: no two share a byte
        for (int i = 0; i < all.size(); i++) {
            MemorySegment s = all.get(i);
            byte mark = (byte) (i + 1);
            assertThat(s.get(ValueLayout.JAVA_BYTE, 0)).isEqualTo(mark);
            assertThat(s.get(ValueLayout.JAVA_BYTE, s.byteSize() - 1)).isEqualTo(mark);
            assertThat(s.get(ValueLayout.JAVA_BYTE, s.byteSize() / 2)).isEqualTo(mark);
        }
    }

    @Test
    void largeMatricesStartOnAHugePageOnLinux() {
        boolean mapped = LINUX && !"false".equals(System.getProperty("moge.hugepages"));
        MemorySegment s = WeightMemory.allocate(20L << 20);
        if (mapped) assertThat(s.address() % (2L << 20)).as("2 MB aligned").isZero();
        s.set(ValueLayout.JAVA_LONG_UNALIGNED, s.byteSize() - 8, 42L);
        assertThat(s.get(ValueLayout.JAVA_LONG_UNALIGNED, s.byteSize() - 8)).isEqualTo(42L);
    }
}
