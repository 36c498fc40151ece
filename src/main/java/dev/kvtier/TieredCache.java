package dev.kvtier;

import static dev.kvtier.index.BlockIndex.NONE;
import static dev.kvtier.index.BlockIndex.READY;
import static dev.kvtier.index.BlockIndex.RETIRED;
import static dev.kvtier.index.BlockIndex.WRITING;

import dev.kvtier.index.BlockIndex;
import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import dev.kvtier.metrics.CacheMetrics;
import dev.kvtier.metrics.CacheMetrics.Counter;
import dev.kvtier.metrics.CacheMetrics.Op;
import dev.kvtier.policy.EvictionPolicy;
import dev.kvtier.policy.LruPrefixEviction;
import dev.kvtier.tier.DramTier;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntPredicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cache engine behind {@link KvTierCache}.
 *
 * <p><b>Concurrency.</b> All metadata (index, eviction order, page allocator, namespace ids)
 * changes under one lock, held only for lookups and bookkeeping, never for a copy. A copy runs
 * outside the lock on entries that are pinned: a load pins the leading READY blocks, copies,
 * then unpins; a store reserves each new key in state WRITING (holding the writer's pin and a
 * page), copies, then publishes it READY. So no reader sees a half-written block, and no page
 * is recycled under a reader: eviction takes only unpinned READY blocks without resident
 * children, and an invalidated pinned block keeps its page until its last pin goes.
 * {@code close()} waits for copies in progress ({@code inFlight}) before freeing memory.
 *
 * <p><b>Prefix rule.</b> A block is stored only under a kept parent, and a block with a kept
 * child is never evicted, so every kept block's parent is kept. Blocks of a prompt are touched
 * deepest first, so a parent is always more recent than the children touched with it.
 */
final class TieredCache implements KvTierCache {
    private static final Logger LOG = LoggerFactory.getLogger(KvTierCache.class);
    private static final byte DRAM = (byte) Tier.DRAM.ordinal();
    private static final ThreadLocal<int[]> SCRATCH = ThreadLocal.withInitial(() -> new int[192]);

    private final int blockTokens;
    private final int blockBytes;
    private final DramTier dram;
    private final BlockIndex index;
    private final EvictionPolicy eviction;
    private final CacheMetrics metrics = new CacheMetrics();
    private final Map<Namespace, Integer> namespaceIds = new HashMap<>();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition idle = lock.newCondition();
    private final IntPredicate evictable = this::evictable;
    private int inFlight;
    private int activePins;
    private int residentDram;
    private boolean closed;

    TieredCache(int blockTokens, int blockBytes, long dramCapacityBytes) {
        this.blockTokens = blockTokens;
        this.blockBytes = blockBytes;
        this.dram = new DramTier(dramCapacityBytes, blockBytes);
        try {
            this.index = new BlockIndex(dram.pageCount());
            this.eviction = new LruPrefixEviction(dram.pageCount());
        } catch (RuntimeException | OutOfMemoryError e) {
            dram.close();
            throw e;
        }
    }

    @Override
    public int blockTokens() {
        return blockTokens;
    }

    @Override
    public int blockBytes() {
        return blockBytes;
    }

    @Override
    public PrefixMatch match(BlockKey[] keys) {
        return match(keys, new PrefixMatch());
    }

    @Override
    public PrefixMatch match(BlockKey[] keys, PrefixMatch into) {
        Args.requireNonNull(into, "into");
        Args.requireChain(keys, 0, keys == null ? 0 : keys.length, blockTokens);
        long t0 = System.nanoTime();
        int[] entries = scratch(keys.length);
        into.reset(keys);
        int hits;
        lock.lock();
        try {
            checkOpen();
            hits = leadingReady(keys, keys.length, entries, false);
            for (int i = 0; i < hits; i++) {
                into.hit(Tier.of(index.tier(entries[i])));
            }
            touchDeepestFirst(entries, hits);
        } finally {
            lock.unlock();
        }
        metrics.add(Counter.MATCH_CALLS, 1);
        metrics.add(Counter.LOOKUP_BLOCKS, keys.length);
        metrics.add(Counter.HIT_BLOCKS, DRAM, hits);
        metrics.add(Counter.MISS_BLOCKS, keys.length - hits);
        metrics.record(Op.MATCH, System.nanoTime() - t0);
        return into;
    }

    @Override
    public CompletableFuture<Integer> load(PrefixMatch match, ByteBuffer[] dst) {
        Args.requireNonNull(match, "match");
        Args.requireBuffers(dst, match.hitBlocks(), blockBytes, true);
        return CompletableFuture.completedFuture(loadBlocks(match, dst, null));
    }

    @Override
    public CompletableFuture<Integer> load(PrefixMatch match, long[] dstAddresses) {
        Args.requireNonNull(match, "match");
        Args.requireAddresses(dstAddresses, match.hitBlocks());
        return CompletableFuture.completedFuture(loadBlocks(match, null, dstAddresses));
    }

    private int loadBlocks(PrefixMatch match, ByteBuffer[] buffers, long[] addresses) {
        long t0 = System.nanoTime();
        int wanted = match.hitBlocks();
        int[] entries = scratch(wanted);
        int n;
        lock.lock();
        try {
            checkOpen();
            n = leadingReady(match.keys(), wanted, entries, true);
            touchDeepestFirst(entries, n);
        } finally {
            lock.unlock();
        }
        try {
            for (int i = 0; i < n; i++) {
                int page = entries[wanted + i];
                if (buffers != null) {
                    dram.copyOut(page, buffers[i]);
                } else {
                    dram.copyOut(page, addresses[i]);
                }
            }
        } finally {
            unpinAll(entries, n);
        }
        metrics.add(Counter.LOAD_CALLS, 1);
        metrics.add(Counter.LOADED_BLOCKS, DRAM, n);
        metrics.add(Counter.LOADED_BYTES, DRAM, (long) n * blockBytes);
        metrics.add(Counter.LOAD_LOST_BLOCKS, wanted - n);
        metrics.record(Op.LOAD, System.nanoTime() - t0);
        return n;
    }

    /**
     * Under the lock: the number of leading keys that are READY, their entries in
     * {@code entries[0..n)}; when {@code pin}, also pins them, puts their pages in
     * {@code entries[limit..limit+n)} and counts one copy in flight.
     */
    private int leadingReady(BlockKey[] keys, int limit, int[] entries, boolean pin) {
        int n = 0;
        while (n < limit) {
            int e = index.find(keys[n].hi(), keys[n].lo());
            if (e == NONE || index.state(e) != READY) {
                break;
            }
            entries[n++] = e;
        }
        if (pin && n > 0) {
            for (int i = 0; i < n; i++) {
                index.pin(entries[i]);
                entries[limit + i] = index.location(entries[i]);
            }
            activePins += n;
            inFlight++;
        }
        return n;
    }

    private void unpinAll(int[] entries, int n) {
        if (n == 0) {
            return;
        }
        lock.lock();
        try {
            for (int i = 0; i < n; i++) {
                unpin(entries[i]);
            }
            activePins -= n;
            endCopy();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public int store(BlockKey[] keys, ByteBuffer[] src) {
        Args.requireNonNull(keys, "keys");
        return store(keys, 0, keys.length, src);
    }

    @Override
    public int store(BlockKey[] keys, int from, int count, ByteBuffer[] src) {
        Args.requireChain(keys, from, count, blockTokens);
        Args.requireBuffers(src, count, blockBytes, false);
        Args.requireFits(count, dram.pageCount());
        return storeBlocks(keys, from, count, src, null);
    }

    @Override
    public int store(BlockKey[] keys, int from, int count, long[] srcAddresses) {
        Args.requireChain(keys, from, count, blockTokens);
        Args.requireAddresses(srcAddresses, count);
        Args.requireFits(count, dram.pageCount());
        return storeBlocks(keys, from, count, null, srcAddresses);
    }

    private int storeBlocks(BlockKey[] keys, int from, int count, ByteBuffer[] buffers, long[] addresses) {
        long t0 = System.nanoTime();
        int[] slots = scratch(count);
        int reserved = reserve(keys, from, count, slots);
        boolean copied = false;
        try {
            for (int j = 0; j < reserved; j++) {
                int page = index.location(slots[j]);
                int src = slots[count + j];
                if (buffers != null) {
                    dram.copyIn(buffers[src], page);
                } else {
                    dram.copyIn(addresses[src], page);
                }
            }
            copied = true;
        } finally {
            publish(slots, reserved, copied);
        }
        metrics.add(Counter.STORE_CALLS, 1);
        metrics.add(Counter.STORED_BLOCKS, DRAM, reserved);
        metrics.add(Counter.STORED_BYTES, DRAM, (long) reserved * blockBytes);
        metrics.record(Op.STORE, System.nanoTime() - t0);
        return reserved;
    }

    /**
     * Under the lock: reserves an entry and a page for each new block of the chain, in state
     * WRITING. Entries go to {@code slots[0..n)}, their index in the call to
     * {@code slots[count..count+n)}. Stops at an orphan or when no page can be freed.
     */
    private int reserve(BlockKey[] keys, int from, int count, int[] slots) {
        lock.lock();
        try {
            checkOpen();
            int ns = namespaceId(keys[from].namespace());
            int parent = keys[from].isFirst() ? NONE : index.find(keys[from].parentHi(), keys[from].parentLo());
            if (!keys[from].isFirst() && parent == NONE) {
                metrics.add(Counter.STORE_ORPHAN_BLOCKS, count);
                return 0;
            }
            int n = 0;
            for (int i = from; i < from + count; i++) {
                BlockKey key = keys[i];
                int e = index.find(key.hi(), key.lo());
                if (e == NONE) {
                    int page = allocatePage(parent);
                    if (page < 0) {
                        metrics.add(Counter.STORE_NO_SPACE_BLOCKS, from + count - i);
                        break;
                    }
                    e = index.insert(key.hi(), key.lo(), parent, ns, key.position(), DRAM, page);
                    slots[n] = e;
                    slots[count + n++] = i - from;
                } else {
                    metrics.add(Counter.STORE_DUPLICATE_BLOCKS, 1);
                }
                parent = e;
            }
            if (n > 0) {
                inFlight++;
            }
            return n;
        } finally {
            lock.unlock();
        }
    }

    /** Under the lock: makes the reserved blocks readable, deepest first, or drops them all. */
    private void publish(int[] slots, int n, boolean copied) {
        if (n == 0) {
            return;
        }
        lock.lock();
        try {
            for (int j = n - 1; j >= 0; j--) {
                int e = slots[j];
                if (copied && index.state(e) == WRITING) {
                    index.publish(e);
                    eviction.onInsert(e);
                    residentDram++;
                } else if (index.state(e) == WRITING) {
                    index.retire(e);
                }
                unpin(e);
            }
            endCopy();
        } finally {
            lock.unlock();
        }
    }

    /** A free DRAM page, evicting one block if needed while keeping {@code protect} resident. */
    private int allocatePage(int protect) {
        int page = dram.allocate();
        if (page >= 0) {
            return page;
        }
        if (protect != NONE) {
            index.pin(protect);
        }
        int victim = eviction.victim(evictable);
        if (protect != NONE) {
            index.unpin(protect);
        }
        if (victim == NONE) {
            return -1;
        }
        retire(victim);
        metrics.add(Counter.EVICTED_BLOCKS, DRAM, 1);
        release(victim);
        return dram.allocate();
    }

    private boolean evictable(int e) {
        return index.state(e) == READY && index.pins(e) == 0 && index.children(e) == 0;
    }

    @Override
    public BlockHandle acquire(BlockKey key) {
        Args.requireKey(key, blockTokens);
        int e;
        int page;
        lock.lock();
        try {
            checkOpen();
            e = index.find(key.hi(), key.lo());
            if (e == NONE || index.state(e) != READY || index.tier(e) != DRAM) {
                return null;
            }
            index.pin(e);
            activePins++;
            eviction.onAccess(e);
            page = index.location(e);
        } finally {
            lock.unlock();
        }
        metrics.add(Counter.ACQUIRES, 1);
        return new DramBlockHandle(this, key, e, dram.address(page), dram.view(page));
    }

    /** Called once per handle, on close or when a leaked handle is collected. */
    void releaseHandlePin(int entry, boolean leaked) {
        if (leaked) {
            metrics.add(Counter.LEAKED_PINS, 1);
        }
        lock.lock();
        try {
            if (!closed) {
                unpin(entry);
                activePins--;
            }
        } finally {
            lock.unlock();
        }
    }

    @Override
    public int invalidate(Namespace namespace) {
        Args.requireNonNull(namespace, "namespace");
        lock.lock();
        try {
            checkOpen();
            Integer id = namespaceIds.get(namespace);
            if (id == null) {
                return 0;
            }
            int n = 0;
            for (int e = 0; e < index.capacity(); e++) {
                byte s = index.state(e);
                if ((s == READY || s == WRITING) && index.namespace(e) == id) {
                    retire(e);
                    n++;
                }
            }
            for (int e = 0; e < index.capacity(); e++) {
                if (index.state(e) == RETIRED && index.pins(e) == 0) {
                    release(e);
                }
            }
            metrics.add(Counter.INVALIDATED_BLOCKS, n);
            return n;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public CacheStats stats() {
        long[] resident = new long[CacheMetrics.TIERS];
        long[] capacity = new long[CacheMetrics.TIERS];
        int pins;
        lock.lock();
        try {
            resident[DRAM] = residentDram;
            pins = activePins;
        } finally {
            lock.unlock();
        }
        capacity[DRAM] = dram.pageCount();
        return new CacheStats(metrics, resident, capacity, pins);
    }

    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            while (inFlight > 0) {
                idle.awaitUninterruptibly();
            }
            if (activePins > 0) {
                LOG.warn("kvtier cache closed with {} block handle(s) still open; their memory is freed "
                        + "now and must not be read", activePins);
            }
            dram.close();
        } finally {
            lock.unlock();
        }
    }

    /** True once all off-heap memory has been returned. For tests. */
    boolean offHeapReleased() {
        return dram.isReleased();
    }

    /** Checks the index invariants under the lock. For tests. */
    void checkInvariants() {
        lock.lock();
        try {
            if (!closed) {
                index.checkInvariants();
                if (index.used() + dram.freePages() != dram.pageCount()) {
                    throw new IllegalStateException("pages leaked: " + index.used() + " entries + "
                            + dram.freePages() + " free != " + dram.pageCount());
                }
            }
        } finally {
            lock.unlock();
        }
    }

    private void retire(int e) {
        if (index.state(e) == READY) {
            eviction.onRemove(e);
            residentDram--;
        }
        index.retire(e);
    }

    private void release(int e) {
        dram.free(index.location(e));
        index.release(e);
    }

    private void unpin(int e) {
        if (index.unpin(e) == 0 && index.state(e) == RETIRED) {
            release(e);
        }
    }

    private void endCopy() {
        if (--inFlight == 0) {
            idle.signalAll();
        }
    }

    private void touchDeepestFirst(int[] entries, int n) {
        for (int i = n - 1; i >= 0; i--) {
            eviction.onAccess(entries[i]);
        }
    }

    private int namespaceId(Namespace ns) {
        Integer id = namespaceIds.get(ns);
        if (id == null) {
            id = namespaceIds.size();
            namespaceIds.put(ns, id);
        }
        return id;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("KvTierCache is closed");
        }
    }

    private static int[] scratch(int n) {
        int[] s = SCRATCH.get();
        if (s.length < 2 * n) {
            s = new int[Math.max(2 * n, 2 * s.length)];
            SCRATCH.set(s);
        }
        return s;
    }
}
