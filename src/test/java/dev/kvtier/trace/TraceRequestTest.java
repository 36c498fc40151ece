package dev.kvtier.trace;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.integers;

import org.junit.jupiter.api.Test;

class TraceRequestTest {
    @Test
    void mooncakeLastBlockGetsTheRemainder() {
        // 6758 tokens = 13 full 512-token blocks + 102.
        TraceRequest r = new TraceRequest(0, 6758, 500, new long[14], 0);
        for (int i = 0; i < 13; i++) {
            assertEquals(512, r.blockTokens(i, 512));
        }
        assertEquals(102, r.blockTokens(13, 512));
        assertEquals(6758, r.cacheableTokens(512));
    }

    @Test
    void exactMultipleHasAFullLastBlock() {
        TraceRequest r = new TraceRequest(0, 1024, 1, new long[2], 0);
        assertEquals(512, r.blockTokens(0, 512));
        assertEquals(512, r.blockTokens(1, 512));
    }

    @Test
    void kvCacheTesterBlocksAreAllFull() {
        // floor(11133 / 64) = 173 blocks; the 61 tokens after them are not cacheable.
        TraceRequest r = new TraceRequest(0, 11133, 139, new long[173], 0);
        assertEquals(64, r.blockTokens(0, 64));
        assertEquals(64, r.blockTokens(172, 64));
        assertEquals(173 * 64, r.cacheableTokens(64));
    }

    @Test
    void fullBlocksLeaveOutAPartialLastBlock() {
        long[] ids = {7, 8, 9};
        TraceRequest partial = new TraceRequest(0, 1100, 1, ids, 0);
        assertEquals(2, partial.fullBlocks(512));
        assertEquals(3, new TraceRequest(0, 1536, 1, ids, 0).fullBlocks(512));
        assertEquals(0, new TraceRequest(0, 300, 1, new long[] {7}, 0).fullBlocks(512), "shorter than one block");
        assertEquals(0, new TraceRequest(0, 0, 1, new long[0], 0).fullBlocks(512));
        assertEquals(1, new TraceRequest(0, 100, 1, new long[] {7}, 0).fullBlocks(64), "floor: the ids are the full blocks");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> partial.fullBlocks(0));
        assertEquals("blockTokens must be positive: 0", e.getMessage());
    }

    @Test
    void neverNegativeAndIndexChecked() {
        TraceRequest r = new TraceRequest(0, 100, 1, new long[3], 0); // more ids than tokens
        assertEquals(64, r.blockTokens(0, 64));
        assertEquals(36, r.blockTokens(1, 64));
        assertEquals(0, r.blockTokens(2, 64));
        assertThrows(IndexOutOfBoundsException.class, () -> r.blockTokens(3, 64));
        assertThrows(IndexOutOfBoundsException.class, () -> r.blockTokens(-1, 64));
        assertThrows(IllegalArgumentException.class, () -> r.blockTokens(0, 0));
        TraceRequest none = new TraceRequest(1, 0, 0, new long[0], 0);
        assertEquals(0, none.blocks());
        assertThrows(IndexOutOfBoundsException.class, () -> none.blockTokens(0, 512));
    }

    @Test
    void blockTokensSumToTheInputForCeilAndToFullBlocksForFloor() {
        qt().forAll(integers().between(0, 2_000_000), integers().between(1, 1024)).checkAssert((in, bt) -> {
            int ceil = (in + bt - 1) / bt;
            TraceRequest c = new TraceRequest(0, in, 0, new long[ceil], 0);
            long sum = 0;
            for (int i = 0; i < ceil; i++) {
                int t = c.blockTokens(i, bt);
                assertTrue(t > 0 && t <= bt);
                assertTrue(i == ceil - 1 || t == bt);
                sum += t;
            }
            assertEquals((long) in, sum);
            assertEquals((long) in, c.cacheableTokens(bt));
            TraceRequest f = new TraceRequest(0, in, 0, new long[in / bt], 0);
            for (int i = 0; i < in / bt; i++) {
                assertEquals(bt, f.blockTokens(i, bt));
            }
            assertEquals((long) (in / bt) * bt, f.cacheableTokens(bt));
        });
    }

    @Test
    void equalityComparesIdContents() {
        TraceRequest a = new TraceRequest(1.5, 600, 2, new long[] {1, 2}, 3);
        TraceRequest b = new TraceRequest(1.5, 600, 2, new long[] {1, 2}, 3);
        assertEquals(a, b);
        assertEquals(a.hashCode(), b.hashCode());
        assertNotEquals(a, new TraceRequest(1.5, 600, 2, new long[] {1, 3}, 3));
        assertNotEquals(a, new TraceRequest(1.5, 600, 2, new long[] {1, 2}, 4));
        assertTrue(a.toString().contains("[1, 2]"), a.toString());
    }

    @Test
    void rejectsNegativeOrNonFiniteValues() {
        assertThrows(IllegalArgumentException.class, () -> new TraceRequest(-1, 1, 1, new long[1], 0));
        assertThrows(IllegalArgumentException.class, () -> new TraceRequest(Double.NaN, 1, 1, new long[1], 0));
        assertThrows(IllegalArgumentException.class, () -> new TraceRequest(Double.POSITIVE_INFINITY, 1, 1, new long[1], 0));
        assertThrows(IllegalArgumentException.class, () -> new TraceRequest(0, -1, 1, new long[1], 0));
        assertThrows(IllegalArgumentException.class, () -> new TraceRequest(0, 1, -1, new long[1], 0));
        assertThrows(IllegalArgumentException.class, () -> new TraceRequest(0, 1, 1, new long[1], -1));
        assertThrows(NullPointerException.class, () -> new TraceRequest(0, 1, 1, null, 0));
    }
}
