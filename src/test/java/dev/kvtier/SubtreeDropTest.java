package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import dev.kvtier.metrics.CacheMetrics;
import dev.kvtier.tier.DramTier;
import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Test;

/**
 * Dropping a block with its descendants (a corrupt or mismatched read, a remote slot taken by
 * another writer) costs work in proportion to that subtree, not to the cache: on an index of a
 * million entries, dropping a 3-block subtree allocates (almost) nothing and leaves every other
 * block alone. Before, each drop allocated a byte per index entry and scanned the index twice.
 */
class SubtreeDropTest {
    private static final int ENTRIES = 1 << 20;
    private static final Namespace NS = Namespace.builder("drop").blockTokens(16).build();

    @Test
    void droppingASubtreeCostsItsSizeNotTheIndexSize() {
        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (DramTier dram = new DramTier(ENTRIES * 64L, 64)) {
            BlockTable r = new BlockTable(dram, new DeviceTier[0], new CacheMetrics(), 0.125, new CacheConfig.Policy(
                    CachePolicy.LRU, null, new double[3], System::nanoTime, null, 16));
            // root → a → a1, root → b, and an unrelated chain
            BlockKey[] rootA = NS.keysFromHashes(new long[] {1, 2, 3});
            BlockKey[] rootB = NS.keysFromHashes(new long[] {1, 4});
            BlockKey[] other = NS.keysFromHashes(new long[] {5});
            int[] a = store(r, rootA);
            store(r, rootB);
            store(r, other);
            r.dropWithDescendants(a[1]); // warm-up: the scratch stack may grow once
            r.checkInvariants();
            assertEquals(1, r.readyPrefix(rootA), "a and a1 went, the root stayed");
            assertEquals(2, r.readyPrefix(rootB));
            assertEquals(1, r.readyPrefix(other));

            BlockKey[] deeper = NS.keysFromHashes(new long[] {1, 4, 6, 7});
            int[] b = store(r, deeper);
            long before = threads.getCurrentThreadAllocatedBytes();
            r.dropWithDescendants(b[1]);
            long allocated = threads.getCurrentThreadAllocatedBytes() - before;
            assertTrue(allocated < 1024, "dropping 3 blocks allocated " + allocated + " bytes");
            assertEquals(1, r.readyPrefix(deeper), "b and its two descendants went");
            assertEquals(1, r.readyPrefix(other));
            r.checkInvariants();
        }
    }

    /** Stores {@code chain} (blocks already kept are skipped); the entries of the chain's blocks. */
    static int[] store(BlockTable r, BlockKey[] chain) {
        int[] slots = new int[3 * chain.length + 3];
        int n = r.reserveStore(chain, 0, chain.length, slots, 0);
        r.publishStore(slots, n, true);
        int[] entries = new int[chain.length];
        PrefixMatch m = new PrefixMatch();
        m.reset(chain);
        r.matchPrefix(chain, m, entries);
        return entries;
    }
}
