package dev.kvtier.policy;

import java.util.function.IntPredicate;
import java.util.function.IntToDoubleFunction;
import java.util.function.IntUnaryOperator;

/**
 * Evicts the block of lowest priority, kept in an indexed binary min-heap of entry numbers
 * (O(log n) insert, access and remove; nothing allocated after construction).
 *
 * <p><b>Priority.</b> On insert and on each access a block's priority becomes its
 * {@code value} (an oracle's next use, say), less a few ulps per level of depth so that equal
 * values put parents above children.
 *
 * <p><b>Prefixes.</b> A parent must not leave before its children: when a block's priority is
 * set, each resident ancestor not above it is raised just above it (stopping at the first that
 * is already higher or not resident). A parent inserted after its children (the cache publishes
 * a stored chain deepest first) starts at its own value, and an access may lower a parent, so
 * the heap's minimum need not be a leaf: blocks that {@code evictable} refuses (a parent,
 * pinned, being written) are set aside and put back after the search.
 */
public final class PriorityEviction implements EvictionPolicy {
    private final IntToDoubleFunction value;
    private final IntUnaryOperator parent;
    private final IntUnaryOperator depth;
    private final double[] priority;
    private final int[] heap;
    private final int[] at;
    private final int[] aside;
    private int size;

    /**
     * @param capacity entries numbered 0 to capacity - 1
     * @param value    a block's value, read on insert and access
     * @param parent   a block's parent entry, or a negative number for a root
     * @param depth    a block's position in its prompt
     */
    public PriorityEviction(int capacity, IntToDoubleFunction value, IntUnaryOperator parent, IntUnaryOperator depth) {
        this.value = value;
        this.parent = parent;
        this.depth = depth;
        priority = new double[capacity];
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
        priority[entry] = base(entry);
        push(entry);
        raiseAncestors(entry);
    }

    @Override
    public void onAccess(int entry) {
        if (at[entry] < 0) {
            return;
        }
        priority[entry] = base(entry);
        siftUp(at[entry]);
        siftDown(at[entry]);
        raiseAncestors(entry);
    }

    @Override
    public void onRemove(int entry) {
        if (at[entry] >= 0) {
            removeAt(at[entry]);
        }
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
        return found;
    }

    /** The value, less a few ulps per level of depth so that a chain's equal values still put parents above children. */
    private double base(int e) {
        double b = value.applyAsDouble(e);
        return b - 2 * depth.applyAsInt(e) * Math.ulp(b);
    }

    /** Raises each resident ancestor of {@code e} that is not above it to just above it. */
    private void raiseAncestors(int e) {
        double p = priority[e];
        for (int up = parent.applyAsInt(e); up >= 0 && at[up] >= 0 && priority[up] <= p; up = parent.applyAsInt(up)) {
            p = Math.nextUp(p);
            priority[up] = p;
            siftDown(at[up]);
        }
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
