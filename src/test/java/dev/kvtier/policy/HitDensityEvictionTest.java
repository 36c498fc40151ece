package dev.kvtier.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
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
        int[] parent = new int[N];
        for (int e = 0; e < N; e++) {
            parent[e] = e < 4 ? -1 : (e * 7 + 3) % e; // a forest: every parent has a lower number
        }
        boolean[] resident = new boolean[N];
        HitDensityEviction p = new HitDensityEviction(N, new HitDensity(), e -> parent[e], e -> e % HitDensity.CLASSES,
                e -> 1);
        for (int op : ops) {
            int e = op % N;
            switch (op / N) {
                case 0:
                    if (!resident[e] && (parent[e] < 0 || resident[parent[e]])) {
                        resident[e] = true;
                        p.onInsert(e);
                    }
                    break;
                case 1:
                    for (int x = e; x >= 0 && !resident[x]; x = parent[x]) {
                        resident[x] = true; // deepest first, as the cache publishes a store
                        p.onInsert(x);
                    }
                    break;
                case 2:
                    p.onAccess(e);
                    evict(p, resident, parent, e);
                    break;
                default:
                    evict(p, resident, parent, -1);
            }
            assertEquals(leaves(resident, parent), p.leafCount(), "leaf count " + Arrays.toString(resident));
        }
    }

    /** Evicts the policy's victim, refusing {@code refused}, and checks it against the model. */
    private static void evict(HitDensityEviction p, boolean[] resident, int[] parent, int refused) {
        int v = p.victim(e -> e != refused);
        boolean any = false;
        for (int e = 0; e < N; e++) {
            any |= resident[e] && e != refused && isLeaf(e, resident, parent);
        }
        if (!any) {
            assertEquals(-1, v, "no evictable leaf, yet a victim");
            return;
        }
        assertTrue(v >= 0 && resident[v] && v != refused && isLeaf(v, resident, parent),
                "victim " + v + " is not an unrefused resident leaf: " + Arrays.toString(resident));
        resident[v] = false;
        p.onRemove(v);
    }

    private static int leaves(boolean[] resident, int[] parent) {
        int n = 0;
        for (int e = 0; e < N; e++) {
            n += resident[e] && isLeaf(e, resident, parent) ? 1 : 0;
        }
        return n;
    }

    private static boolean isLeaf(int e, boolean[] resident, int[] parent) {
        for (int c = 0; c < N; c++) {
            if (resident[c] && parent[c] == e) {
                return false;
            }
        }
        return true;
    }
}
