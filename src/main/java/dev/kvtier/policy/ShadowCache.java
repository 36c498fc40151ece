package dev.kvtier.policy;

import java.util.function.IntPredicate;

/**
 * A miniature simulation of one candidate policy (Waldspurger, Saemundsson, Ahmad and Park,
 * "Cache Modeling and Optimization using Miniature Simulations", USENIX ATC 2017): a prefix
 * cache that keeps only keys of a spatial hash sample, with its capacity scaled by the same
 * rate, running its own admission rule and eviction order. It sees what the real cache sees
 * (every key looked up, request by request, in prefix order) and holds no bytes.
 *
 * <p><b>Prefixes.</b> A sampled key's parent here is its nearest sampled ancestor: the last
 * sampled key before it in the request (keys of a request arrive in prefix order, and a key
 * always follows the same parent, so this is a fixed tree: the sampled keys' induced tree). On
 * it the shadow applies the real cache's rules: a key hits only while every sampled key
 * before it in the request hit; the hits are touched deepest first; then the request's other
 * keys are stored in order until one is refused or finds no room (nothing under a parent not
 * kept); only leaves leave, and never the parent of the key being stored. The stored keys join
 * the eviction order when the request ends, deepest first, as the cache publishes a store (until
 * then they are no candidates, as the cache's reserved blocks are pinned), and the hits are
 * touched once more after them, so from an LRU order's cold end a chain meets its leaf first and
 * finding a victim is O(1), not a walk down the chain. With a rate of 1 it
 * is the whole cache; a rate below 1 keeps {@code rate * capacity} slots (SHARDS's fixed-rate
 * scaling).
 *
 * <p><b>Chain samples</b> follow the real cache's rule: a request's new keys share one sample,
 * their nearest sampled ancestor's when it is kept and has no child (the chain continues), else
 * drawn from the first new sampled key.
 *
 * <p><b>Differences from the real cache</b>, the same for every candidate: hits count blocks,
 * not tokens; a request's partial last block is stored too (the shadow does not know which block
 * is partial).
 *
 * <p>Not thread-safe (called under the cache lock); allocates only when a request is longer than
 * any before it.
 */
final class ShadowCache implements Shadow {
    /**
     * May a new key enter: {@code victim} is the entry that would make room, or -1 when a slot is
     * free; {@code chainSample} is its chain's sample, as the real cache draws it
     * ({@link AdmissionPolicy#chainSample}).
     */
    @FunctionalInterface
    interface Admission {
        boolean admit(long hi, long lo, int victim, double chainSample);
    }

    /** {@link #lookup} results: the key hit; it was kept but not a hit (after a miss); it was not kept. */
    static final int HIT = 2;
    static final int KEPT = 1;
    static final int MISSED = 0;

    private final int capacity;
    private final EvictionPolicy order;
    private final Admission admission;
    private final boolean wantsVictim;
    private final long[] keyHi;
    private final long[] keyLo;
    private final int[] parent;
    private final int[] children;
    private final double[] samples;
    /** Open addressing, linear probing: entry + 1, 0 for empty. */
    private final int[] table;
    private final int mask;
    private final int[] free;
    private int freeCount;
    /** Keys inserted so far: the writes this candidate would make. */
    private long inserts;
    private final IntPredicate evictable = this::evictable;
    private int protect = -1;

    // the request being looked up
    private int last = -1;
    /** The chain sample of the request's stores, or -1 before its first new key. */
    private double sample = -1;
    private boolean hitting;
    private boolean storing;
    private int[] hits = new int[64];
    private int hitCount;
    private boolean hitsTouched;
    /**
     * Keys this request stored (or found kept after a miss), in request order, published to the
     * order at the end of the request deepest first, as the cache publishes a store; a key stored
     * here is marked by {@link #fresh}.
     */
    private int[] stored = new int[64];
    private boolean[] fresh = new boolean[64];
    private int storedCount;

    /**
     * @param capacity    slots (the real capacity times the sampling rate, at least 1)
     * @param order       makes the candidate's eviction order, over entries 0 to capacity - 1 of this shadow
     * @param admission   the candidate's admission of new keys
     * @param wantsVictim whether {@code admission} needs the victim (else it gets -1)
     */
    ShadowCache(int capacity, java.util.function.Function<ShadowCache, EvictionPolicy> order, Admission admission,
            boolean wantsVictim) {
        this.capacity = Math.max(1, capacity);
        this.admission = admission;
        this.wantsVictim = wantsVictim;
        keyHi = new long[this.capacity];
        keyLo = new long[this.capacity];
        parent = new int[this.capacity];
        children = new int[this.capacity];
        samples = new double[this.capacity];
        int size = Integer.highestOneBit(Math.max(4, this.capacity) * 2 - 1) << 1;
        table = new int[size];
        mask = size - 1;
        free = new int[this.capacity];
        for (int i = 0; i < this.capacity; i++) {
            free[i] = this.capacity - 1 - i;
        }
        freeCount = this.capacity;
        this.order = order.apply(this);
    }

    /** Entry slots of this shadow (for orders sized to it). */
    int capacity() {
        return capacity;
    }

    long keyHi(int e) {
        return keyHi[e];
    }

    long keyLo(int e) {
        return keyLo[e];
    }

    int parent(int e) {
        return parent[e];
    }

    /** Keys inserted so far: in a one-level shadow, or a {@link TieredShadow}'s device level, the candidate's writes. */
    @Override
    public long writes() {
        return inserts;
    }

    @Override
    public boolean filled() {
        return inserts >= capacity;
    }

    /** Keys kept now. */
    int size() {
        return capacity - freeCount;
    }

    /**
     * A new request begins: the last one's hits are touched if not yet, and its stores are
     * published deepest first. The hits are touched at the request's first miss, as the cache
     * does (so the store's evictions do not walk the chain it hangs under), and once more after
     * the stores are published (so the new chain is colder than the hit chain it hangs under:
     * from the cold end an LRU order meets the new chain's leaf first, and the hit chain's keys
     * once they are leaves again; otherwise each later eviction would walk the whole hit chain,
     * whose keys are not leaves while the new chain is kept). The victims are the same as with
     * one touch; only the scan for them is shorter.
     */
    @Override
    public void onRequest() {
        if (storedCount > 0) {
            publishStored();
            hitsTouched = false;
        }
        touchHits();
        hitCount = 0;
        hitsTouched = false;
        last = -1;
        sample = -1;
        hitting = true;
        storing = true;
    }

    @Override
    public boolean onLookup(long hi, long lo) {
        return lookup(hi, lo, false) == HIT;
    }

    /**
     * As {@link #onLookup(long, long)}, returning {@link #HIT}, {@link #KEPT} (kept, after a
     * miss in the request) or {@link #MISSED} (not kept when looked up); with {@code promoted},
     * a key not kept here is stored without asking admission (a lower tier holds it: the cache
     * loads it back, it does not admit it).
     */
    int lookup(long hi, long lo, boolean promoted) {
        int e = find(hi, lo);
        if (hitting && e >= 0) {
            if (hitCount == hits.length) {
                hits = java.util.Arrays.copyOf(hits, 2 * hits.length);
            }
            hits[hitCount++] = e;
            last = e;
            return HIT;
        }
        if (hitting) {
            hitting = false;
            touchHits();
        }
        if (e >= 0) {
            if (storing) { // the store finds it and touches it
                addStored(e, false);
                last = e;
            }
            return KEPT;
        }
        if (storing) {
            store(hi, lo, promoted);
        }
        return MISSED;
    }

    /** Stores a key not kept, after its request's hits, unless refused or without room (then the request stores no more). */
    private void store(long hi, long lo, boolean promoted) {
        int victim = freeCount > 0 ? -1 : victim(last);
        if (freeCount == 0 && victim < 0) {
            storing = false;
            return;
        }
        if (sample < 0) {
            sample = last >= 0 && children[last] == 0 ? samples[last] : AdmissionPolicy.chainSample(hi, lo);
        }
        if (!promoted && !admission.admit(hi, lo, wantsVictim ? victim : -1, sample)) {
            storing = false;
            return;
        }
        if (victim >= 0) {
            remove(victim);
        }
        last = insert(hi, lo, last);
        addStored(last, true);
    }

    private void addStored(int e, boolean isNew) {
        if (storedCount == stored.length) {
            stored = java.util.Arrays.copyOf(stored, 2 * stored.length);
            fresh = java.util.Arrays.copyOf(fresh, 2 * fresh.length);
        }
        stored[storedCount] = e;
        fresh[storedCount++] = isNew;
    }

    /**
     * The request's stores join the order deepest first (so in an LRU order a chain's leaf is
     * the coldest of it and an eviction finds a leaf at once, not after walking the chain);
     * until then they are in no order, so not candidates for eviction: the cache's own blocks
     * being stored are pinned and unpublished too.
     */
    private void publishStored() {
        for (int i = storedCount - 1; i >= 0; i--) {
            if (fresh[i]) {
                order.onInsert(stored[i]);
            } else {
                order.onAccess(stored[i]);
            }
        }
        storedCount = 0;
    }

    private boolean evictable(int e) {
        return children[e] == 0 && e != protect;
    }

    private int victim(int keep) {
        protect = keep;
        int v = order.victim(evictable);
        protect = -1;
        return v;
    }

    /** Touches this request's hits deepest first, unless already since the last change. */
    private void touchHits() {
        if (hitsTouched) {
            return;
        }
        for (int i = hitCount - 1; i >= 0; i--) {
            order.onAccess(hits[i]);
        }
        hitsTouched = true;
    }

    private int insert(long hi, long lo, int p) {
        int e = free[--freeCount];
        inserts++;
        keyHi[e] = hi;
        keyLo[e] = lo;
        parent[e] = p;
        children[e] = 0;
        samples[e] = sample;
        if (p >= 0) {
            children[p]++;
        }
        int i = slot(hi, lo);
        while (table[i] != 0) {
            i = (i + 1) & mask;
        }
        table[i] = e + 1;
        return e;
    }

    private void remove(int e) {
        order.onRemove(e);
        if (parent[e] >= 0) {
            children[parent[e]]--;
        }
        int i = slot(keyHi[e], keyLo[e]);
        while (table[i] != e + 1) {
            i = (i + 1) & mask;
        }
        // backward-shift deletion
        int j = i;
        while (true) {
            j = (j + 1) & mask;
            if (table[j] == 0) {
                break;
            }
            int home = slot(keyHi[table[j] - 1], keyLo[table[j] - 1]);
            if (((j - home) & mask) >= ((j - i) & mask)) {
                table[i] = table[j];
                i = j;
            }
        }
        table[i] = 0;
        free[freeCount++] = e;
    }

    private int find(long hi, long lo) {
        for (int i = slot(hi, lo); table[i] != 0; i = (i + 1) & mask) {
            int e = table[i] - 1;
            if (keyHi[e] == hi && keyLo[e] == lo) {
                return e;
            }
        }
        return -1;
    }

    private int slot(long hi, long lo) {
        return (int) (FrequencySketch.mix(hi, lo, 3) >>> 20) & mask;
    }
}
