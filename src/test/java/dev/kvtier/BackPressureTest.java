package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.key.BlockKey;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A fill of 4x DRAM in one pass, stores back to back: without back-pressure a store never waits
 * and the blocks the demoter has not written yet may be dropped (counted); with
 * {@code storeWaitMillis} the stores wait for clean pages and every block is kept.
 */
class BackPressureTest {
    private static final int BLOCK = 1 << 20;
    private static final int DRAM_BLOCKS = 16;
    private static final int CHAINS = 16; // of 4 blocks: 64 blocks, 4x DRAM

    @TempDir(factory = TargetTempDir.class)
    Path dir;

    @Test
    void storesThatWaitForCleanPagesKeepEveryBlock() {
        List<BlockKey[]> chains = InvalidationTest.chains(SsdFixtures.namespace("fill"), CHAINS);
        try (KvTierCache cache = SsdFixtures.builder(dir.resolve("fill.slots"), BLOCK, DRAM_BLOCKS, 4 * CHAINS * 2,
                false, Compression.NONE).storeWait(Duration.ofSeconds(30)).flushOnClose(Duration.ZERO).build()) {
            assertEquals(4 * CHAINS, WarmRestartTest.storeAll(cache, chains, BLOCK));
            CacheStats s = cache.stats();
            assertEquals(0, s.droppedBlocks(), "no block was dropped: " + s);
            assertEquals(4 * CHAINS, WarmRestartTest.loadAll(cache, chains, BLOCK), "every block is kept: " + s);
            System.out.println("fill of 4x DRAM with back-pressure: stores waited " + s.storeWaitMillis() + " ms, "
                    + s.storedBlocks(Tier.SSD) + " blocks written to the SSD, 0 dropped");
        }
    }

    @Test
    void withoutBackPressureStoresNeverWaitAndDropsAreCounted() {
        List<BlockKey[]> chains = InvalidationTest.chains(SsdFixtures.namespace("fill-nowait"), CHAINS);
        try (KvTierCache cache = SsdFixtures.builder(dir.resolve("nowait.slots"), BLOCK, DRAM_BLOCKS, 4 * CHAINS * 2,
                false, Compression.NONE).flushOnClose(Duration.ZERO).build()) {
            int stored = WarmRestartTest.storeAll(cache, chains, BLOCK);
            CacheStats s = cache.stats();
            assertEquals(0, s.storeWaitMillis());
            int kept = WarmRestartTest.loadAll(cache, chains, BLOCK);
            assertTrue(kept + s.droppedBlocks() + s.storeNoSpaceBlocks() >= 4 * CHAINS,
                    "what is not kept was counted, as dropped or as refused for want of a page: " + s);
            System.out.println("fill of 4x DRAM without back-pressure: " + stored + " stored, " + kept + " of "
                    + 4 * CHAINS + " kept, " + s.droppedBlocks() + " dropped, " + s.storeNoSpaceBlocks() + " refused");
        }
    }

    /** A prompt of 4x DRAM in one store streams through to the SSD with back-pressure; without it the store is refused. */
    @Test
    void aStoreLongerThanDramStreamsThroughWithBackPressure() {
        int blocks = 4 * DRAM_BLOCKS;
        long[] ids = new long[blocks];
        for (int i = 0; i < blocks; i++) {
            ids[i] = 7_000 + i;
        }
        BlockKey[] prompt = SsdFixtures.namespace("long-prompt").keysFromHashes(ids);
        try (KvTierCache refusing = SsdFixtures.builder(dir.resolve("refuse.slots"), BLOCK, DRAM_BLOCKS, 2 * blocks,
                false, Compression.NONE).flushOnClose(Duration.ZERO).build()) {
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> WarmRestartTest.storeAll(refusing, List.<BlockKey[]>of(prompt), BLOCK));
            assertTrue(e.getMessage().contains("storeWaitMillis"), e.getMessage());
        }
        try (KvTierCache cache = SsdFixtures.builder(dir.resolve("stream.slots"), BLOCK, DRAM_BLOCKS, 2 * blocks,
                false, Compression.NONE).storeWait(Duration.ofSeconds(30)).flushOnClose(Duration.ZERO).build()) {
            assertEquals(blocks, WarmRestartTest.storeAll(cache, List.<BlockKey[]>of(prompt), BLOCK));
            cache.awaitIdle();
            CacheStats s = cache.stats();
            assertEquals(0, s.droppedBlocks(), s.toString());
            assertEquals(blocks, WarmRestartTest.loadAll(cache, List.<BlockKey[]>of(prompt), BLOCK),
                    "the whole prompt is kept, most of it on the SSD: " + s);
        }
    }
}
