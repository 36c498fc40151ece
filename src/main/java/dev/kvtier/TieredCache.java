package dev.kvtier;

import static dev.kvtier.BlockTable.DRAM;
import static dev.kvtier.BlockTable.REMOTE;
import static dev.kvtier.BlockTable.SSD;

import dev.kvtier.codec.Codecs;
import dev.kvtier.codec.Lz4Codec;
import dev.kvtier.device.BlockDevice;
import dev.kvtier.device.BufferedFileDevice;
import dev.kvtier.device.DirectFileDevice;
import dev.kvtier.device.NbdDevice;
import dev.kvtier.events.JfrEvents;
import dev.kvtier.format.InvalidationTable;
import dev.kvtier.io.IoEngine;
import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import dev.kvtier.metrics.CacheMetrics;
import dev.kvtier.metrics.CacheMetrics.Counter;
import dev.kvtier.metrics.CacheMetrics.Op;
import dev.kvtier.metrics.CacheObserver.Outcome;
import dev.kvtier.tier.DramTier;
import dev.kvtier.tier.IncompatibleDeviceException;
import dev.kvtier.tier.SharedSlotTier;
import dev.kvtier.tier.SlotTier;
import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cache engine behind {@link KvTierCache}: the public operations, their argument checks
 * and their copies. Where blocks are is {@link BlockTable}'s business; moving them down is the
 * {@link Demoter}'s.
 *
 * <p><b>Concurrency.</b> Block state belongs to {@link BlockTable}, whose transitions take its
 * lock, never for a copy or device I/O. A store reserves each new key in state WRITING with a
 * DRAM page, copies, then publishes it READY; a load ({@link Load}) pins its blocks, copies or
 * reads and verifies them, and settles when its reads are done. So no reader sees a half-written
 * block and no page or slot is recycled under a reader. {@code close()} waits for copies and
 * loads in progress and the demoter before freeing memory and closing the devices.
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
    /** The result of a store whose caller did not ask for one. */
    private static final ThreadLocal<StoreResult> SCRATCH_RESULT = ThreadLocal.withInitial(StoreResult::new);
    /** Requests in flight on the SSD, and per connection on the remote device. */
    private static final int SSD_DEPTH = 4;
    private static final int REMOTE_DEPTH_PER_CONNECTION = 4;
    /** Capacity of each I/O queue (reads; background writes). */
    private static final int QUEUE = 4096;
    private static final long SSD_TIMEOUT_MS = 30_000;
    /** How often the remote device's invalidation table is read: the bound on another server's invalidation reaching this one. */
    static final long REMOTE_INVALIDATION_REFRESH_MS = 1_000;

    private final CacheConfig config;
    private final int blockTokens;
    private final int blockBytes;
    private final CacheMetrics metrics = new CacheMetrics();
    private final BlockTable r;
    private final Demoter demoter;
    private final RemoteLookup lookup;
    /** Promotes blocks loaded from a page-cached tier after their load, or null when no tier is one. */
    private final Promoter promoter;
    private final long recoveryMillis;
    private final long closeFlushNanos;
    private final long storeWaitNanos;
    /** A refresh of the remote invalidation table is under way. */
    private final java.util.concurrent.atomic.AtomicBoolean refreshing = new java.util.concurrent.atomic.AtomicBoolean();
    /** Deadlines of loads; one daemon thread per cache. */
    private final ScheduledExecutorService timer;
    private final Load.Paths loads;

    TieredCache(CacheConfig config) {
        this.config = config;
        this.blockTokens = config.blockTokens();
        this.blockBytes = config.blockBytes();
        this.closeFlushNanos = config.closeFlushNanos();
        this.storeWaitNanos = config.storeWaitNanos();
        JfrEvents.attach(metrics.observers());
        DramTier dram = new DramTier(config.dramCapacityBytes(), blockBytes);
        List<DeviceTier> devices = new ArrayList<>();
        Tier opening = Tier.SSD; // whose device the step under way reads: named by the exception if it fails
        try {
            if (config.hasSsd()) {
                devices.add(openSsd(config));
            }
            opening = Tier.REMOTE;
            if (config.hasRemote()) {
                devices.add(openRemote(config));
            }
            this.r = new BlockTable(dram, devices.toArray(new DeviceTier[0]), metrics, config.demoteAhead(),
                    config.policy());
            opening = Tier.SSD;
            this.recoveryMillis = r.ssd == null ? 0 : SsdRecovery.recover(r);
            opening = Tier.REMOTE;
            if (r.remote != null) {
                recordOnSsd(r.applyRemoteInvalidations(r.remote.readInvalidations()));
            }
        } catch (IOException e) {
            closeQuietly(dram, devices);
            String message = "KvTierCache: " + e.getMessage();
            throw e instanceof IncompatibleDeviceException ? new DeviceIncompatibleException(opening, message, e)
                    : new DeviceUnavailableException(opening, message, e);
        } catch (RuntimeException | Error e) {
            closeQuietly(dram, devices);
            throw e;
        }
        this.lookup = r.remote == null ? null : new RemoteLookup(r, config.remote().recheckMillis(),
                config.remote().lookupBudgetMillis());
        this.timer = Executors.newSingleThreadScheduledExecutor(task -> {
            Thread t = new Thread(task, "kvtier-load-deadlines");
            t.setDaemon(true);
            return t;
        });
        this.promoter = devices.stream().anyMatch(DeviceTier::readsAreMemoryCopies) ? new Promoter(r) : null;
        this.loads = new Load.Paths(r, promoter, metrics, blockBytes, config.loadCompletions(), timer,
                new ConcurrentLinkedQueue<>(), new ConcurrentLinkedQueue<>());
        this.demoter = devices.isEmpty() ? null : new Demoter(r);
        if (lookup != null) {
            demoter.every(REMOTE_INVALIDATION_REFRESH_MS, this::refreshRemoteInvalidations);
        }
        if (demoter != null) {
            try {
                demoter.start();
            } catch (RuntimeException | Error e) {
                timer.shutdownNow();
                closeQuietly(dram, devices);
                throw e;
            }
        }
        logOpened();
    }

    /**
     * Opens every export of the remote tier; a failure closes those opened and is thrown. With
     * ways unset, the exports' superblocks are read before any is formatted (see {@link #waysOf}).
     */
    private static DeviceTier openRemote(CacheConfig c) throws IOException {
        CacheConfig.Remote rc = c.remote();
        List<BlockDevice> devices = new ArrayList<>();
        List<DeviceTier.Shard> shards = new ArrayList<>();
        try {
            for (URI uri : rc.uris()) {
                devices.add("file".equals(uri.getScheme()) ? DirectFileDevice.openShared(Path.of(uri), rc.capacityBytes())
                        : NbdDevice.open(uri, rc.capacityBytes(), rc.connections(), rc.timeoutMillis(), rc.tls()));
            }
            int ways = rc.ways() != 0 ? rc.ways() : waysOf(devices);
            for (int k = 0; k < devices.size(); k++) {
                DeviceTier.Shard s = openShard(c, rc.uris().get(k), devices.get(k), ways);
                shards.add(s);
                for (DeviceTier.Shard other : shards) {
                    if (other != s && other.slots().layout().creationId() == s.slots().layout().creationId()) {
                        throw new IOException(s.slots().device().describe() + " and " + other.slots().device().describe()
                                + " are the same device (one creation id); list each export once");
                    }
                }
            }
            return DeviceTier.shared(Tier.REMOTE, shards);
        } catch (IOException | RuntimeException e) {
            for (DeviceTier.Shard s : shards) {
                s.io().close();
            }
            for (BlockDevice d : devices) {
                d.close();
            }
            throw e;
        }
    }

    /**
     * With ways unset: the ways the formatted exports were formatted with, or
     * {@link RemoteTier#DEFAULT_WAYS} when every export is blank; exports formatted with
     * different ways are refused, before any blank one is formatted.
     */
    private static int waysOf(List<BlockDevice> devices) throws IOException {
        int ways = 0;
        BlockDevice first = null;
        for (BlockDevice d : devices) {
            int w = SlotTier.formattedWays(d);
            if (w != 0 && ways != 0 && w != ways) {
                throw new IncompatibleDeviceException(d.describe() + " is placed in sets of " + w + " and "
                        + first.describe() + " in sets of " + ways + "; the exports of one remote tier must have the same ways");
            }
            if (w != 0 && ways == 0) {
                ways = w;
                first = d;
            }
        }
        return ways == 0 ? RemoteTier.DEFAULT_WAYS : ways;
    }

    /**
     * Opens the slot tier of one device of the remote tier (an NBD export, or a {@code file:}
     * URI: a file or block device shared by several hosts, opened with O_DIRECT), formatting it
     * with {@code ways} if blank.
     */
    private static DeviceTier.Shard openShard(CacheConfig c, URI uri, BlockDevice device, int ways) throws IOException {
        CacheConfig.Remote rc = c.remote();
        String address = "file".equals(uri.getScheme()) ? "file:" + Path.of(uri).toRealPath()
                : ((NbdDevice) device).address();
        SlotTier slots = SlotTier.open(device, c.blockTokens(), c.blockBytes(), codec(rc.compression()),
                c.reinitializeDevices(), ways, rc.seal());
        logFormatted(Tier.REMOTE, slots);
        if (slots.slotCount() < ways) {
            throw new IOException(device.describe() + " holds " + slots.slotCount() + " slots, fewer than one set of " + ways);
        }
        return new DeviceTier.Shard(slots, new SharedSlotTier(slots, ways), new IoEngine(device,
                REMOTE_DEPTH_PER_CONNECTION * rc.connections(), QUEUE, QUEUE, rc.timeoutMillis()),
                DeviceTier.Shard.identityOf(address));
    }

    private static DeviceTier openSsd(CacheConfig c) throws IOException {
        boolean resize = c.reinitializeDevices();
        BlockDevice device = c.ssdDirectIo()
                ? DirectFileDevice.open(c.ssdPath(), c.ssdCapacityBytes(), resize)
                : BufferedFileDevice.open(c.ssdPath(), c.ssdCapacityBytes(), resize);
        try {
            SlotTier slots = SlotTier.open(device, c.blockTokens(), c.blockBytes(), codec(c.ssdCompression()),
                    c.reinitializeDevices());
            logFormatted(Tier.SSD, slots);
            return DeviceTier.local(Tier.SSD, slots, new IoEngine(device, SSD_DEPTH, QUEUE, QUEUE, SSD_TIMEOUT_MS));
        } catch (IOException | RuntimeException e) {
            device.close();
            throw e;
        }
    }

    private static void logFormatted(Tier tier, SlotTier slots) {
        if (slots.formatted()) {
            LOG.info("kvtier: formatted {} for the {} tier: {} slots", slots.device().describe(), tier,
                    slots.slotCount());
        }
    }

    /** The open cache's tiers, in one line. */
    private void logOpened() {
        StringBuilder tiers = new StringBuilder();
        for (DeviceTier d : r.devices()) {
            tiers.append(", ").append(d).append(": ").append(d.slotCount()).append(" slots");
        }
        LOG.info("kvtier: opened with {} blocks of {} bytes in DRAM{}", r.dram.pageCount(), blockBytes, tiers);
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

    /** Closes each device tier (its I/O engine, then its device), then DRAM. */
    private static void closeQuietly(DramTier dram, List<DeviceTier> devices) {
        for (DeviceTier d : devices) {
            try {
                d.close();
            } catch (IOException | RuntimeException e) {
                LOG.warn("kvtier: closing {} failed", d, e);
            }
        }
        dram.close();
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
        into.reset(keys);
        int hits = r.matchPrefix(keys, into, scratch(keys.length));
        long nanos = System.nanoTime() - t0;
        metrics.add(Counter.MATCH_CALLS, 1);
        metrics.add(Counter.LOOKUP_BLOCKS, keys.length);
        metrics.add(Counter.MISS_BLOCKS, keys.length - hits);
        metrics.record(Op.MATCH, nanos);
        metrics.observers().match(keys.length, hits, nanos);
        return into;
    }

    // ---- load

    @Override
    public CompletableFuture<Integer> load(PrefixMatch match, ByteBuffer[] dst) {
        return load(match, dst, null, null);
    }

    @Override
    public CompletableFuture<Integer> load(PrefixMatch match, ByteBuffer[] dst, LoadListener listener, Duration deadline) {
        Args.requireNonNull(match, "match");
        Args.requireBuffers(dst, 0, match.hitBlocks(), blockBytes, true);
        return Load.start(loads, match, dst, null, null, 0, listener, deadlineNanos(deadline));
    }

    @Override
    public CompletableFuture<Integer> load(PrefixMatch match, long[] dstAddresses) {
        return load(match, dstAddresses, null, null);
    }

    @Override
    public CompletableFuture<Integer> load(PrefixMatch match, long[] dstAddresses, LoadListener listener,
            Duration deadline) {
        Args.requireNonNull(match, "match");
        Args.requireAddresses(dstAddresses, 0, match.hitBlocks());
        return Load.start(loads, match, null, dstAddresses, null, 0, listener, deadlineNanos(deadline));
    }

    @Override
    public CompletableFuture<Integer> load(PrefixMatch match, int segmentBytes, BlockSegments dst, LoadListener listener,
            Duration deadline) {
        Args.requireNonNull(match, "match");
        Args.requireSegments(dst, segmentBytes, 0, match.hitBlocks(), blockBytes);
        return Load.start(loads, match, null, null, dst, segmentBytes, listener, deadlineNanos(deadline));
    }

    /** A deadline as nanoseconds from now, 0 for none; a negative one is bad input. */
    private static long deadlineNanos(Duration deadline) {
        if (deadline == null) {
            return 0;
        }
        if (deadline.isNegative()) {
            throw new IllegalArgumentException("deadline must not be negative, was " + deadline);
        }
        return Math.max(1, saturatedNanos(deadline));
    }

    // ---- store

    @Override
    public int store(BlockKey[] keys, ByteBuffer[] src) {
        Args.requireNonNull(keys, "keys");
        return store(keys, src, 0, keys.length);
    }

    @Override
    public int store(BlockKey[] keys, ByteBuffer[] src, int from, int count) {
        return store(keys, src, from, count, SCRATCH_RESULT.get());
    }

    @Override
    public int store(BlockKey[] keys, ByteBuffer[] src, int from, int count, StoreResult result) {
        Args.requireChain(keys, from, count, blockTokens);
        Args.requireBuffers(src, from, count, blockBytes, false);
        Args.requireNonNull(result, "result");
        return storeStreaming(keys, from, count, src, null, null, 0, result);
    }

    @Override
    public int store(BlockKey[] keys, long[] srcAddresses) {
        Args.requireNonNull(keys, "keys");
        return store(keys, srcAddresses, 0, keys.length);
    }

    @Override
    public int store(BlockKey[] keys, long[] srcAddresses, int from, int count) {
        return store(keys, srcAddresses, from, count, SCRATCH_RESULT.get());
    }

    @Override
    public int store(BlockKey[] keys, long[] srcAddresses, int from, int count, StoreResult result) {
        Args.requireChain(keys, from, count, blockTokens);
        Args.requireAddresses(srcAddresses, from, count);
        Args.requireNonNull(result, "result");
        return storeStreaming(keys, from, count, null, srcAddresses, null, 0, result);
    }

    @Override
    public int store(BlockKey[] keys, int segmentBytes, BlockSegments src, int from, int count) {
        return store(keys, segmentBytes, src, from, count, SCRATCH_RESULT.get());
    }

    @Override
    public int store(BlockKey[] keys, int segmentBytes, BlockSegments src, int from, int count, StoreResult result) {
        Args.requireChain(keys, from, count, blockTokens);
        Args.requireSegments(src, segmentBytes, from, count, blockBytes);
        Args.requireNonNull(result, "result");
        return storeStreaming(keys, from, count, null, null, src, segmentBytes, result);
    }

    /**
     * A store of at most DRAM's blocks is one step; a longer one (a long prompt beside a small
     * DRAM) streams through in pieces of half of DRAM, each waiting (back-pressure) for the blocks
     * before it to be written down, when there is a tier below and {@code storeWaitMillis} is
     * set; otherwise it is refused. Stops at the first piece that could not be stored whole; the
     * pieces after it are counted under the reason that stopped it. Fills {@code result}.
     */
    private int storeStreaming(BlockKey[] keys, int from, int count, ByteBuffer[] buffers, long[] addresses,
            BlockSegments segments, int segmentBytes, StoreResult result) {
        int pages = r.dram.pageCount();
        long waitUntil = storeWaitNanos == 0 ? 0 : System.nanoTime() + storeWaitNanos; // one budget for the whole store
        if (count > pages && (demoter == null || storeWaitNanos == 0)) {
            Args.requireFits(count, pages);
        }
        result.reset(count);
        int piece = count <= pages ? count : Math.max(1, pages / 2);
        for (int o = 0; o < count; o += piece) {
            int n = Math.min(piece, count - o);
            int[] slots = scratch(3 * n + 3);
            result.add(storeBlocks(keys, from + o, n, buffers, addresses, segments, segmentBytes, slots, waitUntil),
                    slots[3 * n + 1]);
            int reason = slots[3 * n + 2];
            if (reason != StoreResult.REACHED_END) {
                result.notStored(reason, n - slots[3 * n]);
                notReached(reason, count - o - n, result);
                break;
            }
            if (slots[3 * n] < n) {
                break; // closed while waiting
            }
        }
        return result.stored();
    }

    /** The pieces of a streaming store after the one that stopped: counted under its reason, in stats too. */
    private void notReached(int reason, int blocks, StoreResult result) {
        if (blocks == 0) {
            return;
        }
        result.notStored(reason, blocks);
        switch (reason) {
            case StoreResult.PARENT_MISSING -> metrics.add(Counter.STORE_ORPHAN_BLOCKS, blocks);
            case StoreResult.REFUSED -> metrics.add(Counter.REJECTED_BLOCKS, DRAM, blocks);
            default -> metrics.add(Counter.STORE_NO_SPACE_BLOCKS, blocks);
        }
    }

    /**
     * Stores {@code keys[from, from+count)}, block {@code i} from source {@code i}; {@code slots}
     * (at least {@code 3*count+3} ints) is filled as {@link BlockTable#reserveStore} describes.
     */
    private int storeBlocks(BlockKey[] keys, int from, int count, ByteBuffer[] buffers, long[] addresses,
            BlockSegments segments, int segmentBytes, int[] slots, long waitUntil) {
        long t0 = System.nanoTime();
        int reserved = r.reserveStore(keys, from, count, slots, waitUntil);
        boolean copied = false;
        try {
            for (int j = 0; j < reserved; j++) {
                int page = slots[2 * count + j];
                int src = from + slots[count + j];
                if (buffers != null) {
                    r.dram.copyIn(buffers[src], page);
                } else if (segments != null) {
                    Segments.gather(segments, src, r.dram.address(page), segmentBytes, blockBytes);
                } else {
                    r.dram.copyIn(addresses[src], page);
                }
            }
            copied = true;
        } finally {
            r.publishStore(slots, reserved, copied);
        }
        long nanos = System.nanoTime() - t0;
        metrics.add(Counter.STORE_CALLS, 1);
        metrics.add(Counter.STORED_BLOCKS, DRAM, reserved);
        metrics.add(Counter.STORED_BYTES, DRAM, (long) reserved * blockBytes);
        metrics.record(Op.STORE, nanos);
        metrics.observers().store(count, reserved, (long) reserved * blockBytes, nanos);
        return reserved;
    }

    // ---- acquire, invalidate, stats, close

    @Override
    public BlockHandle acquire(BlockKey key) {
        Args.requireKey(key, blockTokens);
        int[] entry = new int[1];
        int page = r.pinDramForHandle(key, entry);
        if (page < 0) {
            return null;
        }
        DramBlockHandle handle = new DramBlockHandle(this, key, entry[0], r.dram.address(page), r.dram.view(page));
        metrics.add(Counter.ACQUIRES, 1);
        return handle;
    }

    /** Called once per handle: on close, or when a handle is collected without close (see {@link BlockTable#releaseHandle}). */
    void releaseHandlePin(int entry, boolean leaked) {
        r.releaseHandle(entry, leaked);
    }

    /** True once {@link #close()} has begun; handles refuse access from then on. */
    boolean isClosed() {
        return r.isClosed();
    }

    @Override
    public int invalidate(Namespace namespace) {
        Args.requireNonNull(namespace, "namespace");
        long hi = namespace.rootHi();
        long lo = namespace.rootLo();
        int n = r.invalidateNamespace(hi, lo);
        if (demoter != null) {
            demoter.awaitWritesInFlight(); // a write of a block just retired gets an epoch below the record's
        }
        long remoteEpoch = 0;
        if (r.remote != null) {
            remoteEpoch = r.remote.nextEpoch();
            try {
                lookup.recordInvalidation(hi, lo, remoteEpoch);
            } catch (IOException e) {
                deviceWriteFailed(REMOTE, "recording an invalidation", e);
            }
        }
        if (r.ssd != null) {
            recordOnSsd(List.<long[]>of(new long[] {hi, lo}));
        }
        r.invalidationRecorded(hi, lo, remoteEpoch);
        return n;
    }

    /** Records on the SSD that each namespace of {@code namespaces} is invalid up to now ((0, 0): every one). */
    private void recordOnSsd(List<long[]> namespaces) {
        for (long[] ns : namespaces) {
            if (r.ssd == null) {
                return;
            }
            try {
                r.ssd.recordInvalidation(ns[0], ns[1], r.ssd.nextEpoch());
            } catch (IOException e) {
                deviceWriteFailed(SSD, "recording an invalidation", e);
            }
        }
    }

    /**
     * Every second, from the demoter thread: applies other servers' invalidations from the remote
     * device, on the remote device's I/O engine (a slow device must not stall the demoter), one
     * refresh at a time.
     */
    private void refreshRemoteInvalidations() {
        if (!refreshing.compareAndSet(false, true)) {
            return;
        }
        r.remote.anyIo().submitRead(() -> {
            reattachChangedShards();
            recordOnSsd(lookup.refreshInvalidations());
            return InvalidationTable.BYTES;
        }).whenComplete((v, e) -> {
            refreshing.set(false);
            if (e != null) {
                metrics.add(Counter.READ_ERRORS, REMOTE, 1);
                r.errors.report(REMOTE, r.remote.describe(), "reading the invalidation table", Outcome.IO_ERROR,
                        e.toString());
            }
        });
    }

    /**
     * Reads each remote device's superblock: one whose server restarted blank, or which another
     * server formatted anew, is opened again (formatted if blank, racing other servers as a
     * first attach does, or the new format adopted if it has the same geometry and ways: a
     * format with other ways is refused and reported at every check) and put in place; this
     * process forgets what it believed was there. Devices that cannot be read are left to fail
     * their requests.
     */
    private void reattachChangedShards() {
        List<DeviceTier.Shard> shards = r.remote.shards();
        for (int k = 0; k < shards.size(); k++) {
            SlotTier slots = shards.get(k).slots();
            try {
                if (slots.superblockChanged()) {
                    CacheConfig.Remote rc = config.remote();
                    SlotTier fresh = SlotTier.open(slots.device(), blockTokens, blockBytes, codec(rc.compression()),
                            false, slots.layout().ways(), rc.seal()); // its sets must stay as they are
                    r.remote.reattach(k, fresh);
                    int forgotten = r.forgetRemoteSlots(r.remote.base(k), r.remote.base(k + 1));
                    LOG.warn("kvtier: {} came back {} (its server restarted blank, or another server formatted it); "
                            + "re-attached, {} blocks believed there forgotten", slots.device().describe(),
                            fresh.formatted() ? "blank and was formatted" : "formatted anew", forgotten);
                }
            } catch (IOException | RuntimeException e) {
                r.errors.report(REMOTE, slots.device().describe(), "checking the superblock", Outcome.IO_ERROR,
                        e.toString());
            }
        }
    }

    private void deviceWriteFailed(int tier, String what, IOException e) {
        metrics.add(Counter.WRITE_ERRORS, tier, 1);
        metrics.observers().deviceError(tier, r.device(tier).describe(), what, Outcome.IO_ERROR, e.toString());
        LOG.error("kvtier: {} on {} failed; this process no longer serves those blocks, but after a restart "
                + "(or on other servers) they may come back: {}", what, Tier.of(tier), e.toString());
    }

    @Override
    public int flush(Duration timeout) {
        Args.requireNonNull(timeout, "timeout");
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("timeout must not be negative, was " + timeout);
        }
        r.requireOpen();
        return demoter == null ? 0 : demoter.flush(saturatedNanos(timeout));
    }

    static long saturatedNanos(Duration d) {
        return d.compareTo(Duration.ofDays(365)) > 0 ? Duration.ofDays(365).toNanos() : d.toNanos();
    }

    @Override
    public CacheStats stats() {
        long[] capacity = new long[CacheMetrics.TIERS];
        List<List<IoEngine>> io = new ArrayList<>(java.util.Collections.nCopies(CacheMetrics.TIERS, List.of()));
        BlockTable.Gauges g = r.gauges();
        capacity[DRAM] = r.dram.pageCount();
        for (DeviceTier d : r.devices()) {
            capacity[d.id()] = d.slotCount();
            io.set(d.id(), engines(d.id()));
        }
        return new CacheStats(metrics, g.resident(), capacity, g.pins(), recoveryMillis, io, g.admitShares());
    }

    /** The I/O engines of {@code tier}'s devices; none for DRAM and absent tiers. */
    List<IoEngine> engines(int tier) {
        DeviceTier d = tier == DRAM ? null : r.device(tier);
        return d == null ? List.of() : d.shards().stream().map(DeviceTier.Shard::io).toList();
    }

    /** The live counters and observers, for exporters ({@link KvTierMetrics}). */
    CacheMetrics metrics() {
        return metrics;
    }

    /** Blocks resident per tier and active pins, now. */
    BlockTable.Gauges gauges() {
        return r.gauges();
    }

    @Override
    public void awaitIdle() {
        r.requireOpen();
        if (promoter != null) {
            promoter.awaitIdle();
        }
        if (demoter != null) {
            demoter.awaitIdle();
        }
    }

    @Override
    public void close() {
        if (!r.beginClose()) {
            return;
        }
        if (demoter != null) {
            if (closeFlushNanos > 0) {
                demoter.flush(closeFlushNanos);
            }
            demoter.stop();
        }
        timer.shutdownNow();
        int pins = r.gauges().pins();
        if (pins > 0) {
            LOG.warn("kvtier cache closed with {} block handle(s) still open; their memory is freed "
                    + "now and must not be read", pins);
        }
        closeQuietly(r.dram, List.of(r.devices()));
        LOG.info("kvtier: closed");
    }

    /** True once all off-heap memory has been returned. For tests. */
    boolean offHeapReleased() {
        return r.dram.isReleased();
    }

    /** Checks the block table's invariants. For tests. */
    void checkInvariants() {
        r.checkInvariants();
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
