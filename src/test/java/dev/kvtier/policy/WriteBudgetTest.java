package dev.kvtier.policy;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.integers;
import static org.quicktheories.generators.SourceDSL.lists;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Random sequences of clock advances and take requests: what a budget grants never exceeds one
 * second's worth (its burst) plus its rate times the time elapsed, and after a full second idle
 * it grants any take up to the burst.
 */
class WriteBudgetTest {
    private static final double RATE = 100_000;
    private static final int BLOCK = 4096;

    @Test
    void grantsNeverExceedBurstPlusRateTimesElapsed() {
        qt().withExamples(300).forAll(lists().of(integers().between(0, Integer.MAX_VALUE)).ofSizeBetween(1, 200))
                .checkAssert(WriteBudgetTest::run);
    }

    private static void run(List<Integer> ops) {
        long[] now = {1_000};
        WriteBudget b = new WriteBudget(RATE, BLOCK, () -> now[0]);
        long start = now[0];
        long granted = 0;
        for (int op : ops) {
            now[0] += (op % 2_000) * 1_000_000L; // 0 to 2 s in 1 ms steps
            long bytes = 1 + (op >>> 11) % 150_000;
            boolean idleSecond = (op % 2_000) >= 1_000;
            boolean took = b.tryTake(bytes);
            if (took) {
                granted += bytes;
            }
            assertTrue(!idleSecond || bytes > RATE || took, "after a second idle a take of " + bytes + " was refused");
            double allowed = RATE + RATE * (now[0] - start) * 1e-9;
            assertTrue(granted <= allowed + 1e-6, "granted " + granted + " bytes, allowed " + allowed);
        }
    }
}
