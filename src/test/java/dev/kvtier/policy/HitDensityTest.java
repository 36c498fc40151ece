package dev.kvtier.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The hit-density table: its age buckets tile the ages without gaps, it falls with age alone
 * before anything is measured, and once keys of one class come back after a fixed gap it
 * values a block of that class most just before the gap, not at all after it, and a class
 * that never comes back at nothing.
 */
class HitDensityTest {
    @Test
    void bucketsTileTheAges() {
        long age = 0;
        for (int b = 0; b < HitDensity.BUCKETS - 1; b++) {
            for (long i = 0; i < HitDensity.width(b); i++, age++) {
                assertEquals(b, HitDensity.bucket(age), "age " + age);
            }
        }
        assertEquals(HitDensity.BUCKETS - 1, HitDensity.bucket(age));
        assertEquals(HitDensity.BUCKETS - 1, HitDensity.bucket(Long.MAX_VALUE));
    }

    @Test
    void beforeAnySamplesYoungerIsBetterForEveryClass() {
        HitDensity d = new HitDensity();
        for (int c = 0; c < HitDensity.CLASSES; c++) {
            assertTrue(d.density(c, 0) > d.density(c, 10));
            assertTrue(d.density(c, 10) > d.density(c, 1000));
            assertEquals(d.density(0, 7), d.density(c, 7));
        }
    }

    @Test
    void aFixedReuseGapIsValuedUntilItIsDue() {
        aFixedReuseGapIsValuedUntilItIsDue(0); // every key followed
        aFixedReuseGapIsValuedUntilItIsDue(1_500); // many keys per request: a hash sample followed
    }

    /**
     * Four keys per request come back once, 200 requests later; {@code noise} more never come
     * back. (With noise, class 1 has too few samples in the histograms' window and borrows the
     * pooled estimate, so only class 0 is checked.)
     */
    private static void aFixedReuseGapIsValuedUntilItIsDue(int noise) {
        int gap = 200;
        HitDensity d = new HitDensity();
        SplittableRandom random = new SplittableRandom(7);
        long[][] sent = new long[3000][8];
        for (int r = 0; r < sent.length; r++) {
            d.onRequest();
            for (int k = 0; k < 4; k++) {
                sent[r][2 * k] = random.nextLong();
                sent[r][2 * k + 1] = random.nextLong();
                d.onLookup(sent[r][2 * k], sent[r][2 * k + 1], 0); // seen once: class 0
                if (r >= gap) {
                    d.onLookup(sent[r - gap][2 * k], sent[r - gap][2 * k + 1], 1); // back after the gap, then never
                }
            }
            for (int k = 0; k < noise; k++) {
                d.onLookup(random.nextLong(), random.nextLong(), 0);
            }
        }
        String what = noise + " one-off keys per request: ";
        assertTrue(d.density(0, 100) > d.density(0, 0), what + "half-way to its reuse a block is worth more than new");
        assertTrue(d.density(0, 0) > 0, what + "new blocks are worth something");
        assertEquals(0, d.density(0, 2 * gap), what + "past the gap nothing comes back");
        if (noise == 0) {
            assertEquals(0, d.density(1, 0), "keys seen twice never come back");
        }
    }

    /**
     * A long run that fills the ghost table many times over: keys of class 0 come back (after
     * 200 requests) one time in ten, keys of class 2 nine times in ten. Keys that never come
     * back must not pass for keys that might once they are displaced, so class 2 stays worth
     * several times class 0 (the true ratio is about 9).
     */
    @Test
    void displacedKeysDoNotPassForReturningOnes() {
        int gap = 200;
        HitDensity d = new HitDensity();
        SplittableRandom random = new SplittableRandom(11);
        long[][] back = new long[gap][];
        for (int r = 0; r < 40_000; r++) {
            d.onRequest();
            long[] returning = back[r % gap];
            if (returning != null) {
                for (int k = 0; k < returning.length; k += 2) {
                    d.onLookup(returning[k], returning[k + 1], 3);
                }
            }
            long[] next = new long[0];
            for (int k = 0; k < 20; k++) {
                long hi = random.nextLong();
                long lo = random.nextLong();
                boolean hot = k < 2;
                d.onLookup(hi, lo, hot ? 2 : 0);
                if (random.nextInt(10) < (hot ? 9 : 1)) {
                    next = java.util.Arrays.copyOf(next, next.length + 2);
                    next[next.length - 2] = hi;
                    next[next.length - 1] = lo;
                }
            }
            back[r % gap] = next;
        }
        double ratio = d.density(2, 0) / d.density(0, 0);
        assertTrue(ratio > 4, "class 2 worth " + ratio + " times class 0 at age 0, about 9 expected");
    }
}
