package moge.format;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Locale;

/**
 * Huge pages under the weights. Decode streams every weight once per token, so with 4 KB pages every 4 KB of
 * weights costs a TLB miss and a page walk. On Linux, weights repacked at load time (Q8_0, Q4_0) therefore
 * live in 2 MB-aligned anonymous mappings advised {@code MADV_HUGEPAGE} ({@link #allocate}), which transparent
 * huge pages back with 2 MB pages in the common {@code madvise} mode as well as in {@code always} (Q8_0
 * products from DRAM on two threads about 7% faster; BENCHMARKS.md section 2), and mapped model files get the
 * same advice ({@link #adviseMapped}).
 * <p>
 * Matrices smaller than a quarter of a slab are carved from shared 32 MB slabs, because an expert's matrix
 * (hundreds of KB) would waste most of a 2 MB page of its own. A slab is unmapped once no matrix in it is
 * reachable. Elsewhere, without native access ({@code --enable-native-access}, which the launcher and the jar's
 * manifest grant), when the mapping fails, or with {@code -Dmoge.hugepages=false}, the memory is an ordinary
 * automatic arena's (and mapped files keep small pages). Either way allocated memory starts zeroed.
 */
public final class HugePages {
    private static final long HUGE_PAGE = 2L << 20;
    private static final long SLAB = 32L << 20;
    private static final long ALIGN = 64;
    private static final int PROT_READ_WRITE = 0x3, MAP_PRIVATE_ANONYMOUS = 0x22, MADV_HUGEPAGE = 14;

    private static final MethodHandle MMAP, MUNMAP, MADVISE;

    static {
        MethodHandle mmap = null, munmap = null, madvise = null;
        boolean linux = System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux");
        // without --enable-native-access the JDK would warn on the first native call: plain arenas instead
        boolean allowed = HugePages.class.getModule().isNativeAccessEnabled();
        if (linux && allowed && !"false".equals(System.getProperty("moge.hugepages"))) {
            try {
                Linker linker = Linker.nativeLinker();
                SymbolLookup libc = linker.defaultLookup();
                ValueLayout.OfLong size = ValueLayout.JAVA_LONG;
                mmap = linker.downcallHandle(libc.find("mmap").orElseThrow(), FunctionDescriptor.of(ValueLayout.ADDRESS,
                        ValueLayout.ADDRESS, size, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, size));
                munmap = linker.downcallHandle(libc.find("munmap").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, size));
                madvise = linker.downcallHandle(libc.find("madvise").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, size, ValueLayout.JAVA_INT));
            } catch (RuntimeException | LinkageError e) {
                // no native access (or no libc symbols): plain arenas, same results, a little slower
                mmap = null;
            }
        }
        MMAP = mmap;
        MUNMAP = munmap;
        MADVISE = madvise;
    }

    private static MemorySegment slab = MemorySegment.NULL;
    private static long used;

    private HugePages() {
    }

    /** Zeroed memory of {@code bytes} bytes, 64-byte aligned, freed when no longer reachable. */
    public static synchronized MemorySegment allocate(long bytes) {
        if (MMAP == null) return Arena.ofAuto().allocate(bytes, ALIGN);
        long need = (bytes + ALIGN - 1) / ALIGN * ALIGN;
        if (need > SLAB / 4) return mapped(bytes);
        if (used + need > slab.byteSize()) {
            MemorySegment fresh = mapped(SLAB);
            if (fresh.byteSize() < SLAB) return Arena.ofAuto().allocate(bytes, ALIGN); // mapping failed
            slab = fresh;
            used = 0;
        }
        MemorySegment s = slab.asSlice(used, bytes);
        used += need;
        return s;
    }

    /**
     * Advises a memory-mapped model file to use huge pages. Pages the kernel then reads in for the mapping come as
     * 2 MB folios where the file system allows (ext4 and xfs on recent kernels), mapped with one TLB entry each;
     * pages already cached in small folios (the file was read before without this advice) stay as they are
     * until evicted. Float models read from their mapping, so this is their counterpart of {@link #allocate}
     * (measured on a cold cache: F32 decode about 10% faster; BENCHMARKS.md section 2).
     */
    public static void adviseMapped(MemorySegment file) {
        if (MADVISE == null) return;
        long a = file.address();
        long start = (a + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE, end = (a + file.byteSize()) / HUGE_PAGE * HUGE_PAGE;
        if (end <= start) return;
        try {
            // a refusal leaves the mapping on small pages, which is all it had before
            int refused = (int) MADVISE.invokeExact(MemorySegment.ofAddress(start), end - start, MADV_HUGEPAGE);
        } catch (Throwable e) {
            // as above
        }
    }

    /**
     * A 2 MB-aligned anonymous mapping of at least {@code bytes}, advised as huge pages; a plain arena's memory
     * (exactly {@code bytes}) if mapping fails.
     */
    private static MemorySegment mapped(long bytes) {
        long size = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE, total = size + HUGE_PAGE;
        try {
            MemorySegment raw = (MemorySegment) MMAP.invokeExact(MemorySegment.NULL, total, PROT_READ_WRITE, MAP_PRIVATE_ANONYMOUS, -1, 0L);
            if (raw.address() == -1L) return Arena.ofAuto().allocate(bytes, ALIGN);
            long start = raw.address();
            // one automatic arena per mapping: unmapped (whole, with its unaligned ends) once nothing in it is reachable
            MemorySegment whole = raw.reinterpret(total, Arena.ofAuto(), s -> unmap(start, total));
            MemorySegment aligned = whole.asSlice((start + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE - start, size);
            // a refusal (THP compiled out, or set to "never") leaves a mapping that works with small pages
            int refused = (int) MADVISE.invokeExact(aligned, size, MADV_HUGEPAGE);
            return aligned.asSlice(0, bytes);
        } catch (Throwable e) {
            return Arena.ofAuto().allocate(bytes, ALIGN);
        }
    }

    private static void unmap(long address, long length) {
        try {
            int failed = (int) MUNMAP.invokeExact(MemorySegment.ofAddress(address), length);
        } catch (Throwable e) {
            // nothing to be done at cleanup time: the address space stays reserved
        }
    }
}
