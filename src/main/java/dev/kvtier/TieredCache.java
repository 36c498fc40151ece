package dev.kvtier;

import static dev.kvtier.Residency.DRAM;
import static dev.kvtier.Residency.REMOTE;
import static dev.kvtier.Residency.SSD;
import static dev.kvtier.index.BlockIndex.NONE;
import static dev.kvtier.index.BlockIndex.READY;
import static dev.kvtier.index.BlockIndex.WRITING;

import dev.kvtier.codec.Codecs;
import dev.kvtier.codec.Lz4Codec;
import dev.kvtier.device.BlockDevice;
import dev.kvtier.device.BufferedFileDevice;
import dev.kvtier.device.DirectFileDevice;
import dev.kvtier.device.NbdDevice;
import dev.kvtier.io.IoEngine;
import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import dev.kvtier.metrics.CacheMetrics;
import dev.kvtier.metrics.CacheMetrics.Counter;
import dev.kvtier.metrics.CacheMetrics.Op;
import dev.kvtier.policy.AdmissionPolicy;
import dev.kvtier.tier.DramTier;
import dev.kvtier.tier.Memory;
import dev.kvtier.tier.SharedSlotTier;
import dev.kvtier.tier.SlotTier;
import dev.kvtier.tier.SlotTier.ReadStatus;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cache engine behind {@link KvTierCache}: the public operations, their argument checks
 * and their copies. Where blocks are is {@link Residency}'s business; moving them down is the
 * {@link Demoter}'s.
 *
 * <p><b>Concurrency.</b> Metadata changes under the residency lock, held only for lookups and
 * bookkeeping, never for a copy or device I/O. A load pins the leading READY blocks, copies
 * (DRAM) or reads and verifies (SSD, REMOTE: all of one load at once, on the device's
 * {@link IoEngine}) them, then unpins; a store reserves each new key in state
 * WRITING with a DRAM page, copies, then publishes it READY. So no reader sees a half-written
 * block and no page or slot is recycled under a reader. {@code close()} waits for copies in
 * progress ({@code inFlight}) and the demoter before freeing memory and closing the device.
 *
 * <p><b>Fail closed.</b> A device read that fails its header, key or payload check ends the load
 * there (the rest are misses), and the block is dropped with its descendants; an I/O error or
 * timeout is a miss. A block read from SSD or REMOTE is promoted into DRAM when a page can be
 * had without losing a block (a free page, or a clean copy to evict).
 *
 * <p><b>Remote lookups.</b> With a remote tier, {@code match} reads remote set headers after a
 * local miss to find blocks other processes wrote ({@link RemoteLookup}); that is the only
 * device I/O a {@code match} does.
 */
final class TieredCache implements KvTierCache {
    private static final Logger LOG = LoggerFactory.getLogger(KvTierCache.class);
    private static final ThreadLocal<int[]> SCRATCH = ThreadLocal.withInitial(() -> new int[256]);
    private static final ThreadLocal<CompletableFuture<?>[]> READS =
            ThreadLocal.withInitial(() -> new CompletableFuture<?>[64]);
    /** Requests in flight on the SSD, and per connection on the remote device. */
    private static final int SSD_DEPTH = 4;
    private static final int REMOTE_DEPTH_PER_CONNECTION = 4;
    /** Capacity of each I/O queue (reads; background writes). */
    private static final int QUEUE = 4096;
    private static final long SSD_TIMEOUT_MS = 30_000;

    private final int blockTokens;
    private final int blockBytes;
    private final CacheMetrics metrics = new CacheMetrics();
    private final Residency r;
    private final Demoter demoter;
    private final IoEngine ssdIo;
    private final IoEngine remoteIo;
    private final RemoteLookup lookup;
    private final long recoveryMillis;
    private final long closeFlushNanos;
    private final ThreadLocal<ByteBuffer> staging;

    TieredCache(CacheConfig config) {
        this.blockTokens = config.blockTokens();
        this.blockBytes = config.blockBytes();
        this.closeFlushNanos = config.closeFlushNanos();
        this.staging = ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(blockBytes));
        DramTier dram = new DramTier(config.dramCapacityBytes(), blockBytes);
        SlotTier ssd = null;
        SharedSlotTier remote = null;
        try {
            ssd = config.hasSsd() ? openSsd(config) : null;
            remote = config.hasRemote() ? openRemote(config) : null;
            this.r = new Residency(dram, ssd, remote, metrics, config.demoteAhead(), config.policy());
            this.recoveryMillis = ssd == null ? 0 : SsdRecovery.recover(r);
        } catch (IOException e) {
            closeQuietly(dram, ssd, remote);
            throw new IllegalStateException("KvTierCache: " + e.getMessage(), e);
        } catch (RuntimeException | Error e) {
            closeQuietly(dram, ssd, remote);
            throw e;
        }
        this.ssdIo = ssd == null ? null : new IoEngine(ssd.device(), SSD_DEPTH, QUEUE, QUEUE, SSD_TIMEOUT_MS);
        this.remoteIo = remote == null ? null : new IoEngine(remote.slots().device(),
                REMOTE_DEPTH_PER_CONNECTION * config.remote().connections(), QUEUE, QUEUE,
                config.remote().timeoutMillis());
        this.lookup = remote == null ? null : new RemoteLookup(r, remoteIo, config.remote().recheckMillis());
        this.demoter = ssd == null && remote == null ? null : new Demoter(r, ssdIo, remoteIo);
        if (demoter != null) {
            try {
                demoter.start();
            } catch (RuntimeException | Error e) {
                closeEngines();
                closeQuietly(dram, ssd, remote);
                throw e;
            }
        }
    }

    private static SharedSlotTier openRemote(CacheConfig c) throws IOException {
        CacheConfig.Remote rc = c.remote();
        NbdDevice device = NbdDevice.open(rc.uri(), rc.capacityBytes(), rc.connections(), rc.timeoutMillis(), rc.tls());
        try {
            SlotTier slots = SlotTier.open(device, c.blockTokens(), c.blockBytes(), codec(rc.compression()),
                    c.reinitializeDevices());
            if (slots.slotCount() < rc.ways()) {
                slots.close();
                throw new IOException(device.describe() + " holds " + slots.slotCount() + " slots, fewer than one set of "
                        + rc.ways());
            }
            return new SharedSlotTier(slots, rc.ways());
        } catch (IOException | RuntimeException e) {
            device.close();
            throw e;
        }
    }

    private static SlotTier openSsd(CacheConfig c) throws IOException {
        boolean resize = c.reinitializeDevices();
        BlockDevice device = c.ssdDirectIo()
                ? DirectFileDevice.open(c.ssdPath(), c.ssdCapacityBytes(), resize)
                : BufferedFileDevice.open(c.ssdPath(), c.ssdCapacityBytes(), resize);
        try {
            return SlotTier.open(device, c.blockTokens(), c.blockBytes(), codec(c.ssdCompression()),
                    c.reinitializeDevices());
        } catch (IOException | RuntimeException e) {
            device.close();
            throw e;
        }
    }

    private static dev.kvtier.codec.BlockCodec codec(Compression c) {
        switch (c) {
            case LZ4:
                return Codecs.byId(Lz4Codec.ID_LZ4);
            case LZ4_SHUFFLE2:
                return Codecs.byId(Lz4Codec.ID_LZ4_SHUFFLE2);
            default:
                return null;
        }
    }

    private static void closeQuietly(DramTier dram, SlotTier ssd, SharedSlotTier remote) {
        dram.close();
        for (SlotTier t : new SlotTier[] {ssd, remote == null ? null : remote.slots()}) {
            if (t != null) {
                try {
                    t.close();
                } catch (IOException e) {
                    LOG.warn("kvtier: closing {} failed", t.device().describe(), e);
                }
            }
        }
    }

    private void closeEngines() {
        if (ssdIo != null) {
            ssdIo.close();
        }
        if (remoteIo != null) {
            remoteIo.close();
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

    // ---- match

    @Override
    public PrefixMatch match(BlockKey[] keys) {
        return match(keys, new PrefixMatch());
    }

    @Override
    public PrefixMatch match(BlockKey[] keys, PrefixMatch into) {
        Args.requireNonNull(into, "into");
        Args.requireChain(keys, 0, keys == null ? 0 : keys.length, blockTokens);
        long t0 = System.nanoTime();
        if (lookup != null) {
            lookup.discover(keys);
        }
        int[] entries = scratch(keys.length);
        into.reset(keys);
        int hits;
        int dramHits = 0;
        int ssdHits = 0;
        r.lock.lock();
        try {
            r.checkOpen();
            r.admission.onRequest();
            for (BlockKey k : keys) {
                r.admission.onLookup(k.hi(), k.lo());
            }
            hits = leadingReady(keys, keys.length, entries);
            for (int i = 0; i < hits; i++) {
                int tier = r.index.fastestTier(entries[i]);
                dramHits += tier == DRAM ? 1 : 0;
                ssdHits += tier == SSD ? 1 : 0;
                into.hit(Tier.of(tier));
            }
            touchDeepestFirst(entries, hits);
        } finally {
            r.lock.unlock();
        }
        metrics.add(Counter.MATCH_CALLS, 1);
        metrics.add(Counter.LOOKUP_BLOCKS, keys.length);
        metrics.add(Counter.HIT_BLOCKS, DRAM, dramHits);
        metrics.add(Counter.HIT_BLOCKS, SSD, ssdHits);
        metrics.add(Counter.HIT_BLOCKS, REMOTE, hits - dramHits - ssdHits);
        metrics.add(Counter.MISS_BLOCKS, keys.length - hits);
        metrics.record(Op.MATCH, System.nanoTime() - t0);
        return into;
    }

    /** Under the lock: how many leading keys are READY; their entries go to {@code entries}. */
    private int leadingReady(BlockKey[] keys, int limit, int[] entries) {
        int n = 0;
        while (n < limit) {
            int e = r.index.find(keys[n].hi(), keys[n].lo());
            if (e == NONE || r.index.state(e) != READY) {
                break;
            }
            entries[n++] = e;
        }
        return n;
    }

    // ---- load

    @Override
    public CompletableFuture<Integer> load(PrefixMatch match, ByteBuffer[] dst) {
        Args.requireNonNull(match, "match");
        Args.requireBuffers(dst, match.hitBlocks(), blockBytes, true);
        return CompletableFuture.completedFuture(new Load(match, dst, null).run());
    }

    @Override
    public CompletableFuture<Integer> load(PrefixMatch match, long[] dstAddresses) {
        Args.requireNonNull(match, "match");
        Args.requireAddresses(dstAddresses, match.hitBlocks());
        return CompletableFuture.completedFuture(new Load(match, null, dstAddresses).run());
    }

    /**
     * One load: pin the leading blocks (and, for a block only on a device, take a DRAM page to
     * promote it into when one can be had without losing a block), submit the device reads of
     * all of them at once to their tiers' I/O engines, copy the DRAM blocks meanwhile, wait for
     * every read, then publish the promoted copies, unpin, and drop a block that failed its
     * checks with its descendants. The load ends at the first block not read intact. A block
     * promoted is read and verified into its own new page first and copied to the caller from
     * there, so nothing the caller does to its buffers can reach DRAM. Scratch layout (per
     * thread, {@code w} = blocks wanted): entries, source tiers, source locations, promotion
     * pages (-1: none), read outcomes ({@link ReadStatus} ordinals).
     */
    private final class Load {
        private final BlockKey[] keys;
        private final ByteBuffer[] buffers;
        private final long[] addresses;
        private final int w;
        private final int[] s;
        private int pinned;
        private int loaded;
        private ReadStatus failure = ReadStatus.OK;

        Load(PrefixMatch match, ByteBuffer[] buffers, long[] addresses) {
            this.keys = match.keys();
            this.buffers = buffers;
            this.addresses = addresses;
            this.w = match.hitBlocks();
            this.s = scratch(5 * w);
        }

        int run() {
            long t0 = System.nanoTime();
            pin();
            boolean completed = false;
            try {
                copyAll();
                completed = true;
            } finally {
                finish(completed);
            }
            metrics.add(Counter.LOAD_CALLS, 1);
            metrics.add(Counter.LOAD_LOST_BLOCKS, w - loaded);
            metrics.record(Op.LOAD, System.nanoTime() - t0);
            return loaded;
        }

        private void pin() {
            r.lock.lock();
            try {
                r.checkOpen();
                pinned = leadingReady(keys, w, s);
                for (int i = 0; i < pinned; i++) {
                    r.index.pin(s[i]); // all before any promotion's page: it must not evict this load's own blocks
                }
                for (int i = 0; i < pinned; i++) {
                    int e = s[i];
                    int tier = r.index.fastestTier(e);
                    if (tier == REMOTE && r.remoteSlotClaimed(r.index.location(e, REMOTE))) {
                        unpinFrom(i); // our own demoter is rewriting that slot: the load ends before it
                        break;
                    }
                    s[w + i] = tier;
                    s[2 * w + i] = r.index.location(e, tier);
                    s[3 * w + i] = tier != DRAM ? planPromotion(e) : -1;
                }
                touchDeepestFirst(s, pinned);
                if (pinned > 0) {
                    r.activePins += pinned;
                    r.inFlight++;
                }
            } finally {
                r.lock.unlock();
            }
        }

        /** Under the lock: unpins blocks {@code from..pinned}, which the load will not copy. */
        private void unpinFrom(int from) {
            for (int i = from; i < pinned; i++) {
                r.unpin(s[i]);
            }
            pinned = from;
        }

        /** Under the lock: a page to promote {@code e} into, or -1. */
        private int planPromotion(int e) {
            if ((r.index.flags(e) & Residency.PROMOTING) != 0) {
                return -1;
            }
            int page = r.allocatePage(e, true);
            if (page >= 0) {
                r.index.setFlags(e, r.index.flags(e) | Residency.PROMOTING);
                r.pagesInTransit++;
            }
            return page;
        }

        private void copyAll() {
            CompletableFuture<?>[] reads = submitReads();
            loaded = pinned;
            try {
                for (int i = 0; i < pinned; i++) {
                    if (s[w + i] == DRAM) {
                        copyFromDram(s[2 * w + i], i);
                    }
                }
            } finally {
                if (reads != null) {
                    awaitReads(reads);
                }
            }
        }

        /** Submits the reads of the blocks on devices; null when there are none. */
        private CompletableFuture<?>[] submitReads() {
            CompletableFuture<?>[] reads = null;
            for (int i = 0; i < pinned; i++) {
                if (s[w + i] != DRAM) {
                    reads = reads == null ? readFutures(pinned) : reads;
                    int block = i;
                    s[4 * w + i] = ReadStatus.IO_ERROR.ordinal();
                    reads[i] = engine(s[w + i]).submitRead(() -> {
                        s[4 * w + block] = readBlock(block).ordinal();
                        return blockBytes;
                    });
                }
            }
            return reads;
        }

        /** Waits for every read (a read still running may be writing into a page or buffer); sets loaded. */
        private void awaitReads(CompletableFuture<?>[] reads) {
            for (int i = 0; i < pinned; i++) {
                if (reads[i] == null) {
                    continue;
                }
                try {
                    reads[i].join();
                } catch (CompletionException e) {
                    s[4 * w + i] = ReadStatus.IO_ERROR.ordinal();
                }
                reads[i] = null;
                ReadStatus st = ReadStatus.values()[s[4 * w + i]];
                if (st != ReadStatus.OK && i < loaded) {
                    loaded = i;
                    failure = st;
                }
            }
        }

        /** On an I/O thread: reads and verifies block {@code i} into its promotion page or the caller's buffer. */
        private ReadStatus readBlock(int i) {
            SlotTier tier = s[w + i] == SSD ? r.ssd : r.remote.slots();
            int page = s[3 * w + i];
            ByteBuffer dst = page >= 0 ? r.dram.pageBuffer(page) : buffers != null ? buffers[i] : staging.get().clear();
            Namespace ns = keys[i].namespace();
            ReadStatus st = tier.read(s[2 * w + i], keys[i].hi(), keys[i].lo(), ns.rootHi(), ns.rootLo(), dst);
            if (st == ReadStatus.OK && page >= 0) {
                copyFromDram(page, i);
            } else if (st == ReadStatus.OK && buffers == null) {
                Memory.copy(dst, addresses[i]);
            }
            return st;
        }

        private void copyFromDram(int page, int i) {
            if (buffers != null) {
                r.dram.copyOut(page, buffers[i]);
            } else {
                r.dram.copyOut(page, addresses[i]);
            }
        }

        /**
         * Under the lock, whatever happened: counts, publishes the promoted copies of blocks
         * loaded (frees the other promotion pages), unpins, drops a block that failed its check.
         */
        private void finish(boolean completed) {
            if (pinned == 0) {
                return;
            }
            r.lock.lock();
            try {
                countLoaded();
                int promoted = 0;
                for (int i = 0; i < pinned; i++) {
                    promoted += settlePromotion(i, completed && i < loaded) ? 1 : 0;
                    r.unpin(s[i]);
                }
                metrics.add(Counter.PROMOTED_BLOCKS, promoted);
                if (failure != ReadStatus.OK) {
                    recordFailure(s[loaded], s[w + loaded], s[2 * w + loaded]);
                }
            } finally {
                r.activePins -= pinned;
                r.endCopy();
                r.lock.unlock();
            }
        }

        private void countLoaded() {
            for (int i = 0; i < loaded; i++) {
                metrics.add(Counter.LOADED_BLOCKS, s[w + i], 1);
                metrics.add(Counter.LOADED_BYTES, s[w + i], blockBytes);
            }
        }

        /** Publishes or frees block {@code i}'s promotion page; true when published. */
        private boolean settlePromotion(int i, boolean verified) {
            int page = s[3 * w + i];
            if (page < 0) {
                return false;
            }
            int e = s[i];
            r.index.setFlags(e, r.index.flags(e) & ~Residency.PROMOTING);
            r.pagesInTransit--;
            if (verified && r.index.isLive(e) && !r.index.hasCopy(e, DRAM)) {
                r.addCopy(e, DRAM, page);
                return true;
            }
            r.dram.free(page);
            return false;
        }

        /**
         * Counts a failed read; a block that failed its checks, or whose device has failed (so
         * that a store can put it back), is dropped with its descendants,
         * and a corrupt remote slot is queued for a wipe (if it is still corrupt when the demoter
         * reads it again) so that lookups do not find it again. A mismatched remote slot holds
         * another writer's block, or is being written.
         */
        private void recordFailure(int e, int tier, int slot) {
            Counter c = failure == ReadStatus.CORRUPT ? Counter.CORRUPT_BLOCKS
                    : failure == ReadStatus.MISMATCH ? Counter.MISMATCHED_BLOCKS : Counter.READ_ERRORS;
            metrics.add(c, tier, 1);
            if (failure == ReadStatus.CORRUPT && tier == REMOTE) {
                r.wipeRemote(e, slot, true);
            }
            if (failure != ReadStatus.IO_ERROR || engine(tier).device().failed()) {
                r.dropWithDescendants(e);
            }
        }
    }

    private IoEngine engine(int tier) {
        return tier == SSD ? ssdIo : remoteIo;
    }

    /** This thread's array of read futures, at least {@code n} long, all null. */
    private static CompletableFuture<?>[] readFutures(int n) {
        CompletableFuture<?>[] f = READS.get();
        if (f.length < n) {
            f = new CompletableFuture<?>[Math.max(n, 2 * f.length)];
            READS.set(f);
        }
        return f;
    }

    // ---- store

    @Override
    public int store(BlockKey[] keys, ByteBuffer[] src) {
        Args.requireNonNull(keys, "keys");
        return store(keys, 0, keys.length, src);
    }

    @Override
    public int store(BlockKey[] keys, int from, int count, ByteBuffer[] src) {
        Args.requireChain(keys, from, count, blockTokens);
        Args.requireBuffers(src, count, blockBytes, false);
        Args.requireFits(count, r.dram.pageCount());
        return storeBlocks(keys, from, count, src, null);
    }

    @Override
    public int store(BlockKey[] keys, int from, int count, long[] srcAddresses) {
        Args.requireChain(keys, from, count, blockTokens);
        Args.requireAddresses(srcAddresses, count);
        Args.requireFits(count, r.dram.pageCount());
        return storeBlocks(keys, from, count, null, srcAddresses);
    }

    private int storeBlocks(BlockKey[] keys, int from, int count, ByteBuffer[] buffers, long[] addresses) {
        long t0 = System.nanoTime();
        int[] slots = scratch(3 * count);
        int reserved = reserve(keys, from, count, slots);
        boolean copied = false;
        try {
            for (int j = 0; j < reserved; j++) {
                int page = slots[2 * count + j];
                int src = slots[count + j];
                if (buffers != null) {
                    r.dram.copyIn(buffers[src], page);
                } else {
                    r.dram.copyIn(addresses[src], page);
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
     * Under the lock: reserves an entry and a DRAM page for each new block of the chain, in
     * state WRITING. Entries go to {@code slots[0..n)}, their index in the call to
     * {@code slots[count..)}, their pages to {@code slots[2*count..)}. Stops at an orphan or
     * when no page can be freed.
     */
    private int reserve(BlockKey[] keys, int from, int count, int[] slots) {
        r.lock.lock();
        try {
            r.checkOpen();
            if (count == 0) {
                return 0;
            }
            Namespace ns = keys[from].namespace();
            int nsId = r.namespaceId(ns.rootHi(), ns.rootLo());
            int parent = keys[from].isFirst() ? NONE : r.index.find(keys[from].parentHi(), keys[from].parentLo());
            if (!keys[from].isFirst() && parent == NONE) {
                metrics.add(Counter.STORE_ORPHAN_BLOCKS, count);
                return 0;
            }
            int n = 0;
            double sample = -1;
            for (int i = from; i < from + count; i++) {
                BlockKey key = keys[i];
                int e = r.index.find(key.hi(), key.lo());
                if (e == NONE) {
                    sample = sample < 0 ? AdmissionPolicy.chainSample(key.hi(), key.lo()) : sample;
                    int victim = r.admission.wantsVictim() ? r.dramVictim(parent) : NONE;
                    if (!r.admission.admitNew(key.hi(), key.lo(), key.position(), sample, victim)) {
                        metrics.add(Counter.REJECTED_BLOCKS, DRAM, from + count - i);
                        break;
                    }
                    int page = r.allocatePage(parent, victim);
                    if (page < 0) {
                        metrics.add(Counter.STORE_NO_SPACE_BLOCKS, from + count - i);
                        break;
                    }
                    e = r.index.insert(key.hi(), key.lo(), parent, nsId, key.position());
                    r.setChainSample(e, sample);
                    r.addCopy(e, DRAM, page);
                    slots[n] = e;
                    slots[2 * count + n] = page;
                    slots[count + n++] = i - from;
                } else {
                    metrics.add(Counter.STORE_DUPLICATE_BLOCKS, 1);
                    if (r.index.state(e) == READY) {
                        r.touch(e);
                    }
                }
                parent = e;
            }
            if (n > 0) {
                r.inFlight++;
            }
            r.wakeDemoterIfNeeded();
            return n;
        } finally {
            r.lock.unlock();
        }
    }

    /** Under the lock: makes the reserved blocks readable, deepest first, or drops them all. */
    private void publish(int[] slots, int n, boolean copied) {
        if (n == 0) {
            return;
        }
        r.lock.lock();
        try {
            for (int j = n - 1; j >= 0; j--) {
                int e = slots[j];
                if (copied && r.index.state(e) == WRITING) {
                    r.publish(e);
                } else if (r.index.state(e) == WRITING) {
                    r.dropWithDescendants(e);
                }
                r.unpin(e);
            }
            r.endCopy();
            r.wakeDemoterIfNeeded();
        } finally {
            r.lock.unlock();
        }
    }

    // ---- acquire, invalidate, stats, close

    @Override
    public BlockHandle acquire(BlockKey key) {
        Args.requireKey(key, blockTokens);
        DramBlockHandle handle;
        r.lock.lock();
        try {
            r.checkOpen();
            int e = r.index.find(key.hi(), key.lo());
            if (e == NONE || r.index.state(e) != READY || !r.index.hasCopy(e, DRAM)) {
                return null;
            }
            int page = r.index.location(e, DRAM);
            handle = new DramBlockHandle(this, key, e, r.dram.address(page), r.dram.view(page));
            r.index.pin(e);
            r.activePins++;
            r.touch(e);
        } finally {
            r.lock.unlock();
        }
        metrics.add(Counter.ACQUIRES, 1);
        return handle;
    }

    /**
     * Called once per handle: on close, or when a handle is collected without close. A leaked
     * handle's views may still be in use somewhere, so its block leaves the index and its page
     * stays pinned for the life of the cache (quarantined) rather than being reused.
     */
    void releaseHandlePin(int entry, boolean leaked) {
        r.lock.lock();
        try {
            if (r.closed) {
                return;
            }
            r.activePins--;
            if (!leaked) {
                r.unpin(entry);
            } else {
                metrics.add(Counter.LEAKED_PINS, 1);
                if (r.index.isLive(entry)) {
                    r.retire(entry, false);
                }
            }
        } finally {
            r.lock.unlock();
        }
    }

    /** True once {@link #close()} has begun; handles refuse access from then on. */
    boolean isClosed() {
        r.lock.lock();
        try {
            return r.closed;
        } finally {
            r.lock.unlock();
        }
    }

    @Override
    public int invalidate(Namespace namespace) {
        Args.requireNonNull(namespace, "namespace");
        r.lock.lock();
        try {
            r.checkOpen();
            int id = r.existingNamespaceId(namespace.rootHi(), namespace.rootLo());
            int n = 0;
            for (int e = 0; id >= 0 && e < r.index.capacity(); e++) {
                if (r.index.isLive(e) && r.index.namespace(e) == id) {
                    if (r.index.hasCopy(e, REMOTE)) {
                        r.wipeRemote(e, r.index.location(e, REMOTE), false);
                    }
                    r.retire(e, true);
                    n++;
                }
            }
            metrics.add(Counter.INVALIDATED_BLOCKS, n);
            return n;
        } finally {
            r.lock.unlock();
        }
    }

    @Override
    public int flush(Duration timeout) {
        Args.requireNonNull(timeout, "timeout");
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("timeout must not be negative, was " + timeout);
        }
        checkOpen();
        return demoter == null ? 0 : demoter.flush(saturatedNanos(timeout));
    }

    static long saturatedNanos(Duration d) {
        return d.compareTo(Duration.ofDays(365)) > 0 ? Duration.ofDays(365).toNanos() : d.toNanos();
    }

    @Override
    public CacheStats stats() {
        long[] capacity = new long[CacheMetrics.TIERS];
        long[] resident;
        int pins;
        double[] shares = new double[CacheMetrics.TIERS];
        r.lock.lock();
        try {
            resident = r.residentBlocks();
            pins = r.activePins;
            for (int t = 0; t < shares.length; t++) {
                shares[t] = r.admission.admitShare(t);
            }
        } finally {
            r.lock.unlock();
        }
        capacity[DRAM] = r.dram.pageCount();
        capacity[SSD] = r.ssd == null ? 0 : r.ssd.slotCount();
        capacity[REMOTE] = r.remote == null ? 0 : r.remote.slots().slotCount();
        return new CacheStats(metrics, resident, capacity, pins, recoveryMillis, new IoEngine[] {null, ssdIo, remoteIo}, shares);
    }

    @Override
    public void awaitIdle() {
        checkOpen();
        if (demoter != null) {
            demoter.awaitIdle();
        }
    }

    @Override
    public void close() {
        r.lock.lock();
        try {
            if (r.closed) {
                return;
            }
            r.closed = true;
            while (r.inFlight > 0) {
                r.idle.awaitUninterruptibly();
            }
        } finally {
            r.lock.unlock();
        }
        if (demoter != null) {
            if (closeFlushNanos > 0) {
                demoter.flush(closeFlushNanos);
            }
            demoter.stop();
        }
        closeEngines();
        if (r.activePins > 0) {
            LOG.warn("kvtier cache closed with {} block handle(s) still open; their memory is freed "
                    + "now and must not be read", r.activePins);
        }
        closeQuietly(r.dram, r.ssd, r.remote);
    }

    private void checkOpen() {
        r.lock.lock();
        try {
            r.checkOpen();
        } finally {
            r.lock.unlock();
        }
    }

    /** True once all off-heap memory has been returned. For tests. */
    boolean offHeapReleased() {
        return r.dram.isReleased();
    }

    /** Checks the residency invariants under the lock. For tests. */
    void checkInvariants() {
        r.lock.lock();
        try {
            if (!r.closed) {
                r.checkInvariants();
            }
        } finally {
            r.lock.unlock();
        }
    }

    private void touchDeepestFirst(int[] entries, int n) {
        for (int i = n - 1; i >= 0; i--) {
            r.touch(entries[i]);
        }
    }

    /** This thread's scratch array, at least {@code n} long. */
    private static int[] scratch(int n) {
        int[] s = SCRATCH.get();
        if (s.length < n) {
            s = new int[Math.max(n, 2 * s.length)];
            SCRATCH.set(s);
        }
        return s;
    }
}
