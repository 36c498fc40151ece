package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/**
 * The index holds millions of blocks: two million tiny blocks in 2,000 chains all stay
 * findable, the index invariants hold, and one more chain evicts exactly one old chain's
 * worth of blocks, leaves first.
 */
class ScaleTest {
    private static final int CHAINS = 2_000;
    private static final int CHAIN = 1_000;

    @Test
    void twoMillionBlocksStayFindable() {
        Namespace ns = Namespace.builder("scale").blockTokens(16).build();
        ByteBuffer[] src = new ByteBuffer[CHAIN];
        for (int i = 0; i < CHAIN; i++) {
            src[i] = ByteBuffer.allocateDirect(8).putLong(0, i);
        }
        BlockKey[][] chains = new BlockKey[CHAINS + 1][];
        long[] ids = new long[CHAIN];
        try (TieredCache cache = (TieredCache) KvTierCache.builder().policy(CachePolicy.LRU).blockTokens(16).blockBytes(8)
                .dramCapacityBytes((long) CHAINS * CHAIN * 64).build()) {
            for (int c = 0; c <= CHAINS; c++) {
                for (int i = 0; i < CHAIN; i++) {
                    ids[i] = (long) c * CHAIN + i;
                }
                chains[c] = ns.keysFromHashes(ids);
                if (c < CHAINS) {
                    assertEquals(CHAIN, cache.store(chains[c], src));
                }
            }
            assertEquals((long) CHAINS * CHAIN, cache.stats().residentBlocks(Tier.DRAM));
            PrefixMatch m = new PrefixMatch();
            for (int c = 0; c < CHAINS; c++) {
                assertEquals(CHAIN, cache.match(chains[c], m).hitBlocks());
            }
            cache.checkInvariants();
            assertEquals(CHAIN, cache.store(chains[CHAINS], src));
            assertEquals(CHAIN, cache.stats().evictedBlocks(Tier.DRAM));
            assertEquals(0, cache.match(chains[0], m).hitBlocks(), "the least recent chain left whole");
            cache.checkInvariants();
        }
    }
}
