package dev.kvtier.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * {@link AdaptiveAdmission} with a device tier, fed lookups only (its shadows decide): it moves to
 * the candidate that writes least among those its current one does not beat on hits, and to a
 * share of chains when every candidate that writes everything thrashes.
 */
class AdaptiveDeviceAdmissionTest {
    private static final int DRAM = 100;
    private static final int SSD = 4000;

    /**
     * Popular chains come back every round and all fit, one-off chains are never seen again: lru
     * and second-hit hit alike, and second-hit writes none of the one-offs, so the cache moves to
     * it (hits alone would leave it on lru: a tie never switches).
     */
    @Test
    void aTieOnHitsGoesToTheCandidateThatWritesLeast() {
        AdaptiveAdmission a = deviceTier();
        long oneOff = 1 << 20;
        for (int round = 0; round < 200; round++) { // lru's head start on the popular chains fades (halved every 1,024 requests)
            for (int chain = 0; chain < 20; chain++) {
                request(a, chain, 0, 40);
                request(a, oneOff++, 0, 40);
            }
        }
        assertEquals(AdaptiveAdmission.SECOND_HIT, a.current());
    }

    /**
     * Sixteen conversations in turn, each resending its growing context (300 blocks, 2 more each
     * turn), more than the SSD holds: lru and second-hit evict every conversation before it comes
     * back; keeping a share of them, whole (a continued chain keeps its sample), hits.
     */
    @Test
    void aLoopLargerThanTheTierKeepsAShareOfChains() {
        AdaptiveAdmission a = deviceTier();
        for (int turn = 0; turn < 40; turn++) {
            for (int chain = 0; chain < 16; chain++) {
                request(a, chain, 0, 300 + 2 * turn);
            }
        }
        assertTrue(a.current() == AdaptiveAdmission.HALF_CHAINS || a.current() == AdaptiveAdmission.THREE_QUARTER_CHAINS,
                AdaptiveAdmission.name(a.current()));
    }

    private static AdaptiveAdmission deviceTier() {
        return new AdaptiveAdmission(null, new FrequencySketch(DRAM + SSD), null, 1 << 16, 4096,
                new long[] {DRAM + SSD, SSD, 0}, new WriteBudget[3]);
    }

    /** One request: blocks {@code from} to {@code to} - 1 of chain {@code chain}, looked up in order. */
    private static void request(AdaptiveAdmission a, long chain, int from, int to) {
        a.onRequest();
        for (int b = from; b < to; b++) {
            a.onLookup(chain * 0x9E37_79B9_7F4A_7C15L + b, chain ^ (long) b << 32);
        }
    }
}
