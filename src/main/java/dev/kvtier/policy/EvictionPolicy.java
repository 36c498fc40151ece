package dev.kvtier.policy;

import java.util.function.IntPredicate;

/**
 * Chooses which resident block of a tier leaves first. Blocks are index entry numbers; the
 * policy sees only these events and the cache's {@code evictable} test (unpinned, published,
 * no resident child), never bytes. Calls are serialised by the cache's metadata lock, and an
 * implementation allocates nothing per call.
 */
public interface EvictionPolicy {
    /** A block became resident. */
    void onInsert(int entry);

    /** A block was hit by a lookup, load or store. */
    void onAccess(int entry);

    /** A block left the tier (evicted or invalidated). */
    void onRemove(int entry);

    /** The block to evict next among those {@code evictable} accepts, or -1 when there is none. */
    default int victim(IntPredicate evictable) {
        return victim(evictable, Integer.MAX_VALUE);
    }

    /**
     * The block to evict next among those {@code evictable} accepts, asking about at most
     * {@code limit} blocks from the cold end; -1 when none of them is accepted.
     */
    int victim(IntPredicate evictable, int limit);
}
