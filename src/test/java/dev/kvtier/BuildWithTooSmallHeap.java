package dev.kvtier;

import net.openhft.chronicle.core.UnsafeMemory;
import net.openhft.chronicle.core.io.BackgroundResourceReleaser;

/**
 * Run with a small -Xmx: builds and closes a small cache (the control), then builds one whose
 * index does not fit the heap, so build fails after the DRAM slab is allocated. Prints what was
 * thrown and the native bytes each left held.
 */
public final class BuildWithTooSmallHeap {
    private BuildWithTooSmallHeap() {
    }

    public static void main(String[] args) {
        long before = nativeBytes();
        KvTierCache.builder().blockTokens(16).blockBytes(64).dramCapacityBytes(64L * 1000).build().close();
        System.out.println("control held " + (nativeBytes() - before));
        before = nativeBytes();
        try (KvTierCache cache = KvTierCache.builder().blockTokens(16).blockBytes(64)
                .dramCapacityBytes(64L * 4_000_000).build()) {
            System.out.println("built " + cache.blockBytes());
        } catch (Throwable e) {
            System.out.println("thrown " + e.getClass().getName());
        }
        System.out.println("failed build held " + (nativeBytes() - before));
    }

    /** Native bytes in use once Chronicle's background releaser has freed what was released. */
    private static long nativeBytes() {
        BackgroundResourceReleaser.releasePendingResources();
        return UnsafeMemory.MEMORY.nativeMemoryUsed();
    }
}
