package dev.kvtier;

import dev.kvtier.format.InvalidationTable;
import dev.kvtier.format.SlotHeader;
import dev.kvtier.io.IoEngine;
import dev.kvtier.tier.SharedSlotTier;
import dev.kvtier.tier.SlotTier;
import dev.kvtier.tier.SlotTier.ReadStatus;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * A persistent tier below DRAM as the engine sees it: its identity ({@link Tier}), the slots on
 * its device ({@link SlotTier}), the {@link IoEngine} that queues its device requests, and its
 * placement:
 * <ul>
 *   <li>{@link Placement#LOCAL}: this process owns the device and allocates its slots (the SSD);
 *       the free set is guarded by the block table's lock;
 *   <li>{@link Placement#SHARED}: set-associative on a device other processes write too (the
 *       remote tier, see {@link SharedSlotTier}); nothing is allocated, a write takes a slot of
 *       its key's set.
 * </ul>
 *
 * <p>Which block is in which slot, and each tier's eviction order, belong to the
 * {@link BlockTable}; this class moves bytes and hands out slots. Slot numbers are the tier's
 * own, and every slot-addressed request of the engine goes through here, so spreading a tier
 * over several devices changes this class, not its callers.
 */
final class DeviceTier implements AutoCloseable {
    /** How a tier's slots are chosen (see the class comment). */
    enum Placement { LOCAL, SHARED }

    private final Tier tier;
    private final SlotTier slots;
    /** Set-associative placement over {@link #slots}, or null for a local tier. */
    private final SharedSlotTier sets;
    private final IoEngine io;

    private DeviceTier(Tier tier, SlotTier slots, SharedSlotTier sets, IoEngine io) {
        if (tier == Tier.DRAM) {
            throw new IllegalArgumentException("DRAM is not a device tier");
        }
        this.tier = tier;
        this.slots = Objects.requireNonNull(slots, "slots");
        this.sets = sets;
        this.io = Objects.requireNonNull(io, "io");
    }

    /** A tier whose slots this process allocates. */
    static DeviceTier local(Tier tier, SlotTier slots, IoEngine io) {
        return new DeviceTier(tier, slots, null, io);
    }

    /** A tier shared with other processes, placed by key in sets of {@code sets.ways()} slots. */
    static DeviceTier shared(Tier tier, SharedSlotTier sets, IoEngine io) {
        return new DeviceTier(tier, sets.slots(), sets, io);
    }

    Tier tier() {
        return tier;
    }

    /** The tier's number in the block index and the metrics ({@link Tier#ordinal()}). */
    int id() {
        return tier.ordinal();
    }

    Placement placement() {
        return sets == null ? Placement.LOCAL : Placement.SHARED;
    }

    int slotCount() {
        return slots.slotCount();
    }

    IoEngine io() {
        return io;
    }

    String describe() {
        return slots.device().describe();
    }

    /** Whether the device reported a fault that ends its use (see {@code BlockDevice#failed}). */
    boolean failed() {
        return slots.device().failed();
    }

    /** Whether a read is a memory copy (a mapped or page-cached file), cheap enough for a caller's thread. */
    boolean readsAreMemoryCopies() {
        return slots.device().readsAreMemoryCopies();
    }

    // ---- bytes (any thread; reads and writes of the engine are submitted to io())

    /** Reads and verifies the block in {@code slot} into {@code dst} (see {@link SlotTier#read}). */
    ReadStatus read(int slot, long keyHi, long keyLo, long nsHi, long nsLo, ByteBuffer dst) {
        return slots.read(slot, keyHi, keyLo, nsHi, nsLo, dst);
    }

    void write(int slot, ByteBuffer block, SlotHeader header) throws IOException {
        slots.write(slot, block, header);
    }

    /** Invalidates {@code slot}'s header, so no reader or recovery takes its block again. */
    void wipe(int slot) throws IOException {
        slots.wipe(slot);
    }

    /** Reads the header of {@code slot}; false when it holds no valid header. */
    boolean readHeader(int slot, SlotHeader into) throws IOException {
        return slots.readHeader(slot, into);
    }

    // ---- local placement: under the block table's lock

    int freeSlots() {
        return local().freeSlots();
    }

    /** A free slot, now the caller's, or -1. */
    int allocate() {
        return local().allocate();
    }

    void release(int slot) {
        local().release(slot);
    }

    /** Takes {@code slot} out of the free set (recovery found it in use). */
    void markUsed(int slot) {
        local().markUsed(slot);
    }

    /** True when this open formatted the device: nothing to recover. */
    boolean formatted() {
        return slots.formatted();
    }

    /** Visits every slot's header (recovery, before the cache is shared). */
    void scan(SlotTier.ScanVisitor visitor) {
        local().scan(visitor);
    }

    private SlotTier local() {
        if (sets != null) {
            throw new IllegalStateException(tier + " is shared: its slots are placed by key, not allocated");
        }
        return slots;
    }

    // ---- shared placement: any thread

    int sets() {
        return shared().sets();
    }

    int ways() {
        return shared().ways();
    }

    int setOf(long keyHi, long keyLo) {
        return shared().setOf(keyHi, keyLo);
    }

    /** The slot of the key's set holding it in that namespace, or -1 (see {@link SharedSlotTier#find}). */
    int find(long keyHi, long keyLo, long nsHi, long nsLo, long[] epochs, int at) throws IOException {
        return shared().find(keyHi, keyLo, nsHi, nsLo, epochs, at);
    }

    /** The slots of the key's set, best place for a write first (see {@link SharedSlotTier#rankSlots}). */
    void rankSlots(long keyHi, long keyLo, int[] into) throws IOException {
        shared().rankSlots(keyHi, keyLo, into);
    }

    private SharedSlotTier shared() {
        if (sets == null) {
            throw new IllegalStateException(tier + " is local: its slots are allocated, not placed by key");
        }
        return sets;
    }

    // ---- device metadata

    /** The epoch of the next write or invalidation record on this device. */
    long nextEpoch() {
        return slots.nextEpoch();
    }

    InvalidationTable readInvalidations() throws IOException {
        return slots.readInvalidations();
    }

    /** Records on the device that namespace {@code (nsHi, nsLo)} is invalid up to {@code epoch}. */
    InvalidationTable recordInvalidation(long nsHi, long nsLo, long epoch) throws IOException {
        return slots.recordInvalidation(nsHi, nsLo, epoch);
    }

    /** Stops the I/O engine (queued requests fail), then closes the device. */
    @Override
    public void close() throws IOException {
        try {
            io.close();
        } finally {
            slots.close();
        }
    }

    @Override
    public String toString() {
        return tier + " on " + describe();
    }
}
