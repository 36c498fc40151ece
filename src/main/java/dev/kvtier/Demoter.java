package dev.kvtier;

import static dev.kvtier.index.BlockIndex.NONE;

import dev.kvtier.format.SlotHeader;
import dev.kvtier.metrics.CacheMetrics.Counter;
import java.io.IOException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The background thread that moves blocks down from DRAM to the SSD tier, off the callers'
 * threads. It keeps {@link Residency#demoteAhead()} DRAM pages reclaimable (free, or clean: a
 * copy also on SSD) by writing the coldest DRAM-only blocks to SSD, so that a store evicts a
 * clean copy and loses nothing. Of the coldest such block it first writes the topmost ancestor
 * that is DRAM-only too, writes a block only once its parent is on SSD (or on its way), and
 * never evicts an ancestor's SSD copy to make room for it, so the SSD holds whole prefixes and
 * a restart finds them.
 *
 * <p>A block being written is pinned and flagged {@code MOVING}: it stays readable in DRAM and
 * cannot be evicted; it gains its SSD copy only when the write has completed. If it was
 * invalidated meanwhile, the slot is wiped instead. A failed write (device full or failing) or
 * a block that cannot be placed is set aside ({@code NO_DEMOTE}), counted, and the demoter backs
 * off, doubling from 100 ms up to 5 s; when the backoff ends the set-aside blocks are eligible
 * again. Meanwhile the cache keeps serving from DRAM. The thread also wipes slots queued by
 * invalidation and corruption; on close it finishes what it is doing and drains the wipes.
 */
final class Demoter implements Runnable {
    private static final Logger LOG = LoggerFactory.getLogger(Demoter.class);
    private static final long IDLE_WAIT_MS = 100;
    private static final long MAX_BACKOFF_NS = TimeUnit.SECONDS.toNanos(5);
    /** Blocks looked at per search for one whose parent is already on SSD. */
    private static final int CANDIDATES = 32;

    private enum Kind { IDLE, WRITE, WIPE, EXIT }

    private final Residency r;
    private final Thread thread;
    private final SlotHeader header = new SlotHeader();
    private final int[] skipped = new int[CANDIDATES];
    private int entry;
    private int slot;
    private int page;
    private int failures;
    /** Blocks set aside since the last backoff ended. */
    private int refused;
    private long backoffUntil = System.nanoTime();

    Demoter(Residency residency) {
        this.r = residency;
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

    /** Stops after the task in progress and the queued wipes. The caller must not hold the lock. */
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
                    write();
                } else {
                    wipe();
                }
            } catch (RuntimeException | Error e) {
                LOG.error("kvtier: the demoter survived an unexpected error", e);
            }
        }
    }

    private Kind awaitTask() {
        r.lock.lock();
        try {
            Kind k = nextTask();
            while (k == Kind.IDLE) {
                r.demoterIdleRounds++;
                r.demoterIdle.signalAll();
                r.work.awaitNanos(TimeUnit.MILLISECONDS.toNanos(IDLE_WAIT_MS));
                k = nextTask();
            }
            return k;
        } catch (InterruptedException e) {
            return Kind.EXIT;
        } finally {
            r.lock.unlock();
        }
    }

    /** Under the lock: the next wipe, or the next block to write with its slot reserved. */
    private Kind nextTask() {
        if (!r.pendingWipes.isEmpty()) {
            slot = r.pendingWipes.poll();
            r.demoterSlots++;
            return Kind.WIPE;
        }
        if (r.closed) {
            return Kind.EXIT;
        }
        if (System.nanoTime() - backoffUntil < 0 || r.reclaimablePages() >= r.demoteAhead()) {
            return Kind.IDLE;
        }
        if (refused > 0) {
            r.clearNoDemote();
            refused = 0;
        }
        int e = nextCandidate();
        if (e == NONE) {
            return Kind.IDLE;
        }
        slot = r.allocateSlotKeeping(e);
        if (slot < 0) {
            r.metrics.add(Counter.DEMOTE_DECLINED_BLOCKS, 1);
            refuse(e);
            return Kind.IDLE;
        }
        r.demoterSlots++;
        reserve(e);
        return Kind.WRITE;
    }

    /**
     * The topmost DRAM-only ancestor of the coldest DRAM-only block whose parent is already on
     * SSD (or on its way), looking at up to {@link #CANDIDATES} blocks; candidates passed over
     * are flagged SKIP only for the duration of the search.
     */
    private int nextCandidate() {
        int found = NONE;
        int n = 0;
        while (n < CANDIDATES) {
            int e = topmostDirtyAncestor(r.coldestDirty());
            if (e == NONE || parentWritten(e)) {
                found = e;
                break;
            }
            r.index.setFlags(e, r.index.flags(e) | Residency.SKIP);
            skipped[n++] = e;
        }
        for (int i = 0; i < n; i++) {
            r.index.setFlags(skipped[i], r.index.flags(skipped[i]) & ~Residency.SKIP);
        }
        return found;
    }

    /** True when {@code e}'s parent is the namespace root, on SSD, or being written there. */
    private boolean parentWritten(int e) {
        int p = r.index.parent(e);
        return p == NONE || r.index.hasCopy(p, Residency.SSD) || (r.index.flags(p) & Residency.MOVING) != 0;
    }

    /** Sets {@code e} aside (NO_DEMOTE) and backs off; the flags are cleared when the backoff ends. */
    private void refuse(int e) {
        r.index.setFlags(e, r.index.flags(e) | Residency.NO_DEMOTE);
        refused++;
        backOff();
    }

    private void backOff() {
        failures = Math.min(failures + 1, 6);
        backoffUntil = System.nanoTime() + Math.min(MAX_BACKOFF_NS, TimeUnit.MILLISECONDS.toNanos(100) << (failures - 1));
    }

    private int topmostDirtyAncestor(int e) {
        if (e == NONE) {
            return NONE;
        }
        for (int p = r.index.parent(e); p != NONE && r.isDirty(p); p = r.index.parent(p)) {
            e = p;
        }
        return e;
    }

    private void reserve(int e) {
        entry = e;
        page = r.index.location(e, Residency.DRAM);
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

    private void write() {
        boolean ok;
        try {
            r.ssd.write(slot, r.dram.view(page), header);
            ok = true;
        } catch (IOException | RuntimeException | Error e) {
            LOG.warn("kvtier: demotion to {} failed: {}", r.ssd.device().describe(), e.toString());
            ok = false;
        }
        completeWrite(ok);
    }

    private void completeWrite(boolean ok) {
        r.lock.lock();
        try {
            r.demoterSlots--;
            r.index.setFlags(entry, r.index.flags(entry) & ~Residency.MOVING);
            if (ok && r.index.isLive(entry)) {
                r.addCopy(entry, Residency.SSD, slot);
                r.metrics.add(Counter.STORED_BLOCKS, Residency.SSD, 1);
                r.metrics.add(Counter.STORED_BYTES, Residency.SSD, header.blockLength);
                r.metrics.add(Counter.ENCODED_BYTES, Residency.SSD, header.storedLength);
                failures = 0;
            } else if (ok) {
                r.pendingWipes.add(slot);
            } else {
                r.metrics.add(Counter.DEMOTE_FAILED_BLOCKS, 1);
                r.ssd.release(slot);
                refuse(entry);
            }
            r.unpin(entry);
        } finally {
            r.lock.unlock();
        }
    }

    private void wipe() {
        boolean ok;
        try {
            r.ssd.wipe(slot);
            ok = true;
        } catch (IOException | RuntimeException | Error e) {
            LOG.warn("kvtier: wiping slot {} of {} failed: {}", slot, r.ssd.device().describe(), e.toString());
            ok = false;
        }
        r.lock.lock();
        try {
            r.demoterSlots--;
            r.ssd.release(slot);
            r.metrics.add(ok ? Counter.WIPED_SLOTS : Counter.WRITE_ERRORS, Residency.SSD, 1);
        } finally {
            r.lock.unlock();
        }
    }
}
