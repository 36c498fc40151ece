package dev.kvtier.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.integers;
import static org.quicktheories.generators.SourceDSL.lists;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Random insert/access/remove sequences over a forest of blocks, inserted parent first or
 * deepest first, against a plain model: the victim is always a resident leaf the caller did
 * not refuse, and there is one whenever the model has one; the policy's leaf count is the
 * model's. With two classes of known density, the sampled victim is of the worthless one; with
 * equal densities, it is one whose hits are worth least.
 */
class HitDensityEvictionTest {
    private static final int N = 24;

    @Test
    void victimIsAnUnrefusedResidentLeaf() {
        qt().withExamples(300).forAll(lists().of(integers().between(0, 4 * N - 1)).ofSizeBetween(1, 200))
                .checkAssert(HitDensityEvictionTest::run);
    }

    @Test
    void theSampledVictimHasTheLowerDensity() {
        HitDensity d = trainedOnClassOneOnly();
        int n = 200;
        HitDensityEviction p = new HitDensityEviction(n, d, e -> -1, e -> e % 2, e -> 1);
        for (int e = 0; e < n; e++) {
            p.onInsert(e);
        }
        for (int i = 0; i < 50; i++) {
            int v = p.victim(e -> true);
            assertEquals(0, v % 2, "evicted a block of the class that comes back");
            p.onRemove(v);
        }
    }

    @Test
    void amongEqualDensitiesTheVictimIsWorthLeast() {
        int n = 200;
        HitDensityEviction p = new HitDensityEviction(n, new HitDensity(), e -> -1, e -> 0, e -> e % 2 == 0 ? 1 : 10);
        for (int e = 0; e < n; e++) {
            p.onInsert(e);
        }
        for (int i = 0; i < 50; i++) {
            int v = p.victim(e -> true);
            assertEquals(0, v % 2, "evicted a block whose hits are worth ten times more");
            p.onRemove(v);
        }
    }

    /** Keys of class 1 come back every request; keys of class 0 never. */
    private static HitDensity trainedOnClassOneOnly() {
        HitDensity d = new HitDensity();
        long[] hot = new long[64];
        for (int i = 0; i < hot.length; i++) {
            hot[i] = 0x9E37_79B9_7F4A_7C15L * (i + 1);
        }
        for (int r = 0; r < 2000; r++) {
            d.onRequest();
            for (long k : hot) {
                d.onLookup(k, ~k, 1);
            }
            d.onLookup(r * 31L + 5, r, 0);
        }
        return d;
    }

    private static void run(List<Integer> ops) {
        Forest f = new Forest(N);
        HitDensityEviction p = new HitDensityEviction(N, new HitDensity(), e -> f.parent[e], e -> e % HitDensity.CLASSES,
                e -> 1);
        for (int op : ops) {
            int e = op % N;
            switch (op / N) {
                case 0:
                    f.insert(p, e);
                    break;
                case 1:
                    f.insertDeepestFirst(p, e);
                    break;
                case 2:
                    p.onAccess(e);
                    f.evict(p, e, false); // the order itself must offer only leaves
                    break;
                default:
                    f.evict(p, -1, false);
            }
            assertEquals(f.leaves(), p.leafCount(), "leaf count " + Arrays.toString(f.resident));
        }
    }
}
