package dev.kvtier.index;

import static dev.kvtier.index.BlockIndex.FREE;
import static dev.kvtier.index.BlockIndex.NONE;
import static dev.kvtier.index.BlockIndex.READY;
import static dev.kvtier.index.BlockIndex.RETIRED;
import static dev.kvtier.index.BlockIndex.WRITING;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The block index: the entry life cycle (WRITING → READY → RETIRED → FREE) with its pins and
 * parent/child counts, refusal of illegal transitions, capacity exhaustion, and lookups after
 * long random insert/remove sequences (crowded probe runs, so backward-shift deletion is
 * exercised) agreeing with a HashMap model, with the invariants checked after every step.
 */
class BlockIndexTest {

    @Test
    void insertedEntryIsFindableAndCarriesItsFields() {
        BlockIndex index = new BlockIndex(8);
        int e = index.insert(11, 22, NONE, 3, 4);
        assertEquals(e, index.find(11, 22));
        assertEquals(NONE, index.find(11, 23));
        assertEquals(NONE, index.find(22, 11));
        assertEquals(WRITING, index.state(e));
        assertEquals(1, index.pins(e), "the writer's pin");
        assertEquals(NONE, index.parent(e));
        assertEquals(3, index.namespace(e));
        assertEquals(4, index.position(e));
        assertEquals(0, index.copies(e));
        assertEquals(NONE, index.fastestTier(e));
        index.addCopy(e, 1, 5);
        assertTrue(index.hasCopy(e, 1));
        assertEquals(1, index.fastestTier(e));
        assertEquals(5, index.location(e, 1));
        assertEquals(NONE, index.location(e, 0));
        assertEquals(11, index.keyHi(e));
        assertEquals(22, index.keyLo(e));
        assertEquals(1, index.size());
        assertEquals(1, index.used());
        index.checkInvariants();
    }

    @Test
    void copiesAreCountedPerTierAtTheParent() {
        BlockIndex index = new BlockIndex(8);
        int p = index.insert(1, 1, NONE, 0, 0);
        int c = index.insert(2, 2, p, 0, 1);
        index.addCopy(c, 0, 7);
        index.addCopy(c, 1, 3);
        assertEquals(1, index.children(p));
        assertEquals(1, index.childrenWith(0, p));
        assertEquals(1, index.childrenWith(1, p));
        assertEquals(0, index.fastestTier(c));
        assertEquals(7, index.removeCopy(c, 0));
        assertEquals(0, index.childrenWith(0, p));
        assertEquals(1, index.fastestTier(c));
        assertThrows(IllegalStateException.class, () -> index.removeCopy(c, 0));
        assertThrows(IllegalStateException.class, () -> index.addCopy(c, 1, 4));
        index.checkInvariants();
        index.retire(c);
        assertEquals(0, index.children(p));
        assertEquals(0, index.childrenWith(1, p));
        index.unpin(c);
        assertThrows(IllegalStateException.class, () -> index.release(c), "copies must be freed first");
        index.removeCopy(c, 1);
        index.release(c);
        index.checkInvariants();
    }

    @Test
    void lifeCycleFromWritingToFree() {
        BlockIndex index = new BlockIndex(4);
        int e = index.insert(1, 2, NONE, 0, 0);
        index.publish(e);
        assertEquals(READY, index.state(e));
        assertEquals(e, index.find(1, 2));
        assertEquals(0, index.unpin(e));
        index.pin(e);
        index.retire(e);
        assertEquals(RETIRED, index.state(e));
        assertEquals(NONE, index.find(1, 2), "a retired entry is not findable");
        assertEquals(0, index.size());
        assertEquals(1, index.used(), "a pinned retired entry keeps its slot");
        assertThrows(IllegalStateException.class, () -> index.release(e));
        assertEquals(0, index.unpin(e));
        index.release(e);
        assertEquals(FREE, index.state(e));
        assertEquals(0, index.used());
        index.checkInvariants();
    }

    @Test
    void childrenCountFollowsInsertAndRetire() {
        BlockIndex index = new BlockIndex(8);
        int root = index.insert(1, 1, NONE, 0, 0);
        int a = index.insert(2, 2, root, 0, 1);
        int b = index.insert(3, 3, root, 0, 1);
        int aa = index.insert(4, 4, a, 0, 2);
        assertEquals(2, index.children(root));
        assertEquals(1, index.children(a));
        assertEquals(0, index.children(b));
        assertEquals(a, index.parent(aa));
        index.checkInvariants();
        index.retire(aa);
        assertEquals(0, index.children(a));
        assertEquals(NONE, index.parent(aa));
        index.retire(b);
        assertEquals(1, index.children(root));
        index.checkInvariants();
    }

    @Test
    void retiringAParentWithLiveChildrenBreaksTheInvariantCheck() {
        BlockIndex index = new BlockIndex(4);
        int parent = index.insert(1, 1, NONE, 0, 0);
        index.insert(2, 2, parent, 0, 1);
        index.retire(parent);
        assertThrows(IllegalStateException.class, index::checkInvariants);
    }

    @Test
    void fullIndexReturnsNoneUntilAnEntryIsReleased() {
        BlockIndex index = new BlockIndex(3);
        Set<Integer> entries = new HashSet<>();
        for (int i = 0; i < 3; i++) {
            entries.add(index.insert(i, i, NONE, 0, 0));
        }
        assertEquals(Set.of(0, 1, 2), entries);
        assertEquals(NONE, index.insert(9, 9, NONE, 0, 0));
        assertEquals(NONE, index.find(9, 9));
        index.retire(1);
        assertEquals(NONE, index.insert(9, 9, NONE, 0, 0), "retired but not released");
        index.unpin(1);
        index.release(1);
        assertEquals(1, index.insert(9, 9, NONE, 0, 0));
        assertEquals(1, index.find(9, 9));
        index.checkInvariants();
    }

    @Test
    void illegalTransitionsThrow() {
        BlockIndex index = new BlockIndex(4);
        int e = index.insert(1, 2, NONE, 0, 0);
        assertThrows(IllegalStateException.class, () -> index.release(e), "release of a WRITING entry");
        index.publish(e);
        assertThrows(IllegalStateException.class, () -> index.publish(e), "publish twice");
        assertThrows(IllegalStateException.class, () -> index.release(e), "release of a READY entry");
        index.unpin(e);
        assertThrows(IllegalStateException.class, () -> index.unpin(e), "unpin below zero");
        index.retire(e);
        assertThrows(IllegalStateException.class, () -> index.retire(e), "retire twice");
        assertThrows(IllegalStateException.class, () -> index.publish(e), "publish a RETIRED entry");
        index.release(e);
        assertThrows(IllegalStateException.class, () -> index.release(e), "release twice");
        assertThrows(IllegalStateException.class, () -> index.retire(e), "retire a FREE entry");
        assertThrows(IllegalStateException.class, () -> index.publish(e), "publish a FREE entry");
        assertThrows(IllegalArgumentException.class, () -> new BlockIndex(0));
        assertThrows(IllegalArgumentException.class, () -> new BlockIndex((1 << 29) + 1));
        index.checkInvariants();
    }

    @ParameterizedTest
    @ValueSource(ints = {5, 12, 96})
    void randomInsertsAndRemovesAgreeWithAHashMap(int capacity) {
        Random rnd = new Random(42);
        BlockIndex index = new BlockIndex(capacity);
        // hi ^ lo takes few values: few home slots, long probe runs that wrap around the table.
        List<long[]> pool = new ArrayList<>();
        for (int i = 0; i < 3 * capacity + 10; i++) {
            long hi = rnd.nextLong();
            pool.add(new long[] {hi, hi ^ rnd.nextInt(capacity / 4 + 2)});
        }
        Map<Integer, Integer> model = new HashMap<>(); // pool index -> entry
        Map<Integer, Integer> parentOf = new HashMap<>(); // entry -> parent entry
        for (int step = 0; step < 10_000; step++) {
            int k = rnd.nextInt(pool.size());
            boolean insert = rnd.nextInt(100) < 55;
            if (insert && !model.containsKey(k)) {
                List<Integer> live = new ArrayList<>(model.values());
                int parent = live.isEmpty() || rnd.nextBoolean() ? NONE : live.get(rnd.nextInt(live.size()));
                int e = index.insert(pool.get(k)[0], pool.get(k)[1], parent, 0, 0);
                if (model.size() == capacity) {
                    assertEquals(NONE, e, "insert into a full index");
                } else {
                    assertNotEquals(NONE, e);
                    model.put(k, e);
                    parentOf.put(e, parent);
                    if (rnd.nextBoolean()) {
                        index.publish(e);
                    }
                }
            } else if (!insert && model.containsKey(k) && index.children(model.get(k)) == 0) {
                int e = model.remove(k);
                parentOf.remove(e);
                index.retire(e);
                index.unpin(e);
                index.release(e);
            }
            for (int i = 0; i < pool.size(); i++) {
                int expected = model.getOrDefault(i, NONE);
                assertEquals(expected, index.find(pool.get(i)[0], pool.get(i)[1]), "step " + step + " key " + i);
            }
            int[] kids = new int[capacity];
            parentOf.values().stream().filter(p -> p != NONE).forEach(p -> kids[p]++);
            for (int e : model.values()) {
                assertEquals(kids[e], index.children(e), "children of " + e + " at step " + step);
            }
            assertEquals(model.size(), index.size());
            assertEquals(model.size(), index.used());
            index.checkInvariants();
        }
    }
}
