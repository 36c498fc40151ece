package dev.kvtier.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** {@code bench remote}'s chance that a set overflows, against throwing the blocks into sets at random. */
class SetOverflowChanceTest {
    @Test
    void matchesBallsIntoBins() {
        // CI's four-export bench before the check: 240 blocks into 124 sets of 8 (it lost a block in 2 of 4 runs)
        assertEquals(simulated(240, 124, 8, 20_000), RemoteBench.setOverflowChance(240, 124, 8), 0.005);
        assertEquals(simulated(400, 50, 16, 20_000), RemoteBench.setOverflowChance(400, 50, 16), 0.01);
    }

    @Test
    void edges() {
        assertEquals(0, RemoteBench.setOverflowChance(8, 100, 8), 1e-12);
        assertEquals(0, RemoteBench.setOverflowChance(8, 1, 8), 0);
        assertEquals(1, RemoteBench.setOverflowChance(9, 1, 8), 0);
        assertEquals(1, RemoteBench.setOverflowChance(1, 0, 8), 0);
    }

    private static double simulated(int n, int sets, int ways, int trials) {
        SplittableRandom random = new SplittableRandom(1);
        int overflowed = 0;
        int[] load = new int[sets];
        for (int t = 0; t < trials; t++) {
            java.util.Arrays.fill(load, 0);
            boolean over = false;
            for (int i = 0; i < n; i++) {
                over |= ++load[random.nextInt(sets)] > ways;
            }
            overflowed += over ? 1 : 0;
        }
        return (double) overflowed / trials;
    }
}
