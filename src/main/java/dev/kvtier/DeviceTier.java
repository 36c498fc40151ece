package dev.kvtier;

import dev.kvtier.device.BlockDevice;
import dev.kvtier.format.InvalidationTable;
import dev.kvtier.format.SlotHeader;
import dev.kvtier.io.IoEngine;
import dev.kvtier.tier.SharedSlotTier;
import dev.kvtier.tier.SlotTier;
import dev.kvtier.tier.SlotTier.ReadStatus;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Objects;

/**
 * A persistent tier below DRAM as the engine sees it: its identity ({@link Tier}), its devices
 * (each a {@link SlotTier} with the {@link IoEngine} that queues its requests: a <i>shard</i>),
 * and its placement:
 * <ul>
 *   <li>{@link Placement#LOCAL}: one device this process owns and whose slots it allocates (the
 *       SSD); the free set is guarded by the block table's lock;
 *   <li>{@link Placement#SHARED}: devices other processes write too (the remote tier: one or
 *       many exports), placed by key with no metadata server. A key's shard is chosen by
 *       rendezvous hashing (highest random weight, Thaler and Ravishankar 1998) over the
 *       shards' identities (their addresses, {@link Shard#identity}), weighted by their set
 *       counts, so every process attaching the same exports agrees whatever order it lists them
 *       in, adding an export moves only the keys that now go to it, and an export that comes
 *       back formatted anew keeps its keys; within the shard, {@link SharedSlotTier} picks the set.
 * </ul>
 *
 * <p><b>Slots.</b> The tier numbers its slots across shards (shard {@code k} holds
 * {@code [base(k), base(k) + slots(k))}); every slot-addressed request goes through here and
 * to its shard, so the block table and the engine see one tier. A shard whose device fails
 * costs its own slots only: its engine refuses reads and writes at once.
 *
 * <p><b>Epochs.</b> Write epochs are shared by the shards ({@link #nextEpoch} advances every
 * shard), so one invalidation epoch orders every block of the tier.
 *
 * <p><b>Re-attachment.</b> A shared device whose server restarted blank, or which another
 * server formatted anew, gets a new {@link SlotTier} in place ({@link #reattach}); the array of
 * shards is replaced whole, so a request sees the old shard or the new one, never a mix. A
 * request in flight on the old one reads or writes headers of the old device id: a miss, or a
 * slot nobody takes for valid.
 *
 * <p>Which block is in which slot, and the tier's eviction order, belong to the
 * {@link BlockTable}; this class moves bytes and hands out slots.
 */
final class DeviceTier implements AutoCloseable {
    /** How a tier's slots are chosen (see the class comment). */
    enum Placement { LOCAL, SHARED }

    /**
     * One device of the tier with its engine; {@code sets} is null on a local tier;
     * {@code identity} places keys on a shared tier (the same for one export on every server).
     */
    record Shard(SlotTier slots, SharedSlotTier sets, IoEngine io, long identity) {
        Shard {
            Objects.requireNonNull(slots, "slots");
            Objects.requireNonNull(io, "io");
        }

        /** The identity of the device at {@code address} (an export's URI), for placement by key. */
        static long identityOf(String address) {
            long h = 0xCBF29CE484222325L;
            for (int i = 0; i < address.length(); i++) {
                h = (h ^ address.charAt(i)) * 0x100000001B3L;
            }
            return mix(h);
        }
    }

    private final Tier tier;
    private final Placement placement;
    /** Replaced whole on re-attachment ({@link #reattach}); read once per request. */
    private volatile Shard[] shards;
    /** Per shard: its first slot, then the total (length + 1). */
    private final int[] base;
    /** Per shard: its first set, then the total (shared tiers). */
    private final int[] setBase;
    /** Per shard: the seed of its rendezvous score (its device's creation id). */
    private final long[] seed;

    private DeviceTier(Tier tier, Placement placement, List<Shard> shards) {
        if (tier == Tier.DRAM) {
            throw new IllegalArgumentException("DRAM is not a device tier");
        }
        if (shards.isEmpty() || placement == Placement.LOCAL && shards.size() != 1) {
            throw new IllegalArgumentException("a " + placement + " tier has " + (placement == Placement.LOCAL
                    ? "one device" : "at least one device") + ", got " + shards.size());
        }
        this.tier = tier;
        this.placement = placement;
        this.shards = shards.toArray(new Shard[0]);
        this.base = new int[this.shards.length + 1];
        this.setBase = new int[this.shards.length + 1];
        this.seed = new long[this.shards.length];
        for (int k = 0; k < this.shards.length; k++) {
            Shard s = this.shards[k];
            base[k + 1] = Math.addExact(base[k], s.slots().slotCount());
            setBase[k + 1] = setBase[k] + (s.sets() == null ? 0 : s.sets().sets());
            seed[k] = s.identity();
            if (placement == Placement.SHARED && (s.sets() == null || s.sets().ways() != this.shards[0].sets().ways())) {
                throw new IllegalArgumentException("the devices of a shared tier are placed in sets of one size");
            }
        }
    }

    /** A tier whose slots this process allocates. */
    static DeviceTier local(Tier tier, SlotTier slots, IoEngine io) {
        return new DeviceTier(tier, Placement.LOCAL, List.of(new Shard(slots, null, io, 0)));
    }

    /** A tier shared with other processes over one device, placed by key in sets of {@code sets.ways()} slots. */
    static DeviceTier shared(Tier tier, SharedSlotTier sets, IoEngine io) {
        return shared(tier, List.of(new Shard(sets.slots(), sets, io, 0)));
    }

    /** A tier shared with other processes over several devices (see the class comment). */
    static DeviceTier shared(Tier tier, List<Shard> shards) {
        return new DeviceTier(tier, Placement.SHARED, shards);
    }

    Tier tier() {
        return tier;
    }

    /** The tier's number in the block index and the metrics ({@link Tier#ordinal()}). */
    int id() {
        return tier.ordinal();
    }

    Placement placement() {
        return placement;
    }

    int slotCount() {
        return base[shards.length];
    }

    /** The tier's devices with their engines. */
    List<Shard> shards() {
        return List.of(shards);
    }

    /** The engine of the device holding {@code slot}. */
    IoEngine io(int slot) {
        return shards[shardIndex(slot)].io();
    }

    /** The engine a write of key {@code (keyHi, keyLo)} goes to: its shard's. */
    IoEngine ioForKey(long keyHi, long keyLo) {
        return shards[shardOfKey(keyHi, keyLo)].io();
    }

    /** An engine of a device that has not failed, for the tier's background reads (its first device's if all failed). */
    IoEngine anyIo() {
        for (Shard s : shards) {
            if (!s.slots().device().failed()) {
                return s.io();
            }
        }
        return shards[0].io();
    }

    /** How full the fullest write queue is, 0 to 1 (see {@link IoEngine#writePressure}). */
    double writePressure() {
        double p = 0;
        for (Shard s : shards) {
            p = Math.max(p, s.io().writePressure());
        }
        return p;
    }

    String describe() {
        StringBuilder b = new StringBuilder();
        for (Shard s : shards) {
            b.append(b.length() == 0 ? "" : ", ").append(s.slots().device().describe());
        }
        return b.toString();
    }

    /** The device holding {@code slot}. */
    String describe(int slot) {
        return shardOf(slot).slots().device().describe();
    }

    /** Whether every device reported a fault that ends its use (see {@code BlockDevice#failed}). */
    boolean failed() {
        return allDevices(BlockDevice::failed);
    }

    /** Whether the device holding {@code slot} has failed. */
    boolean failed(int slot) {
        return shardOf(slot).slots().device().failed();
    }

    /** Whether a read is a memory copy (a mapped or page-cached file), cheap enough for a caller's thread. */
    boolean readsAreMemoryCopies() {
        return allDevices(BlockDevice::readsAreMemoryCopies);
    }

    private boolean allDevices(java.util.function.Predicate<BlockDevice> holds) {
        for (Shard s : shards) {
            if (!holds.test(s.slots().device())) {
                return false;
            }
        }
        return true;
    }

    // ---- bytes (any thread; reads and writes of the engine are submitted to io(slot))

    /** Reads and verifies the block in {@code slot} into {@code dst} (see {@link SlotTier#read}). */
    ReadStatus read(int slot, long keyHi, long keyLo, long nsHi, long nsLo, ByteBuffer dst) {
        int k = shardIndex(slot);
        return shards[k].slots().read(slot - base[k], keyHi, keyLo, nsHi, nsLo, dst);
    }

    /** Whether a read of {@code slot} into {@code dst} can run as a continuation (see {@link SlotTier#readsAsync}). */
    boolean readsAsync(int slot, ByteBuffer dst) {
        return shards[shardIndex(slot)].slots().readsAsync(dst);
    }

    /** Reads {@code slot} without blocking (see {@link SlotTier#readAsync}); {@code then} is told once. */
    void readAsync(int slot, long keyHi, long keyLo, long nsHi, long nsLo, ByteBuffer dst, long deadlineNanos,
            SlotTier.ReadCallback then) {
        int k = shardIndex(slot);
        shards[k].slots().readAsync(slot - base[k], keyHi, keyLo, nsHi, nsLo, dst, deadlineNanos, then);
    }

    void write(int slot, ByteBuffer block, SlotHeader header) throws IOException {
        int k = shardIndex(slot);
        shards[k].slots().write(slot - base[k], block, header);
    }

    /** Invalidates {@code slot}'s header, so no reader or recovery takes its block again. */
    void wipe(int slot) throws IOException {
        int k = shardIndex(slot);
        shards[k].slots().wipe(slot - base[k]);
    }

    /** Reads the header of {@code slot}; false when it holds no valid header. */
    boolean readHeader(int slot, SlotHeader into) throws IOException {
        int k = shardIndex(slot);
        return shards[k].slots().readHeader(slot - base[k], into);
    }

    private Shard shardOf(int slot) {
        return shards[shardIndex(slot)];
    }

    /** The first slot of shard {@code k} and, at {@code k + 1}, the one after its last. */
    int base(int k) {
        return base[k];
    }

    /**
     * Puts {@code fresh} (the same device, opened anew: formatted blank, or another server's
     * format adopted) in place of shard {@code k}'s slots; its epochs continue after the old
     * ones. The block table must forget what it believed was in the shard's slots.
     */
    void reattach(int k, SlotTier fresh) {
        Shard[] next = shards.clone();
        Shard old = next[k];
        if (fresh.slotCount() != old.slots().slotCount()) {
            throw new IllegalArgumentException(fresh.device().describe() + " came back with " + fresh.slotCount()
                    + " slots, it had " + old.slots().slotCount());
        }
        fresh.advanceEpoch(old.slots().nextEpoch());
        next[k] = new Shard(fresh, new SharedSlotTier(fresh, old.sets().ways()), old.io(), old.identity());
        shards = next;
    }

    private int shardIndex(int slot) {
        if (slot < 0 || slot >= base[shards.length]) {
            throw new IndexOutOfBoundsException(tier + " has " + base[shards.length] + " slots, not slot " + slot);
        }
        int k = 0;
        while (slot >= base[k + 1]) {
            k++;
        }
        return k;
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
        return local().formatted();
    }

    /** Visits every slot's header (recovery, before the cache is shared). */
    void scan(SlotTier.ScanVisitor visitor) {
        local().scan(visitor);
    }

    private SlotTier local() {
        if (placement != Placement.LOCAL) {
            throw new IllegalStateException(tier + " is shared: its slots are placed by key, not allocated");
        }
        return shards[0].slots();
    }

    // ---- shared placement: any thread

    /** Sets of all shards together: set {@code s} of shard {@code k} is {@code setBase(k) + s}. */
    int sets() {
        requireShared();
        return setBase[shards.length];
    }

    int ways() {
        requireShared();
        return shards[0].sets().ways();
    }

    /** The tier-wide number of the set of key {@code (keyHi, keyLo)}. */
    int setOf(long keyHi, long keyLo) {
        int k = shardOfKey(keyHi, keyLo);
        return setBase[k] + shards[k].sets().setOf(keyHi, keyLo);
    }

    /** The slot of the key's set holding it in that namespace, or -1 (see {@link SharedSlotTier#find}). */
    int find(long keyHi, long keyLo, long nsHi, long nsLo, long[] epochs, int at) throws IOException {
        int k = shardOfKey(keyHi, keyLo);
        int slot = shards[k].sets().find(keyHi, keyLo, nsHi, nsLo, epochs, at);
        return slot < 0 ? -1 : base[k] + slot;
    }

    /** The slots of the key's set, best place for a write first (see {@link SharedSlotTier#rankSlots}). */
    void rankSlots(long keyHi, long keyLo, int[] into) throws IOException {
        int k = shardOfKey(keyHi, keyLo);
        shards[k].sets().rankSlots(keyHi, keyLo, into);
        for (int i = 0; i < ways(); i++) {
            into[i] += base[k];
        }
    }

    /** The shard of a key: the highest weighted rendezvous score (see the class comment). */
    private int shardOfKey(long keyHi, long keyLo) {
        requireShared();
        if (shards.length == 1) {
            return 0;
        }
        int best = 0;
        double bestScore = Double.NEGATIVE_INFINITY;
        for (int k = 0; k < shards.length; k++) {
            long h = mix(keyHi ^ mix(keyLo ^ seed[k]));
            double u = ((h >>> 11) + 0.5) / (1L << 53); // uniform in (0, 1)
            double score = -(setBase[k + 1] - setBase[k]) / Math.log(u);
            if (score > bestScore) {
                bestScore = score;
                best = k;
            }
        }
        return best;
    }

    /** SplitMix64's finalizer. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    private void requireShared() {
        if (placement != Placement.SHARED) {
            throw new IllegalStateException(tier + " is local: its slots are allocated, not placed by key");
        }
    }

    // ---- device metadata

    /**
     * The epoch of an invalidation record on this tier: above every epoch written before on any
     * shard; every shard's later writes come after it.
     */
    long nextEpoch() {
        long e = 0;
        for (Shard s : shards) {
            e = Math.max(e, s.slots().nextEpoch());
        }
        for (Shard s : shards) {
            s.slots().advanceEpoch(e);
        }
        return e;
    }

    /**
     * The tier's invalidations: the union of its devices' tables (a record missing from a device
     * that was down when it was made is still seen). Devices that cannot be read are skipped;
     * if none can, the first error is thrown. Every later write epoch of this tier is made
     * greater than the newest record's (unless that one lies beyond
     * {@link SharedSlotTier#MAX_FUTURE_EPOCH_MS}): a block written after this server saw an
     * invalidation outlives it, however far behind the invalidating server's clock this one's is.
     */
    InvalidationTable readInvalidations() throws IOException {
        InvalidationTable union = null;
        IOException first = null;
        for (Shard s : shards) {
            try {
                union = union(union, s.slots().readInvalidations());
            } catch (IOException e) {
                first = first == null ? e : first;
            }
        }
        if (union == null) {
            throw first;
        }
        long newest = union.newestEpoch(SharedSlotTier.latestCredibleEpoch());
        for (Shard s : shards) {
            s.slots().advanceEpoch(newest);
        }
        return union;
    }

    /**
     * Records on every device that namespace {@code (nsHi, nsLo)} is invalid up to {@code epoch};
     * returns the union of the tables after. Throws the first error once every device was tried.
     */
    InvalidationTable recordInvalidation(long nsHi, long nsLo, long epoch) throws IOException {
        InvalidationTable union = null;
        IOException first = null;
        for (Shard s : shards) {
            try {
                union = union(union, s.slots().recordInvalidation(nsHi, nsLo, epoch));
            } catch (IOException e) {
                first = first == null ? e : first;
            }
        }
        if (first != null) {
            throw first;
        }
        return union;
    }

    private static InvalidationTable union(InvalidationTable a, InvalidationTable b) {
        if (a == null) {
            return b;
        }
        InvalidationTable[] out = {a};
        b.forEach((hi, lo, epoch) -> out[0] = hi == 0 && lo == 0 ? out[0].withFloor(epoch) : out[0].with(hi, lo, epoch));
        return out[0];
    }

    /** Stops each engine (queued requests fail), then closes each device. */
    @Override
    public void close() throws IOException {
        IOException first = null;
        for (Shard s : shards) {
            s.io().close();
        }
        for (Shard s : shards) {
            try {
                s.slots().close();
            } catch (IOException e) {
                first = first == null ? e : first;
            }
        }
        if (first != null) {
            throw first;
        }
    }

    @Override
    public String toString() {
        return tier + " on " + describe();
    }
}
