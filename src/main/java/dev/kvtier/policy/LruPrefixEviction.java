package dev.kvtier.policy;

import java.util.function.IntPredicate;

/**
 * Least-recently-used order kept in an intrusive doubly-linked list of {@code int}s (one
 * {@code prev}/{@code next} pair per entry, index {@code capacity} is the sentinel), so
 * insert, access and remove are O(1) and allocate nothing.
 *
 * <p>Prefix awareness comes from two things: the cache's {@code evictable} test refuses a block
 * that has a resident child, and the cache touches a prompt's blocks deepest first, so a parent
 * is always more recent than the children touched with it. The scan from the cold end therefore
 * meets leaves first and rarely skips; it skips pinned blocks and parents whose children are
 * still resident.
 */
public final class LruPrefixEviction implements EvictionPolicy {
    private final int sentinel;
    private final int[] prev;
    private final int[] next;
    private final boolean[] linked;

    public LruPrefixEviction(int capacity) {
        sentinel = capacity;
        prev = new int[capacity + 1];
        next = new int[capacity + 1];
        linked = new boolean[capacity];
        prev[sentinel] = sentinel;
        next[sentinel] = sentinel;
    }

    @Override
    public void onInsert(int entry) {
        if (linked[entry]) {
            unlink(entry);
        }
        linkFirst(entry);
    }

    @Override
    public void onAccess(int entry) {
        if (linked[entry]) {
            unlink(entry);
            linkFirst(entry);
        }
    }

    @Override
    public void onRemove(int entry) {
        if (linked[entry]) {
            unlink(entry);
        }
    }

    @Override
    public int victim(IntPredicate evictable, int limit) {
        int asked = 0;
        for (int e = prev[sentinel]; e != sentinel && asked++ < limit; e = prev[e]) {
            if (evictable.test(e)) {
                return e;
            }
        }
        return -1;
    }

    private void linkFirst(int e) {
        int first = next[sentinel];
        next[e] = first;
        prev[e] = sentinel;
        prev[first] = e;
        next[sentinel] = e;
        linked[e] = true;
    }

    private void unlink(int e) {
        next[prev[e]] = next[e];
        prev[next[e]] = prev[e];
        linked[e] = false;
    }
}
