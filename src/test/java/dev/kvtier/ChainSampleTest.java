package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import dev.kvtier.metrics.CacheMetrics;
import dev.kvtier.policy.AdmissionPolicy;
import dev.kvtier.tier.DramTier;
import org.junit.jupiter.api.Test;

/**
 * A store that continues a chain (its first new block's parent is kept and has no child: a
 * conversation's next turn) keeps the parent's chain sample, so a share of chains admits or
 * refuses a conversation whole; a fork (a parent with a child already) and a first block draw
 * their own from the first new key.
 */
class ChainSampleTest {
    private static final Namespace NS = Namespace.builder("chains").blockTokens(16).build();

    @Test
    void aContinuedChainKeepsItsSampleAForkDrawsItsOwn() {
        try (DramTier dram = new DramTier(64 * 64L, 64)) {
            BlockTable r = new BlockTable(dram, new DeviceTier[0], new CacheMetrics(), 0.125, new CacheConfig.Policy(
                    CachePolicy.LRU, null, new double[3], System::nanoTime, null, 16));
            BlockKey[] turn1 = NS.keysFromHashes(new long[] {1, 2, 3});
            BlockKey[] turn2 = NS.keysFromHashes(new long[] {1, 2, 3, 4, 5});
            BlockKey[] fork = NS.keysFromHashes(new long[] {1, 2, 9});
            int[] first = SubtreeDropTest.store(r, turn1);
            int[] next = SubtreeDropTest.store(r, turn2);
            int[] other = SubtreeDropTest.store(r, fork);

            double sample = drawn(turn1[0]);
            assertEquals(r.chainSample(first[0]), r.chainSample(first[2]), 1e-9);
            assertEquals(sample, r.chainSample(first[0]), 1.0 / 256);
            assertEquals(r.chainSample(first[2]), r.chainSample(next[3]), 1e-9, "the next turn continues the chain");
            assertEquals(r.chainSample(first[2]), r.chainSample(next[4]), 1e-9);
            assertEquals(drawn(fork[2]), r.chainSample(other[2]), 1.0 / 256);
            assertNotEquals(r.chainSample(first[2]), r.chainSample(other[2]), "a fork under block 2 draws its own");
        }
    }

    private static double drawn(BlockKey k) {
        return AdmissionPolicy.chainSample(k.hi(), k.lo());
    }
}
