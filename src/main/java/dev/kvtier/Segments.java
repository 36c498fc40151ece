package dev.kvtier;

import net.openhft.chronicle.core.UnsafeMemory;

/** Copies between a contiguous block and a caller's {@link BlockSegments}. */
final class Segments {
    private Segments() {
    }

    /** Copies the block at {@code from} into block {@code block} of {@code dst}. */
    static void scatter(long from, BlockSegments dst, int block, int segmentBytes, int blockBytes) {
        for (int s = 0, n = blockBytes / segmentBytes; s < n; s++) {
            UnsafeMemory.MEMORY.copyMemory(from + (long) s * segmentBytes, dst.address(block, s), segmentBytes);
        }
    }

    /** Copies block {@code block} of {@code src} into the block at {@code to}. */
    static void gather(BlockSegments src, int block, long to, int segmentBytes, int blockBytes) {
        for (int s = 0, n = blockBytes / segmentBytes; s < n; s++) {
            UnsafeMemory.MEMORY.copyMemory(src.address(block, s), to + (long) s * segmentBytes, segmentBytes);
        }
    }
}
