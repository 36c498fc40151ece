package dev.kvtier;

import static dev.kvtier.BlockTable.REMOTE;
import static dev.kvtier.BlockTable.SSD;
import static dev.kvtier.index.BlockIndex.NONE;

import dev.kvtier.BlockTable.DemotionKind;
import dev.kvtier.DeviceTier.Placement;
import dev.kvtier.format.SlotHeader;
import dev.kvtier.io.IoEngine;
import dev.kvtier.metrics.CacheMetrics.Counter;
import dev.kvtier.metrics.CacheObserver.Outcome;
import dev.kvtier.tier.DramTier;
import dev.kvtier.tier.SlotTier.ReadStatus;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The background thread that moves blocks down, off the callers' threads: from DRAM to the
 * first tier below it (SSD, else REMOTE) and, when both exist, from SSD to REMOTE. What is
 * written, and what a block's state becomes, are {@link BlockTable} transitions
 * ({@link BlockTable#beginNextDemotion},
 * {@link BlockTable#completeDemotion}); this class decides when, and does the I/O.
 *
 * <p><b>DRAM level.</b> It keeps {@code demoteAhead} DRAM pages reclaimable (free, or clean: a
 * copy also below) by writing the coldest DRAM-only blocks down, so that a store evicts a clean
 * copy and loses nothing. <b>SSD level.</b> While fewer than an eighth of the SSD slots are
 * free, it copies the coldest SSD blocks without a remote copy to REMOTE, so that SSD eviction
 * takes clean copies and the blocks become visible to the other servers sharing the remote
 * device. When both levels have work they take turns.
 *
 * <p><b>Writes in flight.</b> Up to {@link #WRITES_PER_DEVICE} writes per device of the largest
 * tier below DRAM (an SSD is one device; a remote tier sharded over four exports is four) run
 * at once on the target devices' {@link IoEngine}s; the thread plans and submits, and each write completes on an I/O
 * thread. A block being written is pinned and MOVING: it stays readable where it is and cannot
 * be evicted; it gains its new copy only when the write has completed.
 *
 * <p><b>Failures.</b> A write the engine declines (queue full) or that fails is set aside,
 * counted, and the demoter backs off, doubling from 100 ms up to 5 s; when the backoff ends the
 * set-aside blocks are eligible again. A block that cannot be placed is set aside without a
 * backoff (the device is fine): on the SSD (every slot holds a block that must stay) until the
 * thread is woken again (a store, a load, a write completing: what can free a slot), so what is
 * written depends on the cache's operations, not on the clock; on the remote tier (no slot of
 * its set it may take) for a second, since other servers' writes, which it cannot see, free
 * them too. Every set-aside block is retried at once whichever of these comes first (one flag
 * marks them all): an SSD block may go back sooner after a remote retry, and a remote one
 * sooner after a wake-up, each for one more search.
 *
 * <p><b>Flush.</b> {@link #flush} writes every DRAM-only block that admission lets go
 * ({@link dev.kvtier.policy.AdmissionPolicy#admitFlush}) to the tier below DRAM, instead of
 * keeping only the watermark. It ends when no such block is left, when its time budget is
 * spent, or at the first write that cannot be placed or fails (the tier is full of blocks that
 * must stay, or the device is failing: waiting would not help). Meanwhile the SSD level waits.
 * A slot taken for it never holds a copy of a DRAM block, so a flush cannot undo its own work.
 *
 * <p>The thread also wipes slots queued by invalidation and corruption (a remote slot claimed
 * while it is checked and wiped); on close it finishes the writes in flight and drains the
 * wipes.
 *
 * <p><b>Concurrency.</b> {@link #lock} guards this class's own state (writes in flight,
 * backoff, flush, idle rounds). It may be held while calling the block table (whose
 * transitions take the table's lock), never the other way round: the table takes no lock of
 * this class. The table wakes the thread through {@link #wake}, which
 * takes no lock. {@link #awaitIdle} waits for an idle round that began after it woke the thread,
 * so a store made before the call is always seen.
 */
final class Demoter implements Runnable {
    private static final Logger LOG = LoggerFactory.getLogger(Demoter.class);
    private static final long IDLE_WAIT_NS = TimeUnit.MILLISECONDS.toNanos(100);
    private static final long MAX_BACKOFF_NS = TimeUnit.SECONDS.toNanos(5);
    /** Demotion writes submitted at once per device (see the class comment). */
    static final int WRITES_PER_DEVICE = 8;
    private static final long UNPLACED_RETRY_NS = TimeUnit.SECONDS.toNanos(1);

    /** The thread's next step; FULL: every write slot is in flight, which is not an idle round (see {@link #idle}). */
    private enum Kind { IDLE, FULL, WRITE, WIPE, REMOTE_WIPE, EXIT }

    private final BlockTable r;
    private final Thread thread;
    private final SlotHeader found = new SlotHeader();
    private final int ssdAhead;
    private final AtomicLong wakeups = new AtomicLong();
    private final ReentrantLock lock = new ReentrantLock();
    /** Signalled when a write completes or a flush ends. */
    private final Condition changed = lock.newCondition();
    /** Signalled when an idle round begins (see {@link #awaitIdle}); a waiter is not woken by every write. */
    private final Condition idleRound = lock.newCondition();
    private final ArrayDeque<Write> spare = new ArrayDeque<>();
    private final Write[] writes;
    /** Entries being written to the SSD, for {@link BlockTable#beginNextDemotion}; the demoter thread's. */
    private final int[] ssdWrites;
    private int inFlight;
    /** The wakeup count at the start of the last idle round. */
    private long idleSince = -1;
    /** Both levels take turns when both have work; the demoter thread's. */
    private boolean ssdFirst;
    private Write next;
    private int wipeSlot;
    private BlockTable.RemoteWipe remoteWipe;
    /** Block-sized buffer for re-reading a slot reported corrupt before wiping it; the demoter thread's. */
    private ByteBuffer wipeBuffer;
    private int failures;
    /** Blocks set aside since the last backoff ended. */
    private int refused;
    /** SSD blocks set aside for want of a slot; retried once the thread has been woken since {@link #declinedAt}. */
    private int declined;
    private long declinedAt;
    /** The wake-up count when the thread's current cycle began (demoter thread only). */
    private long cycleWakeups;
    /** Blocks set aside for want of a replaceable remote slot; retried from {@link #retryUnplacedAt}. */
    private int unplaced;
    private long retryUnplacedAt;
    private long backoffUntil = System.nanoTime();
    /** A flush is running (see the class comment). */
    private boolean flushing;
    private long flushDeadline;
    /** The running flush hit a write that could not be placed or failed. */
    private boolean flushStopped;
    private int flushWritten;
    /** Writes planned so far; each write's number is kept in {@link Write#seq}. */
    private long planned;
    /** A task the thread runs every {@link #periodNanos}, or null; the thread's. */
    private Runnable periodic;
    private long periodNanos;
    private long nextPeriodic;

    Demoter(BlockTable table) {
        this.r = table;
        this.ssdAhead = r.ssd == null ? 0 : Math.max(1, r.ssd.slotCount() / 8);
        int devices = 1;
        for (DeviceTier t : r.devices()) {
            devices = Math.max(devices, t.shards().size());
        }
        this.writes = new Write[WRITES_PER_DEVICE * devices];
        this.ssdWrites = new int[writes.length];
        for (int i = 0; i < writes.length; i++) {
            writes[i] = new Write();
            spare.add(writes[i]);
        }
        this.thread = new Thread(this, "kvtier-demoter");
        thread.setDaemon(true);
    }

    void start() {
        r.onDemoterWork(this::wake);
        thread.start();
    }

    /** Runs {@code task} on the demoter thread every {@code millis} (errors are logged). Call before {@link #start}. */
    void every(long millis, Runnable task) {
        periodic = task;
        periodNanos = TimeUnit.MILLISECONDS.toNanos(millis);
        nextPeriodic = System.nanoTime() + periodNanos;
    }

    /** Waits until every write in flight when called has completed (writes planned later are not waited for). */
    void awaitWritesInFlight() {
        lock.lock();
        try {
            for (Write w : writes) {
                long seq = w.seq;
                while (w.active && w.seq == seq && thread.isAlive()) {
                    changed.awaitNanos(IDLE_WAIT_NS);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            lock.unlock();
        }
    }

    /** There may be work: the thread looks again. Takes no lock. Returns the new wakeup count. */
    private long wake() {
        long n = wakeups.incrementAndGet();
        LockSupport.unpark(thread);
        return n;
    }

    /** Waits until the demoter has found nothing left to do, looking after this call began. */
    void awaitIdle() {
        long asked = wake();
        lock.lock();
        try {
            while (idleSince < asked && thread.isAlive()) {
                idleRound.awaitNanos(IDLE_WAIT_NS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Runs a flush (see the class comment) and waits for it: at most {@code budgetNanos} of
     * writing, after any flush already running. Returns the blocks it wrote.
     */
    int flush(long budgetNanos) {
        long t0 = System.nanoTime();
        lock.lock();
        try {
            while (flushing && thread.isAlive()) {
                changed.awaitUninterruptibly();
            }
            flushing = true;
            flushStopped = false;
            flushWritten = 0;
            flushDeadline = System.nanoTime() + budgetNanos;
            wake();
            while (flushing && thread.isAlive()) {
                changed.awaitNanos(IDLE_WAIT_NS);
            }
            return flushWritten;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return flushWritten;
        } finally {
            r.metrics.add(Counter.FLUSH_NANOS, System.nanoTime() - t0);
            lock.unlock();
        }
    }

    /** Stops after the writes in flight and the queued wipes; the cache is closed already. */
    void stop() {
        wake();
        boolean interrupted = false;
        while (thread.isAlive()) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void run() {
        while (true) {
            long seen = wakeups.get();
            cycleWakeups = seen;
            runPeriodic();
            Kind kind;
            try {
                kind = nextTask();
            } catch (RuntimeException | Error e) {
                LOG.error("kvtier: the demoter survived an unexpected error", e);
                kind = Kind.IDLE;
            }
            if (kind == Kind.EXIT) {
                return;
            }
            if (kind == Kind.IDLE) {
                idle(seen);
                continue;
            }
            if (kind == Kind.FULL) {
                if (wakeups.get() == seen) {
                    LockSupport.parkNanos(this, IDLE_WAIT_NS); // a completing write wakes it
                }
                continue;
            }
            try {
                if (kind == Kind.WRITE) {
                    submit(next);
                } else if (kind == Kind.WIPE) {
                    wipe();
                } else {
                    wipeRemote();
                }
            } catch (RuntimeException | Error e) {
                LOG.error("kvtier: the demoter survived an unexpected error", e);
            }
        }
    }

    private void runPeriodic() {
        if (periodic == null || System.nanoTime() - nextPeriodic < 0) {
            return;
        }
        nextPeriodic = System.nanoTime() + periodNanos;
        try {
            periodic.run();
        } catch (RuntimeException | Error e) {
            LOG.warn("kvtier: a periodic task of the demoter failed: {}", e.toString());
        }
    }

    /** Nothing to do now: an idle round (when no write is in flight), then sleep until woken. */
    private void idle(long seen) {
        boolean round;
        lock.lock();
        try {
            round = inFlight == 0;
            if (round) {
                idleSince = seen;
                idleRound.signalAll();
            }
        } finally {
            lock.unlock();
        }
        if (round) {
            r.demoterWentIdle();
        }
        if (wakeups.get() == seen) {
            LockSupport.parkNanos(this, IDLE_WAIT_NS);
        }
    }

    /** The next wipe, or the next write (planned, its slot reserved), or IDLE or EXIT. */
    private Kind nextTask() {
        wipeSlot = r.takeSsdWipe();
        if (wipeSlot >= 0) {
            return Kind.WIPE;
        }
        remoteWipe = r.takeRemoteWipe();
        if (remoteWipe != null) {
            return Kind.REMOTE_WIPE;
        }
        lock.lock();
        try {
            if (inFlight >= writes.length) {
                return Kind.FULL; // not IDLE: the writes may all complete before idle() looks, with blocks still to plan
            }
            if (flushing) {
                return flushTask();
            }
            if (r.isClosed()) {
                return inFlight > 0 ? Kind.IDLE : Kind.EXIT;
            }
            if (System.nanoTime() - backoffUntil < 0) {
                return Kind.IDLE;
            }
            boolean retryUnplaced = unplaced > 0 && System.nanoTime() - retryUnplacedAt >= 0;
            boolean retryDeclined = declined > 0 && wakeups.get() != declinedAt;
            if ((refused > 0 || retryUnplaced || retryDeclined) && inFlight == 0) {
                r.clearSetAside();
                refused = 0;
                unplaced = 0;
                declined = 0;
            }
        } finally {
            lock.unlock();
        }
        return levelTask();
    }

    /** The DRAM and SSD levels' next write, taking turns. */
    private Kind levelTask() {
        boolean dramLevel = r.dramBelowWatermark();
        boolean ssdLevel = r.ssdBelowWatermark(ssdAhead);
        ssdFirst = !ssdFirst;
        Kind k = ssdLevel && ssdFirst ? plan(DemotionKind.SSD_LEVEL, REMOTE) : Kind.IDLE;
        if (k == Kind.IDLE && dramLevel) {
            k = plan(DemotionKind.DRAM_LEVEL, r.belowDram());
        }
        if (k == Kind.IDLE && ssdLevel && !ssdFirst) {
            k = plan(DemotionKind.SSD_LEVEL, REMOTE);
        }
        return k;
    }

    /** Under {@link #lock}, while flushing: the next flush write, or IDLE (the flush ends once its writes are done). */
    private Kind flushTask() {
        boolean due = !flushStopped && System.nanoTime() - flushDeadline < 0;
        Kind k = Kind.IDLE;
        if (due) {
            lock.unlock();
            try {
                k = plan(DemotionKind.FLUSH, r.belowDram());
            } finally {
                lock.lock();
            }
        }
        if (k == Kind.IDLE && inFlight == 0 && flushing) {
            flushing = false;
            r.endFlush();
            r.metrics.add(Counter.FLUSHES, 1);
            r.metrics.add(Counter.INCOMPLETE_FLUSHES, !due || flushStopped ? 1 : 0);
            changed.signalAll();
        }
        return k;
    }

    /** Picks and reserves the next block of {@code kind} to write to {@code to}; IDLE when there is none. */
    private Kind plan(DemotionKind kind, int to) {
        if (to < 0) {
            return Kind.IDLE; // no tier below DRAM is left (the SSD failed, no remote tier)
        }
        Write w;
        int n;
        lock.lock();
        try {
            w = spare.poll();
            n = ssdWriteEntries();
            w.reserve(to, kind == DemotionKind.FLUSH);
        } finally {
            lock.unlock();
        }
        int e;
        try {
            e = r.beginNextDemotion(kind, to, r.device(to).writePressure(), ssdWrites, n, w.header, w.source);
        } catch (RuntimeException | Error t) { // a policy's error: the write slot must not leak
            lock.lock();
            try {
                w.active = false;
                spare.add(w);
                changed.signalAll();
            } finally {
                lock.unlock();
            }
            throw t;
        }
        lock.lock();
        try {
            if (e == NONE || w.source[2] == -2) {
                w.active = false;
                spare.add(w);
                changed.signalAll();
                if (e != NONE) {
                    decline(e);
                }
                return Kind.IDLE;
            }
            w.entry = e;
            w.slot = w.source[2];
            inFlight++;
        } finally {
            lock.unlock();
        }
        next = w;
        return Kind.WRITE;
    }

    /** Under {@link #lock}: copies the entries of the SSD writes in flight to {@link #ssdWrites}; their number. */
    private int ssdWriteEntries() {
        int n = 0;
        for (Write w : writes) {
            if (w.active && w.target == SSD && w.entry != NONE) {
                ssdWrites[n++] = w.entry;
            }
        }
        return n;
    }

    /** Under {@link #lock}: {@code e} could not be written; a flush stops, otherwise it is set aside and we back off. */
    private void refuse(int e) {
        if (flushing) {
            flushStopped = true;
            return;
        }
        r.setAside(e);
        refused++;
        backOff();
    }

    /** Under {@link #lock}: {@code e} found no SSD slot (see the class comment). */
    private void decline(int e) {
        if (flushing) {
            flushStopped = true;
            return;
        }
        r.setAside(e);
        declined++;
        declinedAt = cycleWakeups; // a wake-up during the slot search (a slot freed) retries it at once
    }

    private void backOff() {
        failures = Math.min(failures + 1, 6);
        backoffUntil = System.nanoTime() + Math.min(MAX_BACKOFF_NS, TimeUnit.MILLISECONDS.toNanos(100) << (failures - 1));
    }

    /** Hands a planned write to its device's engine; it completes on an I/O thread ({@link Write#done}). */
    private void submit(Write w) {
        boolean queued;
        try {
            DeviceTier to = r.device(w.target);
            queued = (to.placement() == Placement.SHARED ? to.ioForKey(w.header.keyHi, w.header.keyLo) : to.io(w.slot))
                    .tryWrite(w);
        } catch (RuntimeException | Error e) {
            LOG.error("kvtier: submitting a demotion failed", e);
            w.failure = Counter.DEMOTE_FAILED_BLOCKS;
            complete(w);
            return;
        }
        if (!queued) {
            w.failure = Counter.DEMOTE_DECLINED_BLOCKS;
            complete(w);
        }
    }

    /** Settles a write whatever happened; its write slot is free again after. */
    private void complete(Write w) {
        boolean live = false;
        try {
            live = r.completeDemotion(w.entry, w.target, w.slot, w.failure, w.flush, w.header);
        } catch (RuntimeException | Error e) {
            LOG.error("kvtier: completing a demotion failed", e);
        }
        r.metrics.observers().demotion(w.target, w.failure == null && live ? w.header.blockLength : 0,
                System.nanoTime() - w.t0, w.failure == Counter.DEMOTE_DECLINED_BLOCKS ? Outcome.DECLINED
                        : w.failure != null ? Outcome.IO_ERROR : live ? Outcome.OK : Outcome.DROPPED);
        lock.lock();
        try {
            if (w.failure == null && live) {
                failures = 0;
                flushWritten += w.flush && flushing ? 1 : 0;
                r.metrics.add(Counter.FLUSHED_BLOCKS, w.target, w.flush ? 1 : 0);
            } else if (w.failure != null && w.unplaceable && !w.flush) {
                if (unplaced++ == 0) {
                    retryUnplacedAt = System.nanoTime() + UNPLACED_RETRY_NS;
                }
            } else if (w.failure != null && !w.unplaceable) {
                refuse(w.entry);
            }
            w.active = false;
            inFlight--;
            spare.add(w);
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        wake();
    }

    /** One demotion write: its block, its target and, once chosen, its slot. Reused. */
    private final class Write implements IoEngine.Request {
        private final SlotHeader header = new SlotHeader();
        /** Views the DRAM page written down, without allocating. */
        private final DramTier.Window window = r.dram.window();
        private final int[] ranked = new int[r.remote == null ? 0 : r.remote.ways()];
        /** The block's DRAM page, or -1 and its SSD slot; then its target slot (see {@link BlockTable#beginNextDemotion}). */
        private final int[] source = new int[3];
        private ByteBuffer staging;
        private int entry;
        private int target;
        private int slot;
        private boolean flush;
        /** What to count when the write did not happen, or null. */
        private Counter failure;
        /** No slot of the remote set could be replaced: only this block is set aside. */
        private boolean unplaceable;
        /** Reserved and not yet completed; guarded by the demoter's lock. */
        private boolean active;
        /** This write's number among all planned; guarded by the demoter's lock. */
        private long seq;
        /** When it was planned ({@link System#nanoTime}). */
        private long t0;

        /** Under the demoter's lock: a write to {@code to} begins (its block is chosen next). */
        void reserve(int to, boolean forFlush) {
            entry = NONE;
            target = to;
            slot = -1;
            flush = forFlush;
            failure = null;
            unplaceable = false;
            active = true;
            seq = ++planned;
            t0 = System.nanoTime();
        }

        /** On an I/O thread: reads the source if needed, places a remote block, writes. */
        @Override
        public long run() throws IOException {
            ByteBuffer block = source[0] >= 0 ? window.of(source[0]) : readSource();
            if (block == null) {
                failure = Counter.DEMOTE_FAILED_BLOCKS;
                return 0;
            }
            if (r.device(target).placement() == Placement.SHARED && !claimRemoteSlot()) {
                unplaceable = true;
                failure = Counter.DEMOTE_DECLINED_BLOCKS;
                return 0;
            }
            r.device(target).write(slot, block, header);
            return header.storedLength;
        }

        /** On an I/O thread: the write is over, done or not. */
        @Override
        public void done(Throwable error) {
            if (error != null) {
                DeviceTier to = r.device(target);
                r.errors.report(target, slot >= 0 ? to.describe(slot) : to.describe(), "a demotion", Outcome.IO_ERROR,
                        error.toString(), !to.failed());
                failure = Counter.DEMOTE_FAILED_BLOCKS;
            }
            complete(this);
        }

        /** The block's bytes from its SSD slot, verified, or null when they cannot be read. */
        private ByteBuffer readSource() {
            if (staging == null) {
                staging = ByteBuffer.allocateDirect(r.dram.blockBytes());
            }
            ReadStatus st = r.ssd.read(source[1], header.keyHi, header.keyLo, header.namespaceHi,
                    header.namespaceLo, staging.clear());
            return st == ReadStatus.OK ? staging : null;
        }

        /** Reads the set's headers, then claims the best slot the block table lets this write take. */
        private boolean claimRemoteSlot() throws IOException {
            int rankedAt = r.remoteWrites();
            r.remote.rankSlots(header.keyHi, header.keyLo, ranked);
            slot = r.claimRemoteSlotFor(entry, ranked, rankedAt);
            return slot >= 0;
        }
    }

    private void wipe() {
        boolean ok;
        try {
            r.ssd.wipe(wipeSlot);
            ok = true;
        } catch (IOException | RuntimeException | Error e) {
            r.errors.report(SSD, r.ssd.describe(), "wiping slot " + wipeSlot, Outcome.IO_ERROR, e.toString(),
                    !r.ssd.failed());
            ok = false;
        }
        r.ssdWipeDone(wipeSlot, ok);
    }

    /**
     * Wipes a remote slot under its condition ({@link BlockTable.RemoteWipe}); the slot is claimed
     * meanwhile so that no write of ours lands in it between the check and the wipe.
     */
    private void wipeRemote() {
        BlockTable.RemoteWipe w = remoteWipe;
        if (!r.claimRemoteSlot(w.slot())) {
            return; // one of our writes is replacing it anyway
        }
        boolean ok = true;
        boolean wiped = false;
        try {
            if (stillToWipe(w)) {
                r.remote.wipe(w.slot());
                wiped = true;
            }
        } catch (IOException | RuntimeException | Error e) {
            r.errors.report(REMOTE, r.remote.describe(w.slot()), "wiping slot " + w.slot(), Outcome.IO_ERROR,
                    e.toString());
            ok = false;
        }
        r.remoteWipeDone(w.slot(), ok, wiped);
    }

    /** Whether the slot still holds the key (and, for a corrupt block, still fails its check). */
    private boolean stillToWipe(BlockTable.RemoteWipe w) throws IOException {
        DeviceTier t = r.remote;
        if (!w.onlyIfCorrupt()) {
            return t.readHeader(w.slot(), found) && found.keyHi == w.keyHi() && found.keyLo == w.keyLo();
        }
        if (wipeBuffer == null) {
            wipeBuffer = ByteBuffer.allocateDirect(r.dram.blockBytes());
        }
        return t.read(w.slot(), w.keyHi(), w.keyLo(), w.nsHi(), w.nsLo(), wipeBuffer.clear()) == ReadStatus.CORRUPT;
    }
}
