package dev.kvtier;

import static dev.kvtier.BlockTable.SSD;

import dev.kvtier.format.InvalidationTable;
import dev.kvtier.metrics.CacheMetrics.Counter;
import dev.kvtier.format.SlotHeader;
import java.io.IOException;
import dev.kvtier.tier.SlotTier;
import java.util.Arrays;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Warm restart: reads the SSD tier's slot headers (payloads are verified later, on every read)
 * into primitive arrays and hands them to {@link BlockTable#recover} in order of prompt position,
 * so that every parent is entered before its children, with the device's invalidation table
 * (blocks of a namespace invalidated after they were written are discarded). Unreadable slots are kept out of use
 * until the next open; corrupt headers and headers from an earlier life of the device are
 * queued for a wipe.
 */
final class SsdRecovery implements SlotTier.ScanVisitor {
    private static final Logger LOG = LoggerFactory.getLogger(KvTierCache.class);
    private final BlockTable r;
    /** The valid headers found, in scan order. */
    final Scan scan;

    /** The valid headers of a scan: record {@code i} is slot {@code slot[i]}; keys as (hi, lo) pairs at {@code 2i}. */
    record Scan(int[] slot, long[] key, long[] parent, long[] ns, int[] position, long[] epoch, int[] count) {
        Scan(int capacity) {
            this(new int[capacity], new long[2 * capacity], new long[2 * capacity], new long[2 * capacity],
                    new int[capacity], new long[capacity], new int[1]);
        }

        int found() {
            return count[0];
        }

        /** Record numbers sorted by prompt position. */
        int[] byPosition() {
            long[] order = new long[found()];
            for (int i = 0; i < order.length; i++) {
                order[i] = ((long) position[i] << 32) | i;
            }
            Arrays.sort(order);
            int[] records = new int[order.length];
            for (int i = 0; i < order.length; i++) {
                records[i] = (int) order[i];
            }
            return records;
        }
    }

    private SsdRecovery(BlockTable r) {
        this.r = r;
        this.scan = new Scan(r.ssd.slotCount());
    }

    /** Rebuilds the index of the SSD tier; returns the milliseconds it took. Call before the cache is shared. */
    static long recover(BlockTable r) throws IOException {
        long t0 = System.nanoTime();
        if (r.ssd.formatted()) {
            return 0;
        }
        SsdRecovery rec = new SsdRecovery(r);
        InvalidationTable invalid = r.ssd.readInvalidations();
        r.ssd.scan(rec);
        r.recover(rec.scan, invalid);
        long nanos = System.nanoTime() - t0;
        long blocks = r.metrics.get(Counter.RECOVERED_BLOCKS, SSD);
        long discarded = r.metrics.get(Counter.RECOVERY_DISCARDED_SLOTS, SSD);
        LOG.info("kvtier: recovered {} blocks from {} in {} ms ({} slots discarded, {} unreadable)", blocks,
                r.ssd.describe(), nanos / 1_000_000, discarded, r.metrics.get(Counter.READ_ERRORS, SSD));
        r.metrics.observers().recovery(SSD, blocks, discarded, nanos);
        return nanos / 1_000_000;
    }

    @Override
    public void unreadable(int s) {
        r.quarantineSlot(s);
    }

    @Override
    public void unusable(int s) {
        r.discardSlot(s);
    }

    @Override
    public void slot(int s, SlotHeader h) {
        int i = scan.count[0]++;
        scan.slot[i] = s;
        scan.key[2 * i] = h.keyHi;
        scan.key[2 * i + 1] = h.keyLo;
        scan.parent[2 * i] = h.parentHi;
        scan.parent[2 * i + 1] = h.parentLo;
        scan.ns[2 * i] = h.namespaceHi;
        scan.ns[2 * i + 1] = h.namespaceLo;
        scan.position[i] = h.position;
        scan.epoch[i] = h.epoch;
    }
}
