package dev.kvtier;

import static dev.kvtier.index.BlockIndex.NONE;

import dev.kvtier.format.SlotHeader;
import dev.kvtier.index.BlockIndex;
import dev.kvtier.metrics.CacheMetrics.Counter;
import dev.kvtier.tier.SlotTier;
import java.util.Arrays;
import java.util.stream.IntStream;

/**
 * Warm restart: rebuilds the index of the SSD tier from its slot headers alone (payloads are
 * verified later, on every read). Headers are scanned once into primitive arrays, then
 * inserted in order of prompt position, so that every parent is in the index before its
 * children. A slot is discarded (queued for a wipe) when its header is corrupt, unreadable or
 * from an earlier life of the device, when its parent is not on the device (its parent was still only
 * in DRAM at the crash), or when a newer write of the same key exists (higher epoch). The
 * blocks then join the SSD eviction order oldest write first.
 */
final class SsdRecovery implements SlotTier.ScanVisitor {
    private final BlockTable r;
    private int unusable;
    private final int capacity;
    private int found;
    private final int[] slot;
    private final long[] key;
    private final long[] parent;
    private final long[] ns;
    private final int[] position;
    private final long[] epoch;

    private SsdRecovery(BlockTable r) {
        this.r = r;
        this.capacity = r.ssd.slotCount();
        slot = new int[capacity];
        key = new long[2 * capacity];
        parent = new long[2 * capacity];
        ns = new long[2 * capacity];
        position = new int[capacity];
        epoch = new long[capacity];
    }

    /** Rebuilds; returns the milliseconds it took. Call before the cache is shared. */
    static long recover(BlockTable r) {
        long t0 = System.nanoTime();
        if (r.ssd.formatted()) {
            return 0;
        }
        SsdRecovery rec = new SsdRecovery(r);
        r.ssd.scan(rec);
        rec.rebuild();
        return (System.nanoTime() - t0) / 1_000_000;
    }

    /** Kept out of use until the next open, not wiped: the read error may pass. */
    @Override
    public void unreadable(int s) {
        r.ssd.markUsed(s);
        r.metrics.add(Counter.READ_ERRORS, BlockTable.SSD, 1);
        r.quarantinedSlots++;
    }

    @Override
    public void unusable(int s) {
        r.ssd.markUsed(s);
        r.pendingWipes.add(s);
        unusable++;
    }

    @Override
    public void slot(int s, SlotHeader h) {
        int i = found++;
        slot[i] = s;
        key[2 * i] = h.keyHi;
        key[2 * i + 1] = h.keyLo;
        parent[2 * i] = h.parentHi;
        parent[2 * i + 1] = h.parentLo;
        ns[2 * i] = h.namespaceHi;
        ns[2 * i + 1] = h.namespaceLo;
        position[i] = h.position;
        epoch[i] = h.epoch;
    }

    private void rebuild() {
        long[] order = new long[found];
        for (int i = 0; i < found; i++) {
            order[i] = ((long) position[i] << 32) | i;
        }
        Arrays.sort(order);
        long[] entryEpoch = new long[r.index.capacity()];
        int[] inserted = new int[found];
        int n = 0;
        int discarded = unusable;
        for (long o : order) {
            int i = (int) o;
            r.ssd.markUsed(slot[i]);
            int e = insert(i, entryEpoch);
            if (e == NONE) {
                r.pendingWipes.add(slot[i]);
                discarded++;
            } else if (e >= 0) {
                inserted[n++] = e;
            }
        }
        int[] byEpoch = IntStream.of(Arrays.copyOf(inserted, n)).boxed()
                .sorted((a, b) -> Long.compare(entryEpoch[a], entryEpoch[b])).mapToInt(Integer::intValue).toArray();
        for (int e : byEpoch) {
            r.publish(e);
            r.index.unpin(e);
        }
        r.metrics.add(Counter.RECOVERED_BLOCKS, BlockTable.SSD, n);
        r.metrics.add(Counter.RECOVERY_DISCARDED_SLOTS, BlockTable.SSD, discarded);
    }

    /**
     * Inserts record {@code i}: returns its new entry, {@link BlockIndex#NONE} to discard its
     * slot, or -2 when it replaced an older copy of the same key (whose slot is discarded).
     */
    private int insert(int i, long[] entryEpoch) {
        long kHi = key[2 * i];
        long kLo = key[2 * i + 1];
        int existing = r.index.find(kHi, kLo);
        if (existing != NONE) {
            if (epoch[i] <= entryEpoch[existing]) {
                return NONE;
            }
            r.pendingWipes.add(r.index.removeCopy(existing, BlockTable.SSD));
            r.index.addCopy(existing, BlockTable.SSD, slot[i]);
            entryEpoch[existing] = epoch[i];
            return -2;
        }
        int p = parentEntry(i);
        if (p == -2) {
            return NONE;
        }
        int e = r.index.insert(kHi, kLo, p, r.namespaceId(ns[2 * i], ns[2 * i + 1]), position[i]);
        r.index.addCopy(e, BlockTable.SSD, slot[i]);
        entryEpoch[e] = epoch[i];
        return e;
    }

    /** The parent's entry, NONE for a first block, or -2 when the record is an orphan or inconsistent. */
    private int parentEntry(int i) {
        if (position[i] == 0) {
            boolean rootIsNamespace = parent[2 * i] == ns[2 * i] && parent[2 * i + 1] == ns[2 * i + 1];
            return rootIsNamespace ? NONE : -2;
        }
        int p = r.index.find(parent[2 * i], parent[2 * i + 1]);
        if (p == NONE || r.index.position(p) != position[i] - 1
                || r.index.namespace(p) != r.namespaceId(ns[2 * i], ns[2 * i + 1])) {
            return -2;
        }
        return p;
    }
}
