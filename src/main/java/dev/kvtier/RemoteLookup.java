package dev.kvtier;

import static dev.kvtier.BlockTable.REMOTE;

import dev.kvtier.io.IoEngine;
import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import dev.kvtier.metrics.CacheMetrics.Counter;
import dev.kvtier.metrics.CacheObserver.Outcome;
import dev.kvtier.format.InvalidationTable;
import dev.kvtier.tier.SharedSlotTier;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Keeps the local index of the shared remote tier fresh enough to find blocks that other
 * processes wrote there, with no metadata server.
 *
 * <p><b>Algorithm.</b> When a {@code match} finds its local prefix shorter than its keys, the
 * sets of the next up to {@link #LOOKAHEAD} keys are read (each set's {@code ways} headers, see
 * {@link SharedSlotTier#find}), all at once on the remote device's {@link IoEngine}. The
 * leading keys found, each whose parent is already in the index, are entered as READY blocks
 * with a REMOTE copy, so the match goes on through them; when all were found, the next
 * {@code LOOKAHEAD} keys are read the same way. The lookahead stops at the first set
 * read without success in the last {@code recheckMillis} (a negative cache, one timestamp per
 * set), so a prompt nobody has stored costs one round of header reads per set per interval,
 * not per match.
 *
 * <p><b>Cost.</b> On a local miss: {@code ways} header reads (one device alignment unit each)
 * per key probed, {@code LOOKAHEAD} keys in parallel on the engine's threads, so about
 * {@code ways} network round trips per {@code LOOKAHEAD} blocks found, and per miss;
 * nothing when the local prefix covers all keys. What is entered here is
 * a belief: {@code load} verifies the header and payload again, and a block overwritten since
 * by another writer becomes a miss there.
 */
final class RemoteLookup {
    /** Keys beyond the local prefix whose sets are read per match. */
    static final int LOOKAHEAD = 16;

    private final BlockTable r;
    private final long recheckNanos;
    /** The most one match waits for set headers. */
    private final long budgetNanos;
    /** Per set: {@code System.nanoTime()} of the last read that found nothing, 0 if none. Racy by design: a lost update costs one extra probe. */
    private final long[] fruitlessAt;

    RemoteLookup(BlockTable r, long recheckMillis, long budgetMillis) {
        this.budgetNanos = budgetMillis * 1_000_000L;
        this.r = r;
        this.recheckNanos = recheckMillis * 1_000_000L;
        this.fruitlessAt = new long[r.remote.sets()];
    }

    /** This process's invalidations of the remote device: namespace → epoch, re-recorded when another writer's table update lost one. */
    private final Map<List<Long>, Long> ownInvalidations = new HashMap<>();

    /** Records on the remote device that namespace {@code (hi, lo)} is invalid up to {@code epoch}. */
    void recordInvalidation(long hi, long lo, long epoch) throws IOException {
        synchronized (ownInvalidations) {
            ownInvalidations.merge(List.of(hi, lo), epoch, Math::max);
        }
        r.remote.recordInvalidation(hi, lo, epoch);
    }

    /**
     * Reads the remote device's invalidation table, records again this process's invalidations it
     * lacks (two writers updating the table at once can lose one), and applies the others' to the
     * block table. Returns the namespaces newly invalidated by others (see
     * {@link BlockTable#applyRemoteInvalidations}).
     */
    List<long[]> refreshInvalidations() throws IOException {
        DeviceTier device = r.remote;
        InvalidationTable t = device.readInvalidations();
        List<Map.Entry<List<Long>, Long>> own;
        synchronized (ownInvalidations) {
            own = new ArrayList<>(ownInvalidations.entrySet());
        }
        for (Map.Entry<List<Long>, Long> o : own) {
            long hi = o.getKey().get(0);
            long lo = o.getKey().get(1);
            if (t.invalidatedUpTo(hi, lo) < o.getValue()) {
                t = device.recordInvalidation(hi, lo, o.getValue());
            }
        }
        return r.applyRemoteInvalidations(t);
    }

    /** Enters the remote blocks that extend the local prefix of {@code keys}; returns how many. */
    int discover(BlockKey[] keys) {
        int total = 0;
        int from = r.readyPrefix(keys);
        while (true) {
            int n = probeCount(keys, from);
            int entered = n == 0 ? 0 : probe(keys, from, n);
            total += entered;
            if (entered < n || n < LOOKAHEAD) {
                return total;
            }
            from += n;
        }
    }

    /** Reads the sets of keys {@code from..from+n} at once and enters the leading ones found. */
    private int probe(BlockKey[] keys, int from, int n) {
        int[] slots = new int[n];
        long[] epochs = new long[n];
        CompletableFuture<?>[] reads = new CompletableFuture<?>[n];
        for (int i = 0; i < n; i++) {
            int k = i;
            BlockKey key = keys[from + i];
            Namespace ns = key.namespace();
            reads[i] = r.remote.ioForKey(key.hi(), key.lo()).submitRead(() -> {
                slots[k] = r.remote.find(key.hi(), key.lo(), ns.rootHi(), ns.rootLo(), epochs, k);
                return 0;
            });
        }
        int[] found = new int[n];
        long[] foundEpochs = new long[n];
        int failed = await(reads, slots, epochs, found, foundEpochs);
        r.metrics.add(Counter.READ_ERRORS, REMOTE, failed);
        if (failed > 0) {
            r.errors.report(REMOTE, r.remote.describe(), "a lookup", Outcome.IO_ERROR,
                    failed + " set reads failed or timed out; those keys are not matched");
        }
        return enter(keys, from, found, foundEpochs);
    }

    /** How many keys from {@code from} to probe: up to the first set known fruitless. */
    private int probeCount(BlockKey[] keys, int from) {
        int max = Math.min(LOOKAHEAD, keys.length - from);
        long now = System.nanoTime();
        for (int i = 0; i < max; i++) {
            long at = fruitlessAt[r.remote.setOf(keys[from + i].hi(), keys[from + i].lo())];
            if (at != 0 && now - at < recheckNanos) {
                return i;
            }
        }
        return max;
    }

    /** Waits for every read; a failed one reads as not found. Returns the failures. */
    /**
     * Waits for the reads, within the lookup budget, and copies what they found to {@code found}
     * and {@code foundEpochs}: a slot, -1 (not there, or the read failed) or -2 (no answer in
     * time: not matched now, and its set not marked fruitless; the read is cancelled or its
     * answer ignored). Returns the failed reads.
     */
    private int await(CompletableFuture<?>[] reads, int[] slots, long[] epochs, int[] found, long[] foundEpochs) {
        long deadline = System.nanoTime() + budgetNanos;
        int failed = 0;
        for (int i = 0; i < reads.length; i++) {
            try {
                reads[i].get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                found[i] = slots[i];
                foundEpochs[i] = epochs[i];
            } catch (TimeoutException e) {
                reads[i].cancel(false);
                found[i] = -2;
            } catch (ExecutionException | CancellationException e) {
                found[i] = -1;
                failed++;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                found[i] = -2;
            }
        }
        return failed;
    }

    /** Enters the leading found keys; marks the set of the first key not found fruitless. */
    private int enter(BlockKey[] keys, int from, int[] slots, long[] epochs) {
        int n = r.enterDiscovered(keys, from, slots, epochs);
        if (n < slots.length && slots[n] == -1) {
            BlockKey missed = keys[from + n];
            fruitlessAt[r.remote.setOf(missed.hi(), missed.lo())] = System.nanoTime();
        }
        return n;
    }
}
