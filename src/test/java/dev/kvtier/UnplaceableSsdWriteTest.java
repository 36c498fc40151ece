package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A block that finds no SSD slot (every slot holds a block that must stay) is retried as soon
 * as the cache is woken again, not after a wall-clock backoff: what is written depends on the
 * cache's operations, not on how fast they come. Before, the demoter backed off 100 ms (doubling
 * to 5 s) as after an I/O error, and a replay, which issues requests far faster, lost the stores
 * that waited meanwhile (kv-cache-tester's first half with an SSD: `lru` 0.149 to 0.166 in three
 * runs, 0.195 to 0.198 after).
 */
class UnplaceableSsdWriteTest {
    private static final int BLOCK = 4096;
    private static final Namespace NS = SsdFixtures.namespace("unplaceable");
    private static final Namespace PINNED_NS = SsdFixtures.namespace("unplaceable-pinned");

    @TempDir(factory = TargetTempDir.class)
    Path dir;

    @Test
    void aBlockWithoutAnSsdSlotIsWrittenOnceASlotCanBeFreed() throws Exception {
        try (KvTierCache cache = SsdFixtures.builder(dir.resolve("ssd.slots"), BLOCK, 5, 5, false, Compression.NONE)
                .demoteAhead(0.5).build()) { // 3 pages: the pinned block's, though clean, is not enough

            BlockKey[] pinned = PINNED_NS.keysFromHashes(new long[] {1});
            storeAndFlush(cache, pinned);
            BlockKey[] chain = NS.keysFromHashes(new long[] {1, 2, 3, 4, 5, 6, 7, 8});
            try (BlockHandle handle = cache.acquire(pinned[0])) {
                assertTrue(handle != null);
                storeAndFlush(cache, java.util.Arrays.copyOf(chain, 4)); // the SSD is full: the pinned block, then the chain's head
                assertEquals(5, cache.stats().storedBlocks(Tier.SSD), cache.stats().toString());
                // four more blocks push the chain's head out of DRAM; the first of them finds no slot:
                // the head is its ancestors, the other block is pinned
                assertEquals(4, cache.store(chain, Blocks.directPayloads(chain, BLOCK), 4, 4));
                cache.awaitIdle();
                CacheStats stuck = cache.stats();
                assertEquals(5, stuck.storedBlocks(Tier.SSD), stuck.toString());
                assertTrue(stuck.demoteDeclinedBlocks() > 0, stuck.toString());
            }
            // a store pushes the unpinned block out of DRAM, so its SSD slot may go, and wakes the demoter
            BlockKey[] next = PINNED_NS.keysFromHashes(new long[] {2});
            assertEquals(1, cache.store(next, Blocks.directPayloads(next, BLOCK)));
            cache.awaitIdle();
            CacheStats after = cache.stats();
            assertEquals(6, after.storedBlocks(Tier.SSD), "the set-aside block was written at once: " + after);
            assertEquals(8, cache.match(chain).hitBlocks(), after.toString());
            assertEquals(0, cache.match(pinned).hitBlocks(), "its slot went to the chain's next block");
            ((TieredCache) cache).checkInvariants();
        }
    }

    private static void storeAndFlush(KvTierCache cache, BlockKey[] keys) {
        assertEquals(keys.length, cache.store(keys, Blocks.directPayloads(keys, BLOCK)));
        cache.flush(Duration.ofSeconds(10));
    }
}
