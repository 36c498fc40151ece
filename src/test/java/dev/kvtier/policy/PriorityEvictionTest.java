package dev.kvtier.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.integers;
import static org.quicktheories.generators.SourceDSL.lists;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Random insert/access/evict sequences over a forest of blocks against a plain model: the
 * victim is always a resident leaf (no resident child) that the caller did not refuse, and
 * there is one whenever the model has one. Among blocks without parents, the lowest value goes
 * first.
 */
class PriorityEvictionTest {
    private static final int N = 24;

    @Test
    void lowestValueLeavesFirstAmongRoots() {
        double[] value = {5, 1, 3, 2};
        PriorityEviction p = new PriorityEviction(4, e -> value[e], e -> -1, e -> 0);
        for (int e = 0; e < 4; e++) {
            p.onInsert(e);
        }
        int[] order = new int[4];
        for (int i = 0; i < 4; i++) {
            order[i] = p.victim(e -> true);
            p.onRemove(order[i]);
        }
        assertEquals("[1, 3, 2, 0]", Arrays.toString(order));
        assertEquals(-1, p.victim(e -> true));
    }

    @Test
    void aLimitedSearchAsksAboutNoMoreBlocksThanItsLimit() {
        for (EvictionPolicy p : new EvictionPolicy[] {new PriorityEviction(6, e -> e, e -> -1, e -> 0),
            new LruPrefixEviction(6)}) {
            for (int e = 0; e < 6; e++) {
                p.onInsert(e); // cold to hot: 0, 1, ..., 5 in both
            }
            int[] asked = {0};
            assertEquals(-1, p.victim(e -> ++asked[0] > 0 && e == 4, 3), p.getClass().getSimpleName());
            assertEquals(3, asked[0], p.getClass().getSimpleName());
            assertEquals(4, p.victim(e -> e == 4, 5), p.getClass().getSimpleName());
            assertEquals(0, p.victim(e -> true), "the limited searches changed the order of " + p.getClass().getSimpleName());
        }
    }

    @Test
    void victimIsAnUnrefusedResidentLeaf() {
        qt().withExamples(300).forAll(lists().of(integers().between(0, 5 * N - 1)).ofSizeBetween(1, 200))
                .checkAssert(PriorityEvictionTest::run);
    }

    private static void run(List<Integer> ops) {
        Forest f = new Forest(N);
        double[] value = new double[N];
        for (int e = 0; e < N; e++) {
            value[e] = (e * 37) % 11;
        }
        PriorityEviction p = new PriorityEviction(N, e -> value[e], e -> f.parent[e], e -> f.depth[e]);
        for (int op : ops) {
            int e = op % N;
            switch (op / N) {
                case 0:
                    f.insert(p, e);
                    break;
                case 1:
                    value[e] = (value[e] * 3 + 1) % 13;
                    p.onAccess(e);
                    break;
                case 2:
                    f.evict(p, e, true);
                    break;
                case 3:
                    f.insertDeepestFirst(p, e);
                    break;
                default:
                    f.evict(p, -1, true);
            }
        }
    }
}
