package dev.kvtier.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.integers;
import static org.quicktheories.generators.SourceDSL.lists;

import org.junit.jupiter.api.Test;

/**
 * Random sightings of a few keys in a small sketch (so rows collide and the sketch ages often):
 * what {@code increment} returns is what {@code frequency} then reports, also on the sighting
 * that halves the counters, and the estimate never falls below the count since the last halving.
 */
class FrequencySketchTest {
    @Test
    void incrementReturnsTheFrequencyAfterIt() {
        qt().withExamples(200).forAll(lists().of(integers().between(0, 40)).ofSizeBetween(1, 2_000))
                .checkAssert(keys -> {
                    FrequencySketch sketch = new FrequencySketch(64);
                    int[] counted = new int[41];
                    long resets = 0;
                    for (int k : keys) {
                        long hi = 0x9E37_79B9_7F4A_7C15L * (k + 1);
                        int f = sketch.increment(hi, ~hi);
                        assertEquals(sketch.frequency(hi, ~hi), f, "key " + k);
                        if (sketch.resets() != resets) {
                            resets = sketch.resets();
                            java.util.Arrays.fill(counted, 0);
                        } else {
                            counted[k]++;
                            assertTrue(f >= Math.min(FrequencySketch.MAX, counted[k]), "key " + k + " undercounted");
                        }
                    }
                });
    }
}
