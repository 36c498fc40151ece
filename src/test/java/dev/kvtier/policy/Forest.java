package dev.kvtier.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;

/**
 * The plain model the eviction-order tests run against: a fixed forest of blocks (every
 * parent has a lower number) and which of them are resident, with inserts parent first or
 * deepest first (as the cache publishes a store) and an eviction checked against the model.
 */
final class Forest {
    final int[] parent;
    final int[] depth;
    final boolean[] resident;

    Forest(int n) {
        parent = new int[n];
        depth = new int[n];
        resident = new boolean[n];
        for (int e = 0; e < n; e++) {
            parent[e] = e < 4 ? -1 : (e * 7 + 3) % e;
            depth[e] = parent[e] < 0 ? 0 : depth[parent[e]] + 1;
        }
    }

    /** Inserts {@code e} if it is absent and its parent is resident. */
    void insert(EvictionPolicy p, int e) {
        if (!resident[e] && (parent[e] < 0 || resident[parent[e]])) {
            resident[e] = true;
            p.onInsert(e);
        }
    }

    /** Inserts {@code e} and its missing ancestors, deepest first. */
    void insertDeepestFirst(EvictionPolicy p, int e) {
        for (int x = e; x >= 0 && !resident[x]; x = parent[x]) {
            resident[x] = true;
            p.onInsert(x);
        }
    }

    /**
     * Evicts the policy's victim, refusing {@code refused} (and, when {@code askLeaves}, every
     * non-leaf, as the cache's predicate does for an order that does not track leaves itself),
     * and checks that it is an unrefused resident leaf, and that there is one whenever the
     * model has one.
     */
    void evict(EvictionPolicy p, int refused, boolean askLeaves) {
        int v = p.victim(e -> e != refused && (!askLeaves || isLeaf(e)));
        boolean any = false;
        for (int e = 0; e < resident.length; e++) {
            any |= resident[e] && e != refused && isLeaf(e);
        }
        if (!any) {
            assertEquals(-1, v, "no evictable leaf, yet a victim");
            return;
        }
        assertTrue(v >= 0 && resident[v] && v != refused && isLeaf(v),
                "victim " + v + " is not an unrefused resident leaf: " + Arrays.toString(resident));
        resident[v] = false;
        p.onRemove(v);
    }

    int leaves() {
        int n = 0;
        for (int e = 0; e < resident.length; e++) {
            n += resident[e] && isLeaf(e) ? 1 : 0;
        }
        return n;
    }

    boolean isLeaf(int e) {
        for (int c = 0; c < resident.length; c++) {
            if (resident[c] && parent[c] == e) {
                return false;
            }
        }
        return true;
    }
}
