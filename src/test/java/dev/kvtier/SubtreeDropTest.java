package dev.kvtier;

import static dev.kvtier.index.BlockIndex.NONE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.metrics.CacheMetrics;
import dev.kvtier.tier.DramTier;
import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Test;

/**
 * Dropping a block with its descendants (a corrupt or mismatched read, a remote slot taken by
 * another writer) costs work in proportion to that subtree, not to the cache: on an index of a
 * million entries, dropping a 3-block subtree allocates (almost) nothing and leaves every other
 * entry alone. Before, each drop allocated a byte per index entry and scanned the index twice.
 */
class SubtreeDropTest {
    private static final int ENTRIES = 1 << 20;

    @Test
    void droppingASubtreeCostsItsSizeNotTheIndexSize() {
        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (DramTier dram = new DramTier(ENTRIES * 64L, 64)) {
            BlockTable r = new BlockTable(dram, null, null, new CacheMetrics(), 0.125, new CacheConfig.Policy(
                    CachePolicy.LRU, null, new double[3], System::nanoTime, null, 16));
            r.lock.lock();
            try {
                // a root with two chains below it: root → a → a1, root → b; and an unrelated block
                int root = insert(r, 1, NONE);
                int a = insert(r, 2, root);
                int a1 = insert(r, 3, a);
                int b = insert(r, 4, root);
                int other = insert(r, 5, NONE);
                r.dropWithDescendants(a); // warm-up: the scratch stack may grow once
                r.checkInvariants();
                assertFalse(r.index.isLive(a) || r.index.isLive(a1));
                assertTrue(r.index.isLive(root) && r.index.isLive(b) && r.index.isLive(other));

                int c = insert(r, 6, b);
                int c1 = insert(r, 7, c);
                long before = threads.getCurrentThreadAllocatedBytes();
                r.dropWithDescendants(b);
                long allocated = threads.getCurrentThreadAllocatedBytes() - before;
                assertTrue(allocated < 1024, "dropping 3 blocks allocated " + allocated + " bytes");
                assertFalse(r.index.isLive(b) || r.index.isLive(c) || r.index.isLive(c1));
                assertTrue(r.index.isLive(root) && r.index.isLive(other));
                assertEquals(0, r.index.children(root));
                r.checkInvariants();
            } finally {
                r.lock.unlock();
            }
        }
    }

    /** A published DRAM block with key {@code id} under {@code parent}. */
    private static int insert(BlockTable r, long id, int parent) {
        int e = r.index.insert(id, id, parent, r.namespaceId(0, 0), 0);
        r.addCopy(e, BlockTable.DRAM, r.dram.allocate());
        r.publish(e);
        r.unpin(e);
        return e;
    }
}
