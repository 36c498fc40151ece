package dev.kvtier.policy;

import java.util.function.IntPredicate;
import java.util.function.IntToDoubleFunction;
import java.util.function.IntUnaryOperator;

/**
 * Evicts the block of lowest priority, kept in an indexed binary min-heap of entry numbers
 * (O(log n) insert, access and remove; nothing allocated after construction).
 *
 * <p><b>Priority.</b> On insert and on each access a block's priority becomes
 * {@code L + value(block)}. With {@code inflate}, {@code L} is the priority of the last block
 * evicted: the "inflation" of GreedyDual-Size-Frequency (Cherkasova, HP Labs TR 98-69;
 * Cao and Irani, USITS 1997), so a block that was valuable long ago ages out once newer
 * blocks overtake it, with no periodic sweep. Without {@code inflate}, {@code L} stays 0 and the
 * value alone orders blocks (an oracle's next use, say).
 *
 * <p><b>Prefixes.</b> A parent must not leave before its children, so a resident parent's
 * priority is kept above each resident child's: when a block's priority is set, every ancestor
 * below it is raised just above it (stopping at the first that is already higher). The heap's
 * minimum is therefore a leaf. A block published after its children (the cache publishes a
 * stored chain deepest first) starts above the highest of them. When {@code evictable} refuses it (pinned, being written), it is
 * set aside and put back after the search. With inflation, an access never lowers a block's
 * priority (its value may have aged, its children's not).
 */
public final class PriorityEviction implements EvictionPolicy {
    private final IntToDoubleFunction value;
    private final IntUnaryOperator parent;
    private final IntUnaryOperator depth;
    private final boolean inflate;
    private final double[] priority;
    /** Per block not in the heap: the highest priority a child had meanwhile (NEGATIVE_INFINITY: none). */
    private final double[] floor;
    private final int[] heap;
    private final int[] at;
    private final int[] aside;
    private int size;
    private double inflation;

    /**
     * @param capacity entries numbered 0 to capacity - 1
     * @param value    a block's value, read on insert and access
     * @param parent   a block's parent entry, or a negative number for a root
     * @param depth    a block's position in its prompt
     * @param inflate  whether evictions raise the base priority (GDSF aging)
     */
    public PriorityEviction(int capacity, IntToDoubleFunction value, IntUnaryOperator parent, IntUnaryOperator depth,
            boolean inflate) {
        this.value = value;
        this.parent = parent;
        this.depth = depth;
        this.inflate = inflate;
        priority = new double[capacity];
        floor = new double[capacity];
        java.util.Arrays.fill(floor, Double.NEGATIVE_INFINITY);
        heap = new int[capacity];
        at = new int[capacity];
        aside = new int[capacity];
        java.util.Arrays.fill(at, -1);
    }

    @Override
    public void onInsert(int entry) {
        if (at[entry] >= 0) {
            onAccess(entry);
            return;
        }
        priority[entry] = Math.max(base(entry), Math.nextUp(floor[entry]));
        floor[entry] = Double.NEGATIVE_INFINITY;
        push(entry);
        raiseAncestors(entry);
    }

    @Override
    public void onAccess(int entry) {
        if (at[entry] < 0) {
            return;
        }
        double p = base(entry);
        priority[entry] = inflate ? Math.max(p, priority[entry]) : p;
        siftUp(at[entry]);
        siftDown(at[entry]);
        raiseAncestors(entry);
    }

    @Override
    public void onRemove(int entry) {
        floor[entry] = Double.NEGATIVE_INFINITY;
        int i = at[entry];
        if (i < 0) {
            return;
        }
        removeAt(i);
    }

    @Override
    public int victim(IntPredicate evictable, int limit) {
        int setAside = 0;
        int found = -1;
        while (size > 0 && setAside < limit) {
            int e = heap[0];
            if (evictable.test(e)) {
                found = e;
                break;
            }
            aside[setAside++] = e;
            removeAt(0);
        }
        for (int i = 0; i < setAside; i++) {
            push(aside[i]);
        }
        if (found >= 0 && inflate) {
            inflation = Math.max(inflation, priority[found]);
        }
        return found;
    }

    /** {@code L + value}, less a few ulps per level of depth so that a chain's equal values still put parents above children. */
    private double base(int e) {
        double b = inflation + value.applyAsDouble(e);
        return b - 2 * depth.applyAsInt(e) * Math.ulp(b);
    }

    /**
     * Raises each ancestor of {@code e} in the heap that is not above it to just above it; an
     * ancestor not in the heap yet (published after its children) keeps the priority as its floor
     * for when it is inserted.
     */
    private void raiseAncestors(int e) {
        double p = priority[e];
        for (int up = parent.applyAsInt(e); up >= 0 && needsRaise(up, p); up = parent.applyAsInt(up)) {
            p = Math.nextUp(p);
            priority[up] = p;
            siftDown(at[up]);
        }
    }

    /**
     * Whether ancestor {@code up}, in the heap, needs raising above {@code p}; one not in the heap
     * records {@code p} as its floor instead (with inflation only: without it, values alone keep
     * parents above children, and a floor left by a block never inserted must not outlive it).
     */
    private boolean needsRaise(int up, double p) {
        if (at[up] < 0) {
            if (inflate) {
                floor[up] = Math.max(floor[up], p);
            }
            return false;
        }
        return priority[up] <= p;
    }

    private void push(int e) {
        at[e] = size;
        heap[size++] = e;
        siftUp(at[e]);
    }

    private void removeAt(int i) {
        int e = heap[i];
        at[e] = -1;
        int last = heap[--size];
        if (i < size) {
            heap[i] = last;
            at[last] = i;
            siftUp(i);
            siftDown(at[last]);
        }
    }

    private void siftUp(int i) {
        int e = heap[i];
        while (i > 0) {
            int up = (i - 1) >>> 1;
            int p = heap[up];
            if (priority[p] <= priority[e]) {
                break;
            }
            heap[i] = p;
            at[p] = i;
            i = up;
        }
        heap[i] = e;
        at[e] = i;
    }

    private void siftDown(int i) {
        int e = heap[i];
        while (true) {
            int c = 2 * i + 1;
            if (c >= size) {
                break;
            }
            if (c + 1 < size && priority[heap[c + 1]] < priority[heap[c]]) {
                c++;
            }
            if (priority[heap[c]] >= priority[e]) {
                break;
            }
            heap[i] = heap[c];
            at[heap[i]] = i;
            i = c;
        }
        heap[i] = e;
        at[e] = i;
    }
}
