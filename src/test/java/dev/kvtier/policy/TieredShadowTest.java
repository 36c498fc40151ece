package dev.kvtier.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/**
 * {@link TieredShadow}: a key hits while every key before it in the request is kept by DRAM or
 * by the device; the device holds what its admission lets in, DRAM every block, and a device
 * that writes every block and is no larger than DRAM adds no hits.
 */
class TieredShadowTest {
    /** Chains of 4 blocks; chain {@code c}'s blocks are keys (c, 0..3). */
    private static final int BLOCKS = 4;

    @Test
    void aDeviceThatWritesEveryBlockAndIsNoLargerThanDramAddsNoHits() {
        TieredShadow tiers = tiered(8, 8, (hi, lo, v, c) -> true);
        TieredShadow dramOnly = tiered(8, 1, (hi, lo, v, c) -> false);
        int[] order = {0, 1, 2, 0, 3, 1, 4, 2, 0, 5, 3};
        for (int chain : order) {
            assertEquals(request(dramOnly, chain), request(tiers, chain), "chain " + chain);
        }
    }

    @Test
    void blocksTheDeviceRefusedStillHitInDramAndWhatItAdmittedHitsAfterDramLetsItGo() {
        TieredShadow tiers = tiered(8, 16, (hi, lo, v, c) -> hi % 2 == 0); // the device keeps even chains
        request(tiers, 1);
        assertEquals(BLOCKS, request(tiers, 1), "in DRAM, though the device refused it");
        request(tiers, 2);
        request(tiers, 3);
        request(tiers, 5); // DRAM (2 chains) now holds 3 and 5
        assertEquals(0, request(tiers, 1), "refused by the device and gone from DRAM");
        assertEquals(BLOCKS, request(tiers, 2), "on the device");
        assertEquals(BLOCKS, tiers.writes(), "the device wrote chain 2 and nothing else");
    }

    /** A device hit goes back into DRAM whatever DRAM's admission says: the cache loads it, it does not admit it. */
    @Test
    void aDeviceHitIsLoadedBackIntoDramWithoutAdmission() {
        ShadowCache dram = shadow(8, (hi, lo, v, c) -> false);
        TieredShadow tiers = new TieredShadow(dram, shadow(16, (hi, lo, v, c) -> true));
        request(tiers, 3);
        assertEquals(0, dram.size(), "DRAM admits nothing new");
        assertEquals(BLOCKS, request(tiers, 3), "on the device");
        assertEquals(BLOCKS, dram.size(), "chain 3 (the only one looked up) loaded back into DRAM");
    }

    @Test
    void aKeyKeptAfterAMissDoesNotHit() {
        TieredShadow tiers = tiered(8, 16, (hi, lo, v, c) -> true);
        request(tiers, 7);
        tiers.onRequest();
        assertEquals(false, tiers.onLookup(99, 0), "a new first block");
        assertEquals(false, tiers.onLookup(7, 1), "kept, but after a miss");
    }

    private static TieredShadow tiered(int dram, int device, ShadowCache.Admission deviceAdmission) {
        return new TieredShadow(shadow(dram, (hi, lo, v, c) -> true), shadow(device, deviceAdmission));
    }

    private static ShadowCache shadow(int slots, ShadowCache.Admission admission) {
        return new ShadowCache(slots, s -> new LruPrefixEviction(s.capacity()), admission, false);
    }

    /** One request for the whole of chain {@code chain}; returns its hits. */
    private static int request(TieredShadow tiers, long chain) {
        tiers.onRequest();
        int hits = 0;
        for (int b = 0; b < BLOCKS; b++) {
            hits += tiers.onLookup(chain, b) ? 1 : 0;
        }
        return hits;
    }
}
