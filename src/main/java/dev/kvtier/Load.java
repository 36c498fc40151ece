package dev.kvtier;

import static dev.kvtier.BlockTable.DRAM;

import dev.kvtier.io.IoEngine;
import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import dev.kvtier.metrics.CacheMetrics;
import dev.kvtier.metrics.CacheMetrics.Counter;
import dev.kvtier.metrics.CacheMetrics.Op;
import dev.kvtier.metrics.CacheObserver.Outcome;
import dev.kvtier.tier.DramTier;
import dev.kvtier.tier.Memory;
import dev.kvtier.tier.SlotTier;
import dev.kvtier.tier.SlotTier.ReadStatus;
import java.nio.ByteBuffer;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import net.openhft.chronicle.core.Jvm;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One asynchronous load ({@link KvTierCache#load}), reused through a pool.
 *
 * <p><b>Steps.</b> {@link BlockTable#pinForLoad} pins the leading blocks (and plans promotion
 * pages); the reads of blocks on devices are submitted to their {@link IoEngine}s at once, in
 * parallel; then, on the caller's thread, DRAM blocks are copied in order, and a single block
 * of a file in the page cache (a get) is read, verified and copied there, with no hand-off. A
 * device read lands in the block's promotion page, or, with a deadline, in a staging buffer of
 * the cache, and is copied into the caller's buffer only while the load is open; without a
 * deadline it lands in the caller's buffer itself (so after a cancel, reads already issued may
 * still write there until they finish).
 *
 * <p><b>States.</b> OPEN: blocks are delivered as they arrive; the leading run of delivered
 * blocks grows and the listener hears of it, in order (see below). DONE: the leading run is final (every
 * leading block arrived, one failed its read or check, the deadline passed, or the caller
 * cancelled); nothing more is written into the caller's buffers. SETTLED: every read issued has
 * finished, so {@link BlockTable#settleLoad} publishes promotions, unpins, and drops a block that
 * failed its check; the load returns to the pool. The future completes when the load settles
 * (so its pins are gone by then), or at its deadline, whichever is first. A load served entirely
 * from DRAM or a mapped device completes before {@code load} returns.
 *
 * <p><b>Outside the monitor.</b> The listener's calls and the future's completion are decided
 * under the monitor and made after it is released, by one thread at a time, the <i>drainer</i>
 * ({@link #drain}): whichever thread finds no other draining takes the role, tells the listener
 * the latest length of the leading run it has not heard yet (growth that came while it was
 * telling is coalesced), and when the listener is up to date completes the future that
 * {@link #complete} decided on. Threads that change the state while another drains leave the
 * rest to it. So the listener hears increasing lengths, never two calls at once, may call the
 * cache or block briefly (the I/O threads of the load's other reads still deliver meanwhile),
 * and never hears of a load whose future completed: the future completes only once the listener
 * has heard the final length, and a future the caller completed (a cancel) stops the calls.
 * The load returns to the pool when it is settled and nothing is left to drain.
 *
 * <p>The fields below {@code monitor} are guarded by it; I/O threads, the deadline timer, a
 * cancelling caller and the loading thread all meet there.
 */
final class Load {
    private static final Logger LOG = LoggerFactory.getLogger(Load.class);
    /** What the loads of one cache share. */
    record Paths(BlockTable table, Promoter promoter, CacheMetrics metrics, int blockBytes, Executor completions,
            ScheduledExecutorService timer, Queue<ByteBuffer> staging, Queue<Load> pool) {
    }

    private static final int PENDING = -1;

    private final Paths p;
    private final Object monitor = new Object();
    private BlockKey[] keys;
    private ByteBuffer[] buffers;
    private long[] addresses;
    /** Or the caller's segments, of {@code segmentBytes} each. */
    private BlockSegments segments;
    private int segmentBytes;
    private LoadListener listener;
    private int w;
    /** {@link BlockTable#pinForLoad}'s layout, then read outcomes ({@link ReadStatus} ordinals, or PENDING) at {@code [4w, 5w)}. */
    private int[] s = new int[0];
    /** Per block: the staging buffer its device read lands in, or null. */
    private ByteBuffer[] stage = new ByteBuffer[0];
    /** Per block: its device read, reused by later runs (an engine is done with it once it reported). */
    private BlockRead[] reads = new BlockRead[0];
    /** Per block: key hi, key lo, namespace hi, namespace lo, copied at the start (the caller may reuse its keys). */
    private long[] keyWords = new long[0];
    /** Which run of this pooled object the I/O callbacks belong to; a late callback of an earlier one is ignored. */
    private int runId;
    private int pinned;
    /** The tier whose one block this load reads on the loading thread (a memory copy, see {@link #onCaller}), or -1. */
    private int tierOnCaller;
    /** Device reads land in the caller's buffers themselves (no deadline, buffers given): no staging copy. */
    private boolean direct;
    private int pending;
    private int delivered;
    private int limit;
    private int failedAt;
    private ReadStatus failure;
    private boolean open;
    /** A completion decided under the monitor, to fire once it is released (see {@link #fire}). */
    private CompletableFuture<Integer> toComplete;
    private int completeWith;
    /** The future was completed (or cancelled). */
    private boolean completed;
    private boolean settled;
    /** The length of the leading run the listener was last told of (it hears only growth). */
    private int told;
    /** A thread is telling the listener or completing the future ({@link #drain}). */
    private boolean draining;
    /** Returned to the pool; this run's fields are no longer this run's. */
    private boolean pooled;
    private long t0;
    private CompletableFuture<Integer> future;
    private ScheduledFuture<?> deadline;

    private Load(Paths paths) {
        this.p = paths;
    }

    /** Starts a load of {@code match} into buffers, addresses or segments (one of them); returns its future. */
    static CompletableFuture<Integer> start(Paths paths, PrefixMatch match, ByteBuffer[] buffers, long[] addresses,
            BlockSegments segments, int segmentBytes, LoadListener listener, long deadlineNanos) {
        Load l = paths.pool().poll();
        if (l == null) {
            l = new Load(paths);
        }
        return l.run(match, buffers, addresses, segments, segmentBytes, listener, deadlineNanos);
    }

    private CompletableFuture<Integer> run(PrefixMatch match, ByteBuffer[] dst, long[] dstAddresses,
            BlockSegments dstSegments, int dstSegmentBytes, LoadListener l, long deadlineNanos) {
        CompletableFuture<Integer> f = new CompletableFuture<>();
        synchronized (monitor) {
            t0 = System.nanoTime();
            keys = match.keys();
            buffers = dst;
            addresses = dstAddresses;
            segments = dstSegments;
            segmentBytes = dstSegmentBytes;
            listener = l;
            w = match.hitBlocks();
            if (s.length < 5 * w) {
                s = new int[Math.max(5 * w, 2 * s.length)];
                stage = new ByteBuffer[Math.max(w, 2 * stage.length)];
            }
            if (reads.length < w) {
                int from = reads.length;
                reads = java.util.Arrays.copyOf(reads, Math.max(w, 2 * reads.length));
                for (int i = from; i < reads.length; i++) {
                    reads[i] = new BlockRead(i);
                }
            }
            if (keyWords.length < 4 * w) {
                keyWords = new long[8 * w];
            }
            for (int i = 0; i < w; i++) {
                Namespace ns = keys[i].namespace();
                keyWords[4 * i] = keys[i].hi();
                keyWords[4 * i + 1] = keys[i].lo();
                keyWords[4 * i + 2] = ns.rootHi();
                keyWords[4 * i + 3] = ns.rootLo();
            }
            runId++;
            future = f;
            open = true;
            completed = false;
            settled = false;
            told = 0;
            draining = false;
            pooled = false;
            delivered = 0;
            failedAt = -1;
            failure = ReadStatus.OK;
            deadline = null;
        }
        pinned = w == 0 ? 0 : p.table().pinForLoad(keys, w, s);
        synchronized (monitor) {
            limit = pinned;
            pending = 1; // this thread's pass over the blocks, until readInOrder is done
            for (int i = 0; i < pinned; i++) {
                s[4 * w + i] = PENDING;
            }
        }
        f.whenComplete((n, error) -> {
            if (f.isCancelled()) {
                synchronized (monitor) {
                    if (future != f) {
                        return; // a later load of this pooled object
                    }
                    countEnd(Outcome.CANCELLED);
                    p.metrics().add(Counter.LOAD_CANCELS, 1);
                    completed = true;
                    close();
                    settleIfDone();
                }
                drain();
            }
        });
        tierOnCaller = onCaller();
        direct = deadlineNanos == 0 && dst != null;
        try {
            submitDeviceReads();
            readInOrder();
        } finally {
            finishCallerPass(f, deadlineNanos);
        }
        return f;
    }

    /** The loading thread's pass is over, whatever happened: the load may settle without it now. */
    private void finishCallerPass(CompletableFuture<Integer> f, long deadlineNanos) {
        synchronized (monitor) {
            pending--;
            advance();
            if (open && deadlineNanos > 0) {
                deadline = p.timer().schedule(() -> expire(f), deadlineNanos, TimeUnit.NANOSECONDS);
            }
            settleIfDone();
        }
        drain();
    }

    /**
     * The device tier of this load's only device block, when reading it is a memory copy (a
     * mapped or page-cached file, a get): done on the loading thread, as a hand-off to an I/O
     * thread would cost more than the copy. Otherwise -1: every device read goes to its engine,
     * in parallel.
     */
    private int onCaller() {
        int found = -1;
        for (int i = 0; i < pinned; i++) {
            int tier = s[w + i];
            if (tier != DRAM) {
                if (found >= 0) {
                    return -1;
                }
                found = tier;
            }
        }
        return found >= 0 && p.table().device(found).readsAreMemoryCopies() ? found : -1;
    }

    /** Submits the reads of the blocks on devices, but for one read on this thread (see {@link #onCaller}). */
    private void submitDeviceReads() {
        for (int i = 0; i < pinned; i++) {
            int tier = s[w + i];
            if (tier == DRAM || tier == tierOnCaller) {
                continue;
            }
            BlockRead read = reads[i];
            read.into = s[3 * w + i] < 0 && direct ? buffers[i] : destination(i);
            synchronized (monitor) {
                pending++;
                read.token = runId;
            }
            DeviceTier device = p.table().device(tier);
            IoEngine io = device.io(s[2 * w + i]);
            if (device.readsAsync(s[2 * w + i], read.into)) {
                io.submitAsyncRead(read);
            } else {
                io.submitRead(read);
            }
        }
    }

    /**
     * The device read of one block of this load: the block's bytes into its destination. Run by
     * an engine worker ({@link #run}), or, on a device that reads asynchronously, as a
     * continuation ({@link #start}: sent from whichever thread starts it, verified on the thread
     * that completes the I/O, which then reports it, with no worker involved).
     */
    private final class BlockRead implements IoEngine.Request, IoEngine.AsyncRequest, SlotTier.ReadCallback {
        private final int block;
        /** The run this read belongs to; guarded by the monitor. */
        private int token;
        private ByteBuffer into;
        private ReadStatus status;
        /** The engine's completion of the continuation in flight, or null. */
        private IoEngine.Completion completion;
        /** Views promotion pages without allocating; made on first use. */
        private DramTier.Window window;

        BlockRead(int block) {
            this.block = block;
        }

        DramTier.Window window() {
            if (window == null) {
                window = p.table().dram.window();
            }
            return window;
        }

        @Override
        public long run() {
            status = readDevice(block, into);
            return p.blockBytes();
        }

        @Override
        public void start(long deadlineNanos, IoEngine.Completion finish) {
            completion = finish;
            int tier = s[w + block];
            p.table().device(tier).readAsync(s[2 * w + block], keyWords[4 * block], keyWords[4 * block + 1],
                    keyWords[4 * block + 2], keyWords[4 * block + 3], into, deadlineNanos, this);
        }

        /** The continuation's outcome, on the thread that completed its I/O. */
        @Override
        public void read(ReadStatus st) {
            status = st;
            IoEngine.Completion c = completion;
            completion = null;
            c.finished(p.blockBytes(), null);
        }

        @Override
        public void done(Throwable failure) {
            into = null;
            onRead(token, block, failure == null ? status : ReadStatus.IO_ERROR);
        }

        /** Never: a load settles only once every read it issued has reported. */
        @Override
        public boolean abandoned() {
            return false;
        }
    }

    /** On the caller's thread, in order: DRAM copies, and reads of a mapped device (memory copies too). */
    private void readInOrder() {
        for (int i = 0; i < pinned && isOpen(); i++) {
            int tier = s[w + i];
            if (tier == DRAM) {
                copyFromPage(s[2 * w + i], i);
                done(i, ReadStatus.OK);
            } else if (tier == tierOnCaller) {
                boolean intoCaller = s[3 * w + i] < 0 && buffers != null;
                ByteBuffer into = intoCaller ? buffers[i] : destination(i);
                ReadStatus st = readDevice(i, into);
                if (st == ReadStatus.OK && !intoCaller) {
                    deliverFromStage(i);
                }
                done(i, st);
            } else {
                continue;
            }
            if (listener != null) { // read unlocked: a stale value costs one drain() or delays a call to the next one
                drain(); // the listener hears the blocks copied so far before the next one is copied
            }
        }
    }

    /** Where block {@code i}'s device read lands: its promotion page, or its staging buffer. */
    private ByteBuffer destination(int i) {
        int page = s[3 * w + i];
        if (page >= 0) {
            return reads[i].window().of(page);
        }
        if (stage[i] == null) {
            stage[i] = staging();
        }
        return stage[i].clear();
    }

    private ReadStatus readDevice(int i, ByteBuffer into) {
        DeviceTier tier = p.table().device(s[w + i]);
        try {
            return tier.read(s[2 * w + i], keyWords[4 * i], keyWords[4 * i + 1], keyWords[4 * i + 2],
                    keyWords[4 * i + 3], into);
        } catch (RuntimeException e) {
            p.table().errors.report(tier.id(), tier.describe(s[2 * w + i]), "read", Outcome.IO_ERROR, e.toString());
            return ReadStatus.IO_ERROR;
        }
    }

    /** On an I/O thread: block {@code i} was read; it is copied to the caller while the load is open. */
    private void onRead(int token, int i, ReadStatus st) {
        synchronized (monitor) {
            if (token != runId || s[4 * w + i] != PENDING) {
                return; // a callback of an earlier run
            }
            try {
                if (st == ReadStatus.OK && open && i < limit && (s[3 * w + i] >= 0 || !direct)) {
                    deliverFromStage(i);
                }
            } finally {
                pending--;
                done(i, st);
                settleIfDone();
            }
        }
        drain();
    }

    private void done(int i, ReadStatus st) {
        synchronized (monitor) {
            s[4 * w + i] = st.ordinal();
            if (st != ReadStatus.OK && (failedAt < 0 || i < failedAt)) {
                failedAt = i;
                failure = st;
            }
            advance();
        }
    }

    private boolean isOpen() {
        synchronized (monitor) {
            return open;
        }
    }

    /** Under the monitor: grows the leading run (the listener hears of it in {@link #drain}); closes the load when the run is final. */
    private void advance() {
        if (!open) {
            return;
        }
        while (delivered < limit && s[4 * w + delivered] == ReadStatus.OK.ordinal()) {
            delivered++;
        }
        if (delivered < limit && s[4 * w + delivered] != PENDING) {
            limit = delivered;
        }
        if (delivered == limit) {
            close();
        }
    }

    /** Under the monitor: nothing more is delivered; the leading run is final. */
    private void close() {
        if (!open) {
            return;
        }
        open = false;
        limit = delivered;
        if (deadline != null) {
            deadline.cancel(false);
        }
    }

    /** Under the monitor, once per load, when its future completes or is cancelled: the load's figures. */
    private void countEnd(Outcome outcome) {
        long nanos = System.nanoTime() - t0;
        p.metrics().add(Counter.LOAD_CALLS, 1);
        p.metrics().add(Counter.LOAD_LOST_BLOCKS, w - delivered);
        p.metrics().record(Op.LOAD, nanos);
        p.metrics().observers().load(lowestTier(), w, delivered, (long) delivered * p.blockBytes(), nanos, outcome);
    }

    /** Under the monitor: the lowest tier (highest number) of the blocks delivered, else of those pinned; DRAM for none. */
    private int lowestTier() {
        int n = delivered > 0 ? delivered : pinned;
        int lowest = DRAM;
        for (int i = 0; i < n; i++) {
            lowest = Math.max(lowest, s[w + i]);
        }
        return lowest;
    }

    /** Under the monitor: how a load that was not cancelled ended, when its future is completed. */
    private Outcome outcome() {
        if (delivered == w) {
            return Outcome.OK;
        }
        if (failedAt >= 0) {
            return Outcomes.of(failure);
        }
        return settled ? Outcome.PARTIAL : Outcome.DEADLINE;
    }

    /**
     * Under the monitor: completes the future with the leading run, once: when the load settles
     * (so that its pins are released and a failed block dropped by then), or at its deadline.
     */
    private void complete() {
        if (completed) {
            return;
        }
        completed = true;
        countEnd(outcome());
        toComplete = future;
        completeWith = delivered;
    }

    /**
     * Outside the monitor, after any change of the state: if no other thread is draining, this
     * one tells the listener of the leading run's growth until it is up to date, then completes
     * the future {@link #complete} decided on, and returns the load to the pool once it is
     * settled (see the class comment). Allocates nothing.
     */
    private void drain() {
        synchronized (monitor) {
            if (draining || pooled) {
                return;
            }
            draining = true;
        }
        for (;;) {
            LoadListener l = null;
            int n;
            CompletableFuture<Integer> f = null;
            boolean toPool = false;
            synchronized (monitor) {
                n = delivered;
                if (listener != null && told < n && !future.isDone()) {
                    l = listener;
                    told = n;
                } else {
                    f = toComplete;
                    n = completeWith;
                    toComplete = null;
                    draining = false;
                    if (settled) {
                        toPool = true;
                        pooled = true;
                        keys = null;
                        buffers = null;
                        addresses = null;
                        segments = null;
                        listener = null;
                        future = null;
                    }
                }
            }
            if (l == null) {
                if (toPool) {
                    p.pool().add(this);
                }
                fire(f, n);
                return;
            }
            try {
                l.loaded(n);
            } catch (RuntimeException e) {
                LOG.warn("kvtier: a LoadListener threw; it is not called again for this load", e);
                synchronized (monitor) {
                    listener = null;
                }
            }
        }
    }

    /**
     * Completes the future {@link #complete} decided on, after the monitor is released: its
     * dependent actions may run here and call the cache (close it, even). {@code f} and {@code n}
     * are taken under the same hold of the monitor that decided, as a pooled object may serve
     * another load right after.
     */
    private void fire(CompletableFuture<Integer> f, int n) {
        if (f == null) {
            return;
        }
        if (p.completions() == null) {
            f.complete(n);
        } else {
            p.completions().execute(() -> f.complete(n));
        }
    }

    /** The deadline passed: the load is DONE with what arrived. */
    private void expire(CompletableFuture<Integer> of) {
        synchronized (monitor) {
            if (future != of) {
                return; // this pooled object serves a later load now
            }
            close();
            complete();
            settleIfDone();
        }
        drain();
    }

    /** Under the monitor: once DONE and every read has finished, releases what the load held (the pool gets it back in {@link #drain}). */
    private void settleIfDone() {
        if (open || pending > 0 || settled) {
            return;
        }
        settled = true;
        if (p.table().settleLoad(s, w, pinned, delivered, failedAt, failure) && p.promoter() != null) {
            p.promoter().run();
        }
        if (failure == ReadStatus.CORRUPT || failure == ReadStatus.UNAUTHENTIC || failure == ReadStatus.IO_ERROR) {
            DeviceTier tier = p.table().device(s[w + failedAt]);
            p.table().errors.report(tier.id(), tier.describe(s[2 * w + failedAt]), "read", Outcomes.of(failure),
                    "a block " + (failure == ReadStatus.CORRUPT ? "failed its check" : failure == ReadStatus.UNAUTHENTIC
                            ? "failed its seal (forged, or another tenant's)" : "could not be read") + "; served as a miss");
        }
        complete();
        for (int i = 0; i < pinned; i++) {
            if (stage[i] != null) {
                p.staging().add(stage[i]);
                stage[i] = null;
            }
        }
    }

    private void deliverFromStage(int i) {
        int page = s[3 * w + i];
        if (page >= 0) {
            copyFromPage(page, i);
        } else if (buffers != null) {
            ByteBuffer from = stage[i].clear(); // an absolute put: no view of the caller's buffer allocated
            buffers[i].put(buffers[i].position(), from, 0, from.remaining());
        } else if (segments != null) {
            Segments.scatter(Jvm.address(stage[i]), segments, i, segmentBytes, p.blockBytes());
        } else {
            Memory.copy(stage[i].clear(), addresses[i]);
        }
    }

    private void copyFromPage(int page, int i) {
        if (buffers != null) {
            p.table().dram.copyOut(page, buffers[i]);
        } else if (segments != null) {
            Segments.scatter(p.table().dram.address(page), segments, i, segmentBytes, p.blockBytes());
        } else {
            p.table().dram.copyOut(page, addresses[i]);
        }
    }

    private ByteBuffer staging() {
        ByteBuffer b = p.staging().poll();
        return b != null ? b : ByteBuffer.allocateDirect(p.blockBytes());
    }
}
