package dev.kvtier.policy;

import java.util.function.IntPredicate;
import java.util.function.IntToDoubleFunction;
import java.util.function.IntUnaryOperator;

/**
 * Evicts the block of lowest {@link HitDensity} (times what a hit on it is worth) among a random
 * sample of the tier's leaves (blocks with no child in this tier), as LHD does: a block's
 * density changes with its age, so no order can be kept; 32 accepted candidates find one among
 * the lowest few percent.
 *
 * <p><b>Invariants.</b> Only leaves are candidates, so a parent never leaves before a child in
 * the same tier. Children are counted per parent entry whether or not the parent is resident
 * yet (the cache publishes a stored chain deepest first), so a parent that arrives after its
 * children is not a leaf. A block's class and last use are set on insert and on each access.
 *
 * <p><b>Cost.</b> Up to {@value #PROBES} random leaves are looked at to find 32 that
 * {@code evictable} accepts; when none is accepted the leaves are scanned in order from a
 * random start, up to the search limit: {@code O(leaves)}, which a predicate that accepts only
 * a few blocks (the cache's clean-copies-first search) can reach. When the victim returned is
 * then removed, its unweighted density goes to {@link HitDensity#onVictim}.
 *
 * <p>Not thread-safe (called under the cache lock); allocates nothing after construction.
 */
public final class HitDensityEviction implements EvictionPolicy {
    static final int SAMPLES = 32;
    /** Random leaves looked at before a scan, for predicates that accept few (clean blocks only, say). */
    static final int PROBES = 8 * SAMPLES;

    private final HitDensity density;
    private final boolean reportVictims;
    private final IntUnaryOperator parent;
    private final IntUnaryOperator classOf;
    private final IntToDoubleFunction weight;
    private final long[] lastUse;
    private final byte[] cls;
    private final boolean[] resident;
    private final int[] children;
    /** Position of a resident leaf in {@link #leaves}, or -1. */
    private final int[] leafAt;
    private final int[] leaves;
    private int leafCount;
    private long random = 0x9E37_79B9_7F4A_7C15L;
    /** The last victim returned: when it is removed, its density is what the margin earns. */
    private int lastVictim = -1;

    /**
     * @param capacity entries numbered 0 to capacity - 1
     * @param density  the hit-density table and its clock
     * @param parent   a block's parent entry, or a negative number for a root
     * @param classOf  a block's {@link HitDensity} class now
     * @param weight   what a hit on the block is worth (1 for every block, or its prefill time)
     */
    public HitDensityEviction(int capacity, HitDensity density, IntUnaryOperator parent, IntUnaryOperator classOf,
            IntToDoubleFunction weight) {
        this(capacity, density, parent, classOf, weight, true);
    }

    /**
     * As above; with {@code reportVictims} false the victims' densities are not reported to
     * {@code density} (a shadow simulation sharing the real cache's table must not move its
     * margin).
     */
    HitDensityEviction(int capacity, HitDensity density, IntUnaryOperator parent, IntUnaryOperator classOf,
            IntToDoubleFunction weight, boolean reportVictims) {
        this.reportVictims = reportVictims;
        this.density = density;
        this.parent = parent;
        this.classOf = classOf;
        this.weight = weight;
        lastUse = new long[capacity];
        cls = new byte[capacity];
        resident = new boolean[capacity];
        children = new int[capacity];
        leafAt = new int[capacity];
        leaves = new int[capacity];
        java.util.Arrays.fill(leafAt, -1);
    }

    @Override
    public void onInsert(int entry) {
        if (resident[entry]) {
            onAccess(entry);
            return;
        }
        resident[entry] = true;
        int p = parent.applyAsInt(entry);
        if (p >= 0 && children[p]++ == 0 && resident[p]) {
            removeLeaf(p);
        }
        if (children[entry] == 0) {
            addLeaf(entry);
        }
        onAccess(entry);
    }

    @Override
    public void onAccess(int entry) {
        if (resident[entry]) {
            lastUse[entry] = density.clock();
            cls[entry] = (byte) classOf.applyAsInt(entry);
        }
    }

    @Override
    public void onRemove(int entry) {
        if (!resident[entry]) {
            return;
        }
        if (entry == lastVictim && reportVictims) {
            density.onVictim(density.density(cls[entry], density.clock() - lastUse[entry]));
            lastVictim = -1;
        }
        resident[entry] = false;
        if (leafAt[entry] >= 0) {
            removeLeaf(entry);
        }
        int p = parent.applyAsInt(entry);
        if (p >= 0 && --children[p] == 0 && resident[p]) {
            addLeaf(p);
        }
    }

    /** The hit density of resident block {@code entry} now, times what a hit on it is worth. */
    public double score(int entry) {
        return density.density(cls[entry], density.clock() - lastUse[entry]) * weight.applyAsDouble(entry);
    }

    @Override
    public int victim(IntPredicate evictable, int limit) {
        int best = -1;
        double bestScore = Double.POSITIVE_INFINITY;
        int asked = 0;
        int accepted = 0;
        for (; accepted < SAMPLES && asked < Math.min(PROBES, limit) && leafCount > 0; asked++) {
            int e = leaves[next(leafCount)];
            if (evictable.test(e)) {
                accepted++;
                double s = score(e);
                if (s < bestScore) {
                    best = e;
                    bestScore = s;
                }
            }
        }
        if (best < 0 && leafCount > 0) {
            int start = next(leafCount);
            int scan = (int) Math.min(leafCount, (long) limit - asked);
            for (int i = 0; i < scan; i++) {
                int e = leaves[(start + i) % leafCount];
                double s = evictable.test(e) ? score(e) : Double.POSITIVE_INFINITY;
                if (s < bestScore) {
                    best = e;
                    bestScore = s;
                }
            }
        }
        lastVictim = best;
        return best;
    }

    /** Resident blocks with no resident child in this tier. */
    int leafCount() {
        return leafCount;
    }

    private void addLeaf(int e) {
        leafAt[e] = leafCount;
        leaves[leafCount++] = e;
    }

    private void removeLeaf(int e) {
        int i = leafAt[e];
        int last = leaves[--leafCount];
        leaves[i] = last;
        leafAt[last] = i;
        leafAt[e] = -1;
    }

    /** A uniform number in [0, n) (xorshift64*, Lemire's multiply-shift range reduction). */
    private int next(int n) {
        random ^= random >>> 12;
        random ^= random << 25;
        random ^= random >>> 27;
        long r = (random * 0x2545_F491_4F6C_DD1DL) >>> 32;
        return (int) ((r * n) >>> 32);
    }
}
