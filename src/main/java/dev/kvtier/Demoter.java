package dev.kvtier;

import static dev.kvtier.Residency.DRAM;
import static dev.kvtier.Residency.REMOTE;
import static dev.kvtier.Residency.SSD;
import static dev.kvtier.index.BlockIndex.NONE;

import dev.kvtier.format.SlotHeader;
import dev.kvtier.index.BlockIndex;
import dev.kvtier.io.IoEngine;
import dev.kvtier.metrics.CacheMetrics.Counter;
import dev.kvtier.tier.SharedSlotTier;
import dev.kvtier.tier.SlotTier;
import dev.kvtier.tier.SlotTier.ReadStatus;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.IntPredicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The background thread that moves blocks down, off the callers' threads: from DRAM to the
 * first tier below it (SSD, else REMOTE) and, when both exist, from SSD to REMOTE.
 *
 * <p><b>DRAM level.</b> It keeps {@link Residency#demoteAhead()} DRAM pages reclaimable (free,
 * or clean: a copy also below) by writing the coldest DRAM-only blocks down, so that a store
 * evicts a clean copy and loses nothing. <b>SSD level.</b> While fewer than an eighth of the SSD
 * slots are free, it copies the coldest SSD blocks without a remote copy to REMOTE, so that SSD
 * eviction takes clean copies and the blocks become visible to the other servers sharing the
 * remote device. When both levels have work they take turns. At either level it first writes
 * the topmost ancestor that needs the write too, writes a block only once its parent is in the
 * target tier (or on its way), and never evicts an ancestor's copy to make room for it, so
 * each tier holds whole prefixes.
 *
 * <p><b>Writes in flight.</b> Up to {@link #WRITES_IN_FLIGHT} writes run at once on the target
 * devices' {@link IoEngine}s (a parent and its child may be among them); the thread plans and
 * submits, and each write completes on an I/O thread. A block being written is pinned and
 * flagged {@code MOVING}: it stays readable where it is and cannot be evicted; it gains its new
 * copy only when the write has completed. If it was invalidated meanwhile, the slot is wiped
 * instead (a remote one only if it still holds the key).
 *
 * <p><b>Failures.</b> A write the engine declines (queue full) or that fails, and an SSD block
 * that cannot be placed, are set aside ({@code NO_DEMOTE}), counted, and the demoter backs off,
 * doubling from 100 ms up to 5 s; when the backoff ends the set-aside blocks are eligible
 * again. Meanwhile the cache keeps serving. A remote slot is chosen by
 * {@link SharedSlotTier#rankSlots} (its set's headers read outside the lock), skipping slots
 * whose local owner must stay and slots claimed by another write in flight; a block whose set
 * has no such slot is set aside without a backoff (the device is fine) and retried after a
 * second.
 *
 * <p><b>Flush.</b> {@link #flush} writes every DRAM-only block that
 * {@link dev.kvtier.policy.AdmissionPolicy#admitFlush} lets go to the tier below DRAM, whole
 * prefixes first, instead of keeping only the watermark. It ends when no such block is left,
 * when its time budget is spent, or at the first write that cannot be placed or fails (the
 * tier is full of blocks that must stay, or the device is failing: waiting would not help).
 * Meanwhile the SSD level waits. A slot taken for it never holds a copy of a DRAM block (see
 * {@link Residency#allocateSlotKeeping}), so a flush cannot undo its own work and always ends.
 *
 * <p>The thread also wipes slots queued by invalidation and corruption (a remote slot claimed
 * while it is checked and wiped); on close it finishes the writes in flight and drains the
 * wipes.
 */
final class Demoter implements Runnable {
    private static final Logger LOG = LoggerFactory.getLogger(Demoter.class);
    private static final long IDLE_WAIT_MS = 100;
    private static final long MAX_BACKOFF_NS = TimeUnit.SECONDS.toNanos(5);
    /** Blocks looked at per search for one whose parent is already in the target tier. */
    private static final int CANDIDATES = 32;
    /** Demotion writes submitted at once. */
    static final int WRITES_IN_FLIGHT = 4;
    private static final long UNPLACED_RETRY_NS = TimeUnit.SECONDS.toNanos(1);

    private enum Kind { IDLE, WRITE, WIPE, REMOTE_WIPE, EXIT }

    private final Residency r;
    private final IoEngine ssdIo;
    private final IoEngine remoteIo;
    private final Thread thread;
    private final SlotHeader found = new SlotHeader();
    private final int[] skipped = new int[CANDIDATES];
    private final int ssdAhead;
    private final IntPredicate ssdOnlyBelow;
    private final ArrayDeque<Write> spare = new ArrayDeque<>();
    private final Write[] writes = new Write[WRITES_IN_FLIGHT];
    private int inFlight;
    /** Both levels take turns when both have work. */
    private boolean ssdFirst;
    private Write planned;
    private int slot;
    private Residency.RemoteWipe remoteWipe;
    /** Block-sized buffer for re-reading a slot reported corrupt before wiping it. */
    private ByteBuffer wipeBuffer;
    private int failures;
    /** Blocks set aside since the last backoff ended. */
    private int refused;
    /** Blocks set aside for want of a replaceable remote slot; retried from {@link #retryUnplacedAt}. */
    private int unplaced;
    private long retryUnplacedAt;
    private long backoffUntil = System.nanoTime();
    /** A flush is running (see the class comment); it ends by {@link #endFlush}. */
    private boolean flushing;
    private long flushDeadline;
    /** The running flush hit a write that could not be placed or failed. */
    private boolean flushStopped;
    private int flushWritten;

    Demoter(Residency residency, IoEngine ssdIo, IoEngine remoteIo) {
        this.r = residency;
        this.ssdIo = ssdIo;
        this.remoteIo = remoteIo;
        this.ssdAhead = r.ssd == null ? 0 : Math.max(1, r.ssd.slotCount() / 8);
        this.ssdOnlyBelow = e -> r.index.state(e) == BlockIndex.READY && r.index.hasCopy(e, SSD)
                && !r.index.hasCopy(e, REMOTE)
                && (r.index.flags(e) & (Residency.MOVING | Residency.NO_DEMOTE | Residency.SKIP | Residency.REJECTED)) == 0;
        for (int i = 0; i < WRITES_IN_FLIGHT; i++) {
            writes[i] = new Write();
            spare.add(writes[i]);
        }
        this.thread = new Thread(this, "kvtier-demoter");
        thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    /** Waits until the demoter has found nothing left to do. The caller must not hold the lock. */
    void awaitIdle() {
        r.lock.lock();
        try {
            long round = r.demoterIdleRounds;
            r.work.signalAll();
            while (r.demoterIdleRounds == round && thread.isAlive()) {
                r.demoterIdle.awaitNanos(TimeUnit.MILLISECONDS.toNanos(IDLE_WAIT_MS));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            r.lock.unlock();
        }
    }

    /**
     * Runs a flush (see the class comment) and waits for it: at most {@code budgetNanos} of
     * writing, after any flush already running. Returns the blocks it wrote. The caller must
     * not hold the lock.
     */
    int flush(long budgetNanos) {
        long t0 = System.nanoTime();
        r.lock.lock();
        try {
            while (flushing && thread.isAlive()) {
                r.demoterIdle.awaitUninterruptibly();
            }
            flushing = true;
            flushStopped = false;
            flushWritten = 0;
            flushDeadline = System.nanoTime() + budgetNanos;
            r.work.signalAll();
            while (flushing && thread.isAlive()) {
                r.demoterIdle.awaitNanos(TimeUnit.MILLISECONDS.toNanos(IDLE_WAIT_MS));
            }
            return flushWritten;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return flushWritten;
        } finally {
            r.metrics.add(Counter.FLUSH_NANOS, System.nanoTime() - t0);
            r.lock.unlock();
        }
    }

    /** Under the lock, while flushing: the next flush write, or IDLE (the flush ends once its writes are done). */
    private Kind flushTask() {
        boolean due = !flushStopped && System.nanoTime() - flushDeadline < 0;
        Kind k = due ? plan(r.flushable, DRAM, r.belowDram()) : Kind.IDLE;
        if (k == Kind.IDLE && inFlight == 0) {
            endFlush(!due);
        }
        return k;
    }

    private void endFlush(boolean incomplete) {
        flushing = false;
        r.clearFlag(Residency.FLUSH_REFUSED);
        r.metrics.add(Counter.FLUSHES, 1);
        r.metrics.add(Counter.INCOMPLETE_FLUSHES, incomplete ? 1 : 0);
        r.demoterIdle.signalAll();
    }

    /** Stops after the writes in flight and the queued wipes. The caller must not hold the lock. */
    void stop() {
        r.lock.lock();
        try {
            r.work.signalAll();
        } finally {
            r.lock.unlock();
        }
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
            Kind kind = awaitTask();
            if (kind == Kind.EXIT) {
                return;
            }
            try {
                if (kind == Kind.WRITE) {
                    submit(planned);
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

    private Kind awaitTask() {
        r.lock.lock();
        try {
            while (true) {
                Kind k = inFlight < WRITES_IN_FLIGHT ? nextTask() : Kind.IDLE;
                if (k == Kind.EXIT && inFlight > 0) {
                    k = Kind.IDLE;
                }
                if (k != Kind.IDLE) {
                    return k;
                }
                if (inFlight == 0) {
                    r.demoterIdleRounds++;
                    r.demoterIdle.signalAll();
                }
                r.work.awaitNanos(TimeUnit.MILLISECONDS.toNanos(IDLE_WAIT_MS));
            }
        } catch (InterruptedException e) {
            return Kind.EXIT;
        } finally {
            r.lock.unlock();
        }
    }

    /** Under the lock: the next wipe, or the next block to write with its SSD slot reserved. */
    private Kind nextTask() {
        if (!r.pendingWipes.isEmpty()) {
            slot = r.pendingWipes.poll();
            r.demoterSlots++;
            return Kind.WIPE;
        }
        if (!r.remoteWipes.isEmpty()) {
            remoteWipe = r.remoteWipes.poll();
            return Kind.REMOTE_WIPE;
        }
        if (flushing) {
            return flushTask();
        }
        if (r.closed) {
            return Kind.EXIT;
        }
        if (System.nanoTime() - backoffUntil < 0) {
            return Kind.IDLE;
        }
        boolean retryUnplaced = unplaced > 0 && System.nanoTime() - retryUnplacedAt >= 0;
        if ((refused > 0 || retryUnplaced) && inFlight == 0) {
            r.clearNoDemote();
            refused = 0;
            unplaced = 0;
        }
        boolean dramLevel = r.reclaimablePages() < r.demoteAhead();
        boolean ssdLevel = r.remote != null && r.ssd != null && r.ssd.freeSlots() < ssdAhead;
        ssdFirst = !ssdFirst;
        Kind k = ssdLevel && ssdFirst ? plan(ssdOnlyBelow, SSD, REMOTE) : Kind.IDLE;
        if (k == Kind.IDLE && dramLevel) {
            k = plan(r.dirtyDram, DRAM, r.belowDram());
        }
        if (k == Kind.IDLE && ssdLevel && !ssdFirst) {
            k = plan(ssdOnlyBelow, SSD, REMOTE);
        }
        return k;
    }

    /** Under the lock: picks a block needing a write from {@code from} to {@code to} and reserves it. */
    private Kind plan(IntPredicate needsWrite, int from, int to) {
        int e = admittedCandidate(needsWrite, from, to);
        if (e == NONE) {
            return Kind.IDLE;
        }
        int at = -1;
        if (to == SSD) {
            at = allocateSlot(e);
            if (at < 0) {
                r.metrics.add(Counter.DEMOTE_DECLINED_BLOCKS, 1);
                refuse(e);
                return Kind.IDLE;
            }
            r.demoterSlots++;
        }
        planned = spare.poll();
        planned.reserve(e, to, at);
        inFlight++;
        return Kind.WRITE;
    }

    /**
     * Under the lock: an SSD slot for {@code e}, evicting no ancestor of {@code e} nor of a block
     * being written to the SSD (that block would land there without its parent, which keeps the
     * parent stuck in DRAM above an SSD-only child).
     */
    private int allocateSlot(int e) {
        keepPrefixesOfSsdWrites(true);
        try {
            return r.allocateSlotKeeping(e);
        } finally {
            keepPrefixesOfSsdWrites(false);
        }
    }

    private void keepPrefixesOfSsdWrites(boolean on) {
        for (Write w : writes) {
            if (w.active && w.target == SSD) {
                r.setAncestorFlag(w.entry, Residency.KEEP, on);
            }
        }
    }

    /**
     * The next candidate admission lets be written to {@code to}; candidates it refuses are
     * flagged REJECTED (counted), so they stay where they are until evicted or hit again.
     */
    private int admittedCandidate(IntPredicate needsWrite, int from, int to) {
        IoEngine io = to == SSD ? ssdIo : remoteIo;
        for (int tries = 0; tries < CANDIDATES; tries++) {
            int e = nextCandidate(needsWrite, from, to);
            if (e == NONE || (flushing ? r.admission.admitFlush(to, e)
                    : r.admission.admitWrite(to, e, r.chainSample(e), io.writePressure()))) {
                return e;
            }
            if (flushing) {
                r.index.setFlags(e, r.index.flags(e) | Residency.FLUSH_REFUSED);
            } else {
                r.setRejected(e, true);
            }
            r.metrics.add(Counter.REJECTED_BLOCKS, to, 1);
        }
        return NONE;
    }

    /**
     * The topmost ancestor needing the write of the coldest block of tier {@code from} that needs
     * it and whose parent is already in {@code to} (or on its way), looking at up to
     * {@link #CANDIDATES} blocks; candidates passed over are flagged SKIP only for the search.
     */
    private int nextCandidate(IntPredicate needsWrite, int from, int to) {
        int chosen = NONE;
        int n = 0;
        while (n < CANDIDATES) {
            int e = topmost(r.orders[from].victim(needsWrite), needsWrite);
            if (e == NONE || parentWritten(e, to)) {
                chosen = e;
                break;
            }
            r.index.setFlags(e, r.index.flags(e) | Residency.SKIP);
            skipped[n++] = e;
        }
        for (int i = 0; i < n; i++) {
            r.index.setFlags(skipped[i], r.index.flags(skipped[i]) & ~Residency.SKIP);
        }
        return chosen;
    }

    /** True when {@code e}'s parent is the namespace root, in {@code tier}, or being written. */
    private boolean parentWritten(int e, int tier) {
        int p = r.index.parent(e);
        return p == NONE || r.index.hasCopy(p, tier) || (r.index.flags(p) & Residency.MOVING) != 0;
    }

    private int topmost(int e, IntPredicate needsWrite) {
        if (e == NONE) {
            return NONE;
        }
        for (int p = r.index.parent(e); p != NONE && needsWrite.test(p); p = r.index.parent(p)) {
            e = p;
        }
        return e;
    }

    /**
     * Sets {@code e} aside (NO_DEMOTE) and backs off; the flags are cleared when the backoff ends.
     * A running flush stops instead.
     */
    private void refuse(int e) {
        if (flushing) {
            flushStopped = true;
            return;
        }
        r.index.setFlags(e, r.index.flags(e) | Residency.NO_DEMOTE);
        refused++;
        backOff();
    }

    private void backOff() {
        failures = Math.min(failures + 1, 6);
        backoffUntil = System.nanoTime() + Math.min(MAX_BACKOFF_NS, TimeUnit.MILLISECONDS.toNanos(100) << (failures - 1));
    }

    /** Hands a planned write to its device's engine; it completes on an I/O thread. */
    private void submit(Write w) {
        IoEngine io = w.target == SSD ? ssdIo : remoteIo;
        CompletableFuture<Void> f;
        try {
            f = io.tryWrite(w::run);
        } catch (RuntimeException | Error e) {
            LOG.error("kvtier: submitting a demotion failed", e);
            w.failure = Counter.DEMOTE_FAILED_BLOCKS;
            complete(w);
            return;
        }
        if (f == null) {
            w.failure = Counter.DEMOTE_DECLINED_BLOCKS;
            complete(w);
            return;
        }
        f.whenComplete((v, error) -> {
            if (error != null) {
                if (!io.device().failed()) { // a failed device logged its fault once
                    LOG.warn("kvtier: demotion to {} failed: {}", io.device().describe(), error.toString());
                }
                w.failure = Counter.DEMOTE_FAILED_BLOCKS;
            }
            complete(w);
        });
    }

    /** Under the lock: settles a write whatever happened; the write slot is free again after. */
    private void complete(Write w) {
        r.lock.lock();
        try {
            if (w.failure != null) {
                r.admission.onWriteDeclined(w.target);
            }
            w.complete();
        } catch (RuntimeException | Error e) {
            LOG.error("kvtier: completing a demotion failed", e);
        } finally {
            inFlight--;
            spare.add(w);
            r.work.signalAll();
            r.lock.unlock();
        }
    }

    /** One demotion write: its block, its target and, once chosen, its slot. */
    private final class Write {
        private final SlotHeader header = new SlotHeader();
        private final int[] ranked = new int[r.remote == null ? 0 : r.remote.ways()];
        private ByteBuffer staging;
        private int entry;
        private int target;
        private int slot;
        /** DRAM page of the block, or -1 when it is copied from its SSD slot. */
        private int page;
        private int sourceSlot;
        /** What to count when the write did not happen, or null. */
        private Counter failure;
        /** No slot of the remote set could be replaced: only this block is set aside. */
        private boolean unplaceable;
        /** Reserved and not yet completed. */
        private boolean active;

        /** Under the lock: pins and flags the block, notes its source and builds its header. */
        void reserve(int e, int to, int ssdSlot) {
            entry = e;
            target = to;
            slot = ssdSlot;
            failure = null;
            unplaceable = false;
            active = true;
            page = r.index.hasCopy(e, DRAM) ? r.index.location(e, DRAM) : -1;
            sourceSlot = page < 0 ? r.index.location(e, SSD) : -1;
            r.index.pin(e);
            r.index.setFlags(e, r.index.flags(e) | Residency.MOVING);
            int ns = r.index.namespace(e);
            int parent = r.index.parent(e);
            header.keyHi = r.index.keyHi(e);
            header.keyLo = r.index.keyLo(e);
            header.namespaceHi = r.namespaceHi(ns);
            header.namespaceLo = r.namespaceLo(ns);
            header.parentHi = parent == NONE ? header.namespaceHi : r.index.keyHi(parent);
            header.parentLo = parent == NONE ? header.namespaceLo : r.index.keyLo(parent);
            header.position = r.index.position(e);
        }

        /** On an I/O thread: reads the source if needed, places a remote block, writes. */
        long run() throws IOException {
            ByteBuffer block = page >= 0 ? r.dram.view(page) : readSource();
            if (block == null) {
                failure = Counter.DEMOTE_FAILED_BLOCKS;
                return 0;
            }
            if (target == REMOTE && !claimRemoteSlot()) {
                unplaceable = true;
                failure = Counter.DEMOTE_DECLINED_BLOCKS;
                return 0;
            }
            (target == SSD ? r.ssd : r.remote.slots()).write(slot, block, header);
            return header.storedLength;
        }

        /** The block's bytes from its SSD slot, verified, or null when they cannot be read. */
        private ByteBuffer readSource() {
            if (staging == null) {
                staging = ByteBuffer.allocateDirect(r.dram.blockBytes());
            }
            ReadStatus st = r.ssd.read(sourceSlot, header.keyHi, header.keyLo, header.namespaceHi,
                    header.namespaceLo, staging.clear());
            return st == ReadStatus.OK ? staging : null;
        }

        /**
         * Reads the set's headers, then takes the best slot the local index may give up: one
         * whose owner the prefix rule lets go, else one whose owner only has descendants.
         */
        private boolean claimRemoteSlot() throws IOException {
            r.remote.rankSlots(header.keyHi, header.keyLo, ranked);
            r.lock.lock();
            try {
                for (int pass = 0; pass < 2; pass++) {
                    for (int candidate : ranked) {
                        if (r.remoteSlotReplaceable(candidate, entry, pass == 0) && r.claimRemoteSlot(candidate)) {
                            slot = candidate;
                            return true;
                        }
                    }
                }
                return false;
            } finally {
                r.lock.unlock();
            }
        }

        /** Under the lock: the block gains its copy, or the write is counted and the block set aside. */
        void complete() {
            active = false;
            if (target == REMOTE && slot >= 0) {
                r.releaseRemoteSlot(slot);
            }
            r.demoterSlots -= target == SSD ? 1 : 0;
            r.index.setFlags(entry, r.index.flags(entry) & ~Residency.MOVING);
            if (failure == null) {
                published();
            } else {
                r.metrics.add(failure, 1);
                if (target == SSD) {
                    r.ssd.release(slot);
                }
                if (unplaceable && flushing) {
                    r.index.setFlags(entry, r.index.flags(entry) | Residency.FLUSH_REFUSED);
                } else if (unplaceable) {
                    r.index.setFlags(entry, r.index.flags(entry) | Residency.NO_DEMOTE);
                    if (unplaced++ == 0) {
                        retryUnplacedAt = System.nanoTime() + UNPLACED_RETRY_NS;
                    }
                } else {
                    refuse(entry);
                }
            }
            r.unpin(entry);
        }

        private void published() {
            boolean live = r.index.isLive(entry);
            if (target == REMOTE) {
                r.addRemoteCopy(entry, slot);
                if (!live) {
                    r.wipeRemote(entry, slot, false);
                }
            } else if (live) {
                r.addCopy(entry, SSD, slot);
            } else {
                r.pendingWipes.add(slot);
            }
            if (live) {
                flushWritten += flushing ? 1 : 0;
                r.metrics.add(Counter.FLUSHED_BLOCKS, target, flushing ? 1 : 0);
                r.metrics.add(Counter.STORED_BLOCKS, target, 1);
                r.metrics.add(Counter.STORED_BYTES, target, header.blockLength);
                r.metrics.add(Counter.ENCODED_BYTES, target, header.storedLength);
                failures = 0;
            }
        }
    }

    private void wipe() {
        boolean ok;
        try {
            r.ssd.wipe(slot);
            ok = true;
        } catch (IOException | RuntimeException | Error e) {
            if (!r.ssd.device().failed()) {
                LOG.warn("kvtier: wiping slot {} of {} failed: {}", slot, r.ssd.device().describe(), e.toString());
            }
            ok = false;
        }
        r.lock.lock();
        try {
            r.demoterSlots--;
            r.ssd.release(slot);
            r.metrics.add(ok ? Counter.WIPED_SLOTS : Counter.WRITE_ERRORS, SSD, 1);
        } finally {
            r.lock.unlock();
        }
    }

    /**
     * Wipes a remote slot under its condition ({@link Residency.RemoteWipe}); the slot is claimed
     * meanwhile so that no write of ours lands in it between the check and the wipe.
     */
    private void wipeRemote() {
        Residency.RemoteWipe w = remoteWipe;
        if (!claim(w.slot())) {
            return; // one of our writes is replacing it anyway
        }
        boolean ok = true;
        boolean wiped = false;
        try {
            if (stillToWipe(w)) {
                r.remote.slots().wipe(w.slot());
                wiped = true;
            }
        } catch (IOException | RuntimeException | Error e) {
            LOG.warn("kvtier: wiping remote slot {} failed: {}", w.slot(), e.toString());
            ok = false;
        }
        r.lock.lock();
        try {
            r.releaseRemoteSlot(w.slot());
            r.metrics.add(ok ? Counter.WIPED_SLOTS : Counter.WRITE_ERRORS, REMOTE, ok && !wiped ? 0 : 1);
        } finally {
            r.lock.unlock();
        }
    }

    private boolean claim(int slot) {
        r.lock.lock();
        try {
            return r.claimRemoteSlot(slot);
        } finally {
            r.lock.unlock();
        }
    }

    /** Whether the slot still holds the key (and, for a corrupt block, still fails its check). */
    private boolean stillToWipe(Residency.RemoteWipe w) throws IOException {
        SlotTier t = r.remote.slots();
        if (!w.onlyIfCorrupt()) {
            return t.readHeader(w.slot(), found) && found.keyHi == w.keyHi() && found.keyLo == w.keyLo();
        }
        if (wipeBuffer == null) {
            wipeBuffer = ByteBuffer.allocateDirect(r.dram.blockBytes());
        }
        return t.read(w.slot(), w.keyHi(), w.keyLo(), w.nsHi(), w.nsLo(), wipeBuffer.clear()) == ReadStatus.CORRUPT;
    }
}
