package dev.kvtier.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * LRU order of the eviction policy: victims come from the cold end, access and re-insert move
 * an entry to the hot end, the victim scan skips what the cache's predicate rejects and answers
 * -1 when nothing qualifies; random event sequences agree with a LinkedHashSet model.
 */
class LruPrefixEvictionTest {

    @Test
    void victimIsTheLeastRecentlyInserted() {
        LruPrefixEviction lru = withInserted(8, 3, 1, 4, 0);
        assertEquals(3, lru.victim(e -> true));
        assertEquals(List.of(3, 1, 4, 0), coldToHot(lru));
    }

    @Test
    void accessMovesAnEntryToTheHotEnd() {
        LruPrefixEviction lru = withInserted(8, 3, 1, 4, 0);
        lru.onAccess(3);
        assertEquals(1, lru.victim(e -> true));
        lru.onAccess(4);
        assertEquals(List.of(1, 0, 3, 4), coldToHot(lru));
    }

    @Test
    void reinsertMovesToTheHotEndWithoutDuplicating() {
        LruPrefixEviction lru = withInserted(8, 3, 1, 4);
        lru.onInsert(3);
        assertEquals(List.of(1, 4, 3), coldToHot(lru));
    }

    @Test
    void removedEntriesAreNeitherVictimsNorRelinkedByAccess() {
        LruPrefixEviction lru = withInserted(8, 3, 1, 4);
        lru.onRemove(3);
        lru.onAccess(3);
        lru.onRemove(3);
        assertEquals(List.of(1, 4), coldToHot(lru));
        assertEquals(1, lru.victim(e -> true));
    }

    @Test
    void victimSkipsEntriesThePredicateRejects() {
        LruPrefixEviction lru = withInserted(8, 3, 1, 4, 0);
        assertEquals(4, lru.victim(e -> e != 3 && e != 1));
        assertEquals(0, lru.victim(e -> e == 0));
        assertEquals(List.of(3, 1, 4, 0), coldToHot(lru), "victim does not unlink");
    }

    @Test
    void noVictimWhenEmptyOrAllRejected() {
        assertEquals(-1, new LruPrefixEviction(4).victim(e -> true));
        LruPrefixEviction lru = withInserted(4, 0, 1, 2, 3);
        assertEquals(-1, lru.victim(e -> false));
        for (int e = 0; e < 4; e++) {
            lru.onRemove(e);
        }
        assertEquals(-1, lru.victim(e -> true));
    }

    @Test
    void randomEventsAgreeWithALinkedHashSetModel() {
        Random rnd = new Random(7);
        int capacity = 32;
        LruPrefixEviction lru = new LruPrefixEviction(capacity);
        LinkedHashSet<Integer> model = new LinkedHashSet<>(); // cold to hot
        for (int step = 0; step < 5_000; step++) {
            int e = rnd.nextInt(capacity);
            switch (rnd.nextInt(3)) {
                case 0 -> {
                    lru.onInsert(e);
                    model.remove(e);
                    model.add(e);
                }
                case 1 -> {
                    lru.onAccess(e);
                    if (model.remove(e)) {
                        model.add(e);
                    }
                }
                default -> {
                    lru.onRemove(e);
                    model.remove(e);
                }
            }
            assertEquals(new ArrayList<>(model), coldToHot(lru), "step " + step);
        }
    }

    private static LruPrefixEviction withInserted(int capacity, int... entries) {
        LruPrefixEviction lru = new LruPrefixEviction(capacity);
        for (int e : entries) {
            lru.onInsert(e);
        }
        return lru;
    }

    /** The whole order, read through a predicate that rejects everything. */
    private static List<Integer> coldToHot(LruPrefixEviction lru) {
        List<Integer> order = new ArrayList<>();
        assertEquals(-1, lru.victim(e -> {
            order.add(e);
            return false;
        }));
        return order;
    }
}
