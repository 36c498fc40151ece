package dev.kvtier.tier;

import dev.kvtier.format.SlotHeader;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * Set-associative placement on a {@link SlotTier} that several processes share (a remote block
 * device many inference servers attach), with no metadata server: the key chooses a set of
 * {@code ways} consecutive slots, a writer puts the block in one of them, and any reader finds
 * it by reading that set's headers.
 *
 * <p><b>Algorithm.</b> {@code set = mix64(hi ^ lo) mod sets}, slots {@code set * ways .. + ways}.
 * A writer takes, in this order, the slot that already holds the key (a refresh), an empty or
 * invalid slot, or the slot with the oldest write epoch (epochs follow the wall clock, so they
 * compare across writers; a writer also moves its own epochs past every epoch it reads in a
 * set, so its write orders after what it saw even when its clock lags). A reader looks for a
 * valid header with the key and namespace.
 *
 * <p><b>Epochs from the future.</b> A header whose epoch is more than
 * {@link #MAX_FUTURE_EPOCH_MS} ahead of this server's clock (a writer with a clock far ahead, or
 * a forged slot) is not found and is the first slot a writer replaces: it cannot make itself
 * the newest block of its set for good.
 *
 * <p><b>Races.</b> Two writers may pick the same slot. Each writes header and payload as one
 * write (see {@link SlotTier}'s write protocol), so the slot ends with either writer's block or
 * a mix; a mixed header fails its checksum and a header over another's payload fails its payload
 * CRC32C, so a race costs at most a miss, never a wrong block. A reader's view of a set may be stale the moment it is read; every read of a block
 * verifies header and payload again (see {@link SlotTier#read}).
 *
 * <p><b>Cost.</b> Finding a key reads {@code ways} headers (128 bytes each) in one batch (one
 * round trip on NBD, see {@link SlotTier#readHeaders}); placing one reads them too, and the
 * write is one more. Thread-safe as far as {@link SlotTier} is; per-thread scratch.
 */
public final class SharedSlotTier {
    /** How far ahead of this server's clock a header's epoch may be and still count (see the class comment). */
    public static final long MAX_FUTURE_EPOCH_MS = 60_000;

    private final SlotTier slots;
    private final int ways;
    private final int sets;
    private final ThreadLocal<SlotHeader[]> headers;
    private final ThreadLocal<long[]> scores;

    public SharedSlotTier(SlotTier slots, int ways) {
        if (ways < 1 || ways > Math.min(SlotTier.MAX_BATCH, slots.slotCount())) {
            throw new IllegalArgumentException("ways must be in [1, " + Math.min(SlotTier.MAX_BATCH, slots.slotCount())
                    + "], was " + ways);
        }
        this.slots = slots;
        this.ways = ways;
        this.sets = slots.slotCount() / ways;
        this.scores = ThreadLocal.withInitial(() -> new long[ways]);
        this.headers = ThreadLocal.withInitial(() -> {
            SlotHeader[] h = new SlotHeader[ways];
            Arrays.setAll(h, i -> new SlotHeader());
            return h;
        });
    }

    public SlotTier slots() {
        return slots;
    }

    public int ways() {
        return ways;
    }

    public int sets() {
        return sets;
    }

    /** The set a key lives in. */
    public int setOf(long keyHi, long keyLo) {
        long h = (keyHi ^ keyLo) * 0x9E3779B97F4A7C15L;
        h ^= h >>> 29;
        return (int) Math.floorMod(h, (long) sets);
    }

    /** As {@link #find(long, long, long, long, long[], int)}, without the epoch. */
    public int find(long keyHi, long keyLo, long nsHi, long nsLo) throws IOException {
        return find(keyHi, keyLo, nsHi, nsLo, new long[1], 0);
    }

    /**
     * The slot of the set of {@code (keyHi, keyLo)} whose header holds that key in that namespace,
     * or -1; its write epoch goes to {@code epochs[at]}.
     */
    public int find(long keyHi, long keyLo, long nsHi, long nsLo, long[] epochs, int at) throws IOException {
        SlotHeader[] h = headers.get();
        int first = setOf(keyHi, keyLo) * ways;
        long valid = slots.readHeaders(first, ways, h) & notFromTheFuture(h);
        for (int i = 0; i < ways; i++) {
            if ((valid & 1L << i) != 0 && h[i].keyHi == keyHi && h[i].keyLo == keyLo && h[i].namespaceHi == nsHi
                    && h[i].namespaceLo == nsLo) {
                epochs[at] = h[i].epoch;
                return first + i;
            }
        }
        return -1;
    }

    /** The slot a writer of {@code (keyHi, keyLo)} should use (see the class comment). */
    public int chooseSlot(long keyHi, long keyLo) throws IOException {
        int[] ranked = new int[ways];
        rankSlots(keyHi, keyLo, ranked);
        return ranked[0];
    }

    /**
     * Fills {@code into[0, ways)} with the slots of the key's set, best place for a write of the
     * key first: the slot holding the key, then empty or invalid slots, then the others, oldest
     * write epoch first. A caller that must keep some slots takes the first one it may replace.
     */
    public void rankSlots(long keyHi, long keyLo, int[] into) throws IOException {
        SlotHeader[] h = headers.get();
        long[] score = scores.get();
        int first = setOf(keyHi, keyLo) * ways;
        long valid = slots.readHeaders(first, ways, h) & notFromTheFuture(h);
        long newest = 0;
        for (int i = 0; i < ways; i++) {
            newest = (valid & 1L << i) != 0 ? Math.max(newest, h[i].epoch) : newest;
            long sc = (valid & 1L << i) == 0 ? Long.MIN_VALUE + 1
                    : h[i].keyHi == keyHi && h[i].keyLo == keyLo ? Long.MIN_VALUE : h[i].epoch;
            int j = i;
            for (; j > 0 && score[j - 1] > sc; j--) {
                score[j] = score[j - 1];
                into[j] = into[j - 1];
            }
            score[j] = sc;
            into[j] = first + i;
        }
        slots.advanceEpoch(newest);
    }

    /** The newest epoch another server may have written now: {@link #MAX_FUTURE_EPOCH_MS} ahead of this clock. */
    public static long latestCredibleEpoch() {
        return System.currentTimeMillis() + MAX_FUTURE_EPOCH_MS << 12;
    }

    /** Bit i set unless header i's epoch is beyond {@link #MAX_FUTURE_EPOCH_MS} ahead of now. */
    private long notFromTheFuture(SlotHeader[] h) {
        long bound = latestCredibleEpoch();
        long ok = 0;
        for (int i = 0; i < ways; i++) {
            ok |= h[i].epoch <= bound ? 1L << i : 0;
        }
        return ok;
    }

    /** Places and writes a block: {@link #chooseSlot} then {@link SlotTier#write}; returns the slot. */
    public int write(ByteBuffer block, SlotHeader h) throws IOException {
        int slot = chooseSlot(h.keyHi, h.keyLo);
        slots.write(slot, block, h);
        return slot;
    }
}
