package moge.format;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import static org.assertj.core.api.Assertions.assertThat;

class HugePagesTest {
    private static final boolean LINUX = System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux");

    @Test
    void allocationsAreZeroedAlignedAndApart() {
        // sizes around the slab's quarter (8 MB), odd sizes, and enough small ones to fill more than one slab
        long[] sizes = {1, 63, 64, 65, 4096, 418_304, (8L << 20) - 1, (8L << 20) + 1, 5_000_017};
        List<MemorySegment> all = new ArrayList<>();
        for (int round = 0; round < 12; round++) {
            for (long size : sizes) {
                MemorySegment s = HugePages.allocate(size);
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

    private static final boolean ACTIVE = LINUX && !"false".equals(System.getProperty("moge.hugepages"));

    @Test
    void largeMatricesStartOnAHugePageOnLinux() throws IOException {
        MemorySegment s = HugePages.allocate(20L << 20);
        s.set(ValueLayout.JAVA_LONG_UNALIGNED, s.byteSize() - 8, 42L);
        assertThat(s.get(ValueLayout.JAVA_LONG_UNALIGNED, s.byteSize() - 8)).isEqualTo(42L);
        if (ACTIVE) {
            assertThat(s.address() % (2L << 20)).as("2 MB aligned").isZero();
            assertThat(vmFlags(s.address())).as("advised MADV_HUGEPAGE").contains("hg");
        }
    }

    @Test
    void mappedFilesAreAdvisedAndStayReadable(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("weights.bin");
        byte[] bytes = new byte[5 << 20];
        for (int i = 0; i < bytes.length; i++) bytes[i] = (byte) (i * 31 + 7);
        Files.write(file, bytes);
        try (Arena arena = Arena.ofConfined(); FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            MemorySegment seg = ch.map(FileChannel.MapMode.READ_ONLY, 0, bytes.length, arena);
            HugePages.adviseMapped(seg);
            for (int i = 0; i < bytes.length; i += 65_537) assertThat(seg.get(ValueLayout.JAVA_BYTE, i)).isEqualTo(bytes[i]);
            // the 2 MB-aligned part inside a 5 MB mapping is at least one whole huge page
            long inside = (seg.address() + (2L << 20) - 1) / (2L << 20) * (2L << 20);
            if (ACTIVE) assertThat(vmFlags(inside)).as("advised MADV_HUGEPAGE").contains("hg");
        }
    }

    /** The VmFlags of the mapping that holds {@code address}, from /proc/self/smaps. */
    private static List<String> vmFlags(long address) throws IOException {
        boolean inside = false;
        for (String line : Files.readAllLines(Path.of("/proc/self/smaps"))) {
            int dash = line.indexOf('-'), space = line.indexOf(' ');
            if (dash > 0 && space > dash && line.substring(0, dash).matches("[0-9a-f]+")) {
                long lo = Long.parseUnsignedLong(line.substring(0, dash), 16), hi = Long.parseUnsignedLong(line.substring(dash + 1, space), 16);
                inside = address >= lo && address < hi;
            } else if (inside && line.startsWith("VmFlags:")) {
                return List.of(line.substring("VmFlags:".length()).trim().split(" +"));
            }
        }
        throw new AssertionError("no mapping holds 0x" + Long.toHexString(address));
    }
}
