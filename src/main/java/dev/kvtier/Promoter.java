package dev.kvtier;

import static dev.kvtier.index.BlockIndex.NONE;

import dev.kvtier.io.IoEngine;
import dev.kvtier.metrics.CacheObserver.Outcome;
import dev.kvtier.tier.DramTier;
import dev.kvtier.tier.SlotTier.ReadStatus;
import java.nio.ByteBuffer;
import java.util.concurrent.ArrayBlockingQueue;

/**
 * Promotion into DRAM after a load, off its critical path. A block loaded from a tier whose
 * reads are memory copies (a page-cached file) is read straight into the caller's buffer;
 * copying it into DRAM as well would add a copy to the caller's wait, so the load only queues
 * it ({@link BlockTable#settleLoad}) and this class reads it again, into a DRAM page, on that
 * tier's I/O engine, verified like any read ({@link BlockTable#beginPromotion},
 * {@link BlockTable#completePromotion}). Tiers of real device I/O keep promoting within the load,
 * where one read serves both.
 *
 * <p>At most {@value #IN_FLIGHT} promotions run at once, each through a pooled request, so a
 * promotion allocates nothing. Best effort: a block that cannot have a clean page, or is
 * queued while the queue is full, is not promoted.
 */
final class Promoter {
    static final int IN_FLIGHT = 4;

    private final BlockTable table;
    private final ArrayBlockingQueue<PromotionRead> spare = new ArrayBlockingQueue<>(IN_FLIGHT);

    Promoter(BlockTable table) {
        this.table = table;
        for (int i = 0; i < IN_FLIGHT; i++) {
            spare.add(new PromotionRead());
        }
    }

    /** Starts queued promotions while a request is free. Any thread; takes no lock of its own. */
    void run() {
        for (PromotionRead r; (r = spare.poll()) != null; ) {
            int e = table.beginPromotion(r.plan, r.key);
            if (e == NONE) {
                spare.add(r);
                if (!table.promotionsQueued()) {
                    return;
                }
                continue; // queued meanwhile by a load that found no free request
            }
            r.entry = e;
            r.t0 = System.nanoTime();
            table.device(r.plan[0]).io(r.plan[1]).submitRead(r);
        }
    }

    /**
     * Starts what is queued and waits until no promotion is under way and none is queued. The
     * in-flight count alone can reach 0 with a block still queued: a thread that took a free
     * request has not yet begun its promotion when the others complete; so this starts and
     * waits again until the queue is empty too.
     */
    void awaitIdle() {
        do {
            run();
            table.awaitPromotions();
        } while (table.promotionsQueued());
    }

    /** One promotion read: a block's bytes from its device slot into its new DRAM page. */
    private final class PromotionRead implements IoEngine.Request {
        /** Tier, location and DRAM page ({@link BlockTable#beginPromotion}). */
        private final int[] plan = new int[3];
        /** Key and namespace words. */
        private final long[] key = new long[4];
        private final DramTier.Window window = table.dram.window();
        private int entry;
        private ReadStatus status;
        private long t0;

        @Override
        public long run() {
            ByteBuffer page = window.of(plan[2]);
            status = table.device(plan[0]).read(plan[1], key[0], key[1], key[2], key[3], page);
            return page.remaining();
        }

        @Override
        public void done(Throwable failure) {
            int e = entry;
            boolean ok = failure == null && status == ReadStatus.OK;
            Outcome outcome = failure != null ? Outcome.IO_ERROR : Outcomes.of(status);
            status = null;
            try {
                boolean promoted = table.completePromotion(e, plan[0], plan[2], ok);
                table.metrics.observers().promotion(plan[0], 1, table.dram.blockBytes(), System.nanoTime() - t0,
                        promoted || !ok ? outcome : Outcome.DROPPED);
            } finally {
                spare.add(this);
            }
            Promoter.this.run();
        }
    }
}
