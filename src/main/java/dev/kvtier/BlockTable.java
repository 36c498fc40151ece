package dev.kvtier;

import static dev.kvtier.index.BlockIndex.NONE;
import static dev.kvtier.index.BlockIndex.READY;
import static dev.kvtier.index.BlockIndex.RETIRED;
import static dev.kvtier.index.BlockIndex.WRITING;

import dev.kvtier.format.InvalidationTable;
import dev.kvtier.format.SlotHeader;
import dev.kvtier.index.BlockIndex;
import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import dev.kvtier.metrics.CacheMetrics;
import dev.kvtier.metrics.CacheObserver;
import dev.kvtier.metrics.CacheMetrics.Counter;
import dev.kvtier.policy.AdmissionPolicy;
import dev.kvtier.policy.BlockFacts;
import dev.kvtier.policy.EvictionPolicy;
import dev.kvtier.tier.DramTier;
import dev.kvtier.tier.SharedSlotTier;
import dev.kvtier.tier.SlotTier.ReadStatus;
import java.util.ArrayDeque;
import org.roaringbitmap.RoaringBitmap;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntPredicate;

/**
 * The owner of block state: the index, one eviction order per tier, the DRAM page allocator,
 * the SSD slot allocator, remote slot ownership and claims, the namespace ids and the
 * invalidations. Every change of a block's state is one of the named transitions below; each
 * takes {@link #lock} itself (it guards every field here), and none does a copy or device I/O
 * under it. Other classes hold tiers for bytes, never the index: the device tiers below DRAM
 * are {@link DeviceTier} objects (device, I/O engine, placement) found by tier number through
 * {@link #device}; the SSD is the one with local placement, the remote tier the shared one.
 *
 * <p><b>Life cycle of a block</b> (entry states of {@link BlockIndex}; copies per tier; pins;
 * flags). Checked by {@link #checkInvariants} after every step of the model test.
 *
 * <pre>
 * transition              from                        to
 * reserveStore            absent                      WRITING, DRAM copy, pinned by the writer
 *                                                     (after a wait for a page: key and parent
 *                                                     looked up again)
 * publishStore            WRITING (copied)            READY, unpinned  (not copied: dropped)
 * enterDiscovered         absent, remote header       READY, REMOTE copy (unless invalidated)
 * recover                 absent, SSD header          READY, SSD copy (unless invalidated)
 * pinForLoad              READY                       READY, pinned (+ PROMOTING and a page)
 * settleLoad              pinned                      unpinned; + DRAM copy (promoted);
 *                                                     corrupt or mismatched: dropped with subtree;
 *                                                     read from a memory-copy tier: queued
 * beginPromotion          READY, queued, no DRAM      pinned, PROMOTING, + a clean or free page
 * completePromotion       PROMOTING                   unpinned; + DRAM copy if read and verified
 * beginNextDemotion       READY, copy above target    pinned, MOVING (+ SSD slot reserved)
 * completeDemotion        MOVING                      + target copy; failed: NO_DEMOTE or
 *                                                     FLUSH_REFUSED; left meanwhile: slot wiped
 * eviction (a page or     READY, copy in tier t,      copy in t gone; the last copy: RETIRED
 *   slot is needed)       unpinned, no child in t
 * pinDramForHandle /      READY with a DRAM copy      pinned / unpinned; leaked: RETIRED, its
 *   releaseHandle                                     page kept for the life of the cache
 * invalidateNamespace,    WRITING or READY            RETIRED (slots wiped on release), the
 *   applyRemoteInv.                                   namespace recorded on the devices
 * dropWithDescendants     WRITING or READY            RETIRED, with every descendant
 * last unpin              RETIRED                     FREE, copies freed
 * </pre>
 *
 * <p>Invariants: a live block's parent is live; a WRITING, MOVING or PROMOTING block is pinned;
 * a READY block has at least one copy; a RETIRED block is pinned (else it is FREE); every DRAM
 * page and SSD slot is in exactly one of: a copy, the free set, a promotion or write in
 * flight, a queued wipe, quarantine; each remote slot has at most one owner, whose copy it is.
 *
 * <p><b>Copies.</b> A block may have a copy in several tiers (a DRAM page and an SSD slot). A
 * DRAM copy with a copy below it is <i>clean</i>: evicting it loses nothing. A DRAM-only copy
 * that admission refused to write down ({@code REJECTED}) is <i>droppable</i> like a clean one:
 * evicting it loses only what admission already gave up. A droppable copy with no child in
 * DRAM is a <i>clean leaf</i>, evictable at once (unless pinned); their number is kept exact on
 * every change of copies and of that flag, so the demoter knows how many DRAM pages can be had
 * without losing a block it would keep. Eviction takes droppable copies first.
 *
 * <p><b>Prefix rule.</b> In each tier a copy is evicted only when no child has a copy in that
 * tier, and a block leaves the cache only when it has no live child at all, so every kept
 * block's parent is kept. A block that turns out corrupt is dropped with all its descendants.
 *
 * <p><b>Slots.</b> An SSD slot freed by eviction goes straight back to the free set (the next
 * write wipes its header first). A slot freed by invalidation or corruption is queued for a
 * wipe by the demoter, so the block does not come back after a restart.
 *
 * <p><b>Remote slots.</b> The remote tier is shared with other processes, so the index only
 * knows where this process last saw a block there; {@link #remoteOwner} maps each remote slot to
 * the entry believed to be in it. A slot has at most one owner, and an entry's remote copy is
 * its owner's: when this process writes or finds another block in a slot, the previous owner
 * loses its remote copy (and leaves the cache with its descendants if that was its last copy;
 * a pinned one keeps its entry, not the slot, until unpinned). Reads verify every header, so a stale
 * belief costs a miss. Remote slots are never allocated or wiped for reuse here: placement is
 * {@link SharedSlotTier}'s.
 */
final class BlockTable implements BlockFacts {
    static final int DRAM = Tier.DRAM.ordinal();
    static final int SSD = Tier.SSD.ordinal();
    static final int REMOTE = Tier.REMOTE.ordinal();
    /** Index flag: a write of this block to a lower tier is in flight. */
    private static final int MOVING = 1;
    /** Index flag: a demotion of this block failed or was refused; do not retry it. */
    private static final int NO_DEMOTE = 2;
    /** Index flag: a promotion into DRAM is in flight. */
    private static final int PROMOTING = 4;
    /** Index flag: wipe this block's slots when it is released. */
    private static final int WIPE_ON_RELEASE = 8;
    /** Index flag, only while choosing an SSD victim: an ancestor of the block to be written or of one being written. */
    private static final int KEEP = 16;
    /** Index flag, only while the demoter searches: a block passed over this time. */
    private static final int SKIP = 32;
    /** SSD blocks a slot search asks about for one with a copy elsewhere, before taking the coldest that may go. */
    private static final int CLEAN_SSD_SEARCH = 64;
    /** Index flag: admission refused to write this block down; cleared when it is hit again. */
    private static final int REJECTED = 64;
    /** Index flag, only while a flush runs: admission refused this block to the flush. */
    private static final int FLUSH_REFUSED = 128;
    /** Blocks a demotion search looks at for one whose parent is already in the target tier. */
    private static final int CANDIDATES = 32;

    private final ReentrantLock lock = new ReentrantLock();
    /** Signalled when copies in flight reach zero. */
    private final Condition idle = lock.newCondition();
    /** Signalled when a DRAM page may have been freed or turned droppable, or the demoter went idle (see {@link #awaitCleanPage}). */
    private final Condition cleaned = lock.newCondition();
    /** Idle rounds of the demoter, for {@link #awaitCleanPage}. */
    private long demoterIdleRounds;
    /** Wakes the demoter; called under the lock when DRAM falls below its watermark or a wipe is queued. Must not block. */
    private Runnable demoterWake = () -> { };
    private final BlockIndex index;
    final DramTier dram;
    /** The local SSD tier, or null. */
    final DeviceTier ssd;
    /** The shared remote tier, or null. */
    final DeviceTier remote;
    /** The device tiers present, fastest first. */
    private final DeviceTier[] devices;
    /** Each tier's device tier by {@link Tier#ordinal()}, or null (DRAM, an absent tier). */
    private final DeviceTier[] byId = new DeviceTier[BlockIndex.TIERS];
    /** Remote slot → entry believed to hold it, or NONE (see the class comment). */
    private final int[] remoteOwner;
    /** Remote slot → the value of {@link #remoteWrites} our last write there completed at. */
    private final int[] remoteWrittenAt;
    /** Our remote writes completed so far (wrapping); written under the lock. */
    private volatile int remoteWrites;
    /**
     * What this process knows of the remote device's invalidation table (see
     * {@link InvalidationTable}): blocks it invalidates are not entered by discovery.
     */
    private InvalidationTable remoteInvalidations = InvalidationTable.EMPTY;
    /** Namespaces being invalidated by this process: nothing of theirs is discovered until it is recorded. */
    private final java.util.Set<NamespaceId> invalidating = new java.util.HashSet<>();
    /** Remote slots a write or wipe of ours is rewriting: loads do not read them, other writes do not take them. */
    private final BitSet remoteClaims = new BitSet();
    /** Remote slots to wipe, each under its condition (see {@link RemoteWipe}). */
    private final ArrayDeque<RemoteWipe> remoteWipes = new ArrayDeque<>();
    private final EvictionPolicy[] orders;
    /** Decides what is stored and written down (see {@link PolicySuite}). */
    final AdmissionPolicy admission;
    /** Per entry: its chain's sample ({@link AdmissionPolicy#chainSample}) quantised to 8 bits. */
    private final byte[] chainSamples;
    final CacheMetrics metrics;
    /** Device errors: observed, and logged at most once per device per window. */
    final DeviceErrors errors;
    private final ArrayDeque<Integer> pendingWipes = new ArrayDeque<>();
    private final int[] resident = new int[BlockIndex.TIERS];
    private final Map<NamespaceId, Integer> namespaceIds = new HashMap<>();
    private long[] namespaceRoots = new long[16];
    private final int demoteAheadPages;
    private int cleanLeaves;
    /** Entries marked NO_DEMOTE, and FLUSH_REFUSED (see {@link #markFlag}). */
    /** The SSD device failed and its copies were forgotten ({@link #forgetFailedSsd}); read without the lock by the demoter. */
    private volatile boolean ssdFailed;
    private final RoaringBitmap setAside = new RoaringBitmap();
    private final RoaringBitmap flushRefused = new RoaringBitmap();
    /** Scratch for {@link #dropWithDescendants}: a subtree in breadth-first order. */
    private int[] subtree = new int[64];
    /** During {@link #allocatePage}: the block whose last copy must not be evicted. */
    private int protectedParent = NONE;
    private final IntPredicate cleanDramVictim = e -> evictable(e, DRAM) && isDroppable(e);
    private final IntPredicate anyDramVictim = e -> evictable(e, DRAM) && (e != protectedParent || isClean(e));
    /** SSD copies a demotion from DRAM may take the slot of: none whose block is in DRAM (see {@link #allocateSlotKeeping}). */
    private final IntPredicate ssdVictim = e -> evictable(e, SSD) && !hasCopy(e, DRAM);
    private final IntPredicate cleanSsdVictim = e -> evictable(e, SSD) && hasCopy(e, REMOTE);
    private final IntPredicate dirtyDram = this::isDirty;
    private final IntPredicate ssdOnlyBelow = this::needsRemoteCopy;
    /** Scratch of {@link #nextCandidate}. */
    private final int[] skipped = new int[CANDIDATES];
    /** DRAM-only blocks a flush writes down, whatever admission said before (it is asked again). */
    private final IntPredicate flushable = this::isFlushable;
    /** SSD slots the demoter holds right now (being written or wiped). */
    private int demoterSlots;
    /** DRAM pages taken by loads for promotions not yet published. */
    private int pagesInTransit;
    /** Blocks loaded from a memory-copy tier, to promote after their load: a ring from {@link #promotionsHead}. */
    private final int[] toPromote = new int[64];
    private int promotionsHead;
    private int promotionsQueued;
    /** Promotions begun and not completed ({@link #beginPromotion}). */
    private int promotionsInFlight;
    /** SSD slots whose header could not be read at open: out of use until the next open. */
    private int quarantinedSlots;
    private int inFlight;
    private int activePins;
    private boolean closed;

    /**
     * A remote slot to wipe: if it still holds the key ({@code onlyIfCorrupt} false: the block
     * was invalidated or dropped), or if it still holds the key and still fails its payload check
     * ({@code onlyIfCorrupt} true: another writer may have rewritten the slot since).
     */
    record RemoteWipe(int slot, long keyHi, long keyLo, long nsHi, long nsLo, boolean onlyIfCorrupt) {
    }

    /** Queues a wipe of remote {@code slot} for entry {@code e}'s key (see {@link RemoteWipe}). */
    void wipeRemote(int e, int slot, boolean onlyIfCorrupt) {
        int ns = index.namespace(e);
        remoteWipes.add(new RemoteWipe(slot, index.keyHi(e), index.keyLo(e), namespaceHi(ns), namespaceLo(ns),
                onlyIfCorrupt));
        demoterWake.run();
    }

    /** A namespace fingerprint as a map key. */
    private record NamespaceId(long hi, long lo) {
    }

    /**
     * @param devices the device tiers, fastest first: at most one {@link DeviceTier.Placement#LOCAL}
     *     SSD tier and one {@link DeviceTier.Placement#SHARED} remote tier
     */
    BlockTable(DramTier dram, DeviceTier[] devices, CacheMetrics metrics, double demoteAhead,
            CacheConfig.Policy policy) {
        this.demoteAheadPages = Math.max(1, (int) Math.ceil(dram.pageCount() * demoteAhead));
        this.dram = dram;
        this.devices = devices.clone();
        this.ssd = device(devices, Tier.SSD, DeviceTier.Placement.LOCAL);
        this.remote = device(devices, Tier.REMOTE, DeviceTier.Placement.SHARED);
        this.metrics = metrics;
        this.errors = new DeviceErrors(metrics.observers(), DeviceErrors.WINDOW_NANOS);
        long[] slots = new long[BlockIndex.TIERS];
        slots[DRAM] = dram.pageCount();
        for (DeviceTier d : devices) {
            slots[d.id()] = d.slotCount();
            byId[d.id()] = d;
        }
        int capacity = Math.toIntExact(slots[DRAM] + slots[SSD] + slots[REMOTE]);
        this.index = new BlockIndex(capacity);
        this.remoteOwner = new int[(int) slots[REMOTE]];
        Arrays.fill(remoteOwner, NONE);
        this.remoteWrittenAt = new int[remoteOwner.length];
        this.chainSamples = new byte[capacity];
        PolicySuite suite = PolicySuite.create(policy, this, slots, capacity, dram.blockBytes());
        this.orders = suite.orders();
        this.admission = suite.admission();
    }

    // ---- what policies may know of a block (BlockFacts)

    @Override
    public long keyHi(int e) {
        return index.keyHi(e);
    }

    @Override
    public long keyLo(int e) {
        return index.keyLo(e);
    }

    @Override
    public int position(int e) {
        return index.position(e);
    }

    @Override
    public int parent(int e) {
        return index.parent(e);
    }

    /** Records entry {@code e}'s chain sample, in [0, 1). */
    void setChainSample(int e, double sample) {
        chainSamples[e] = (byte) Math.min(255, (int) (sample * 256));
    }

    /** Entry {@code e}'s chain sample: the middle of its 8-bit bucket. */
    double chainSample(int e) {
        return ((chainSamples[e] & 0xFF) + 0.5) / 256;
    }

    /**
     * The chain sample of a store's first new block: its parent's when it continues a chain (the
     * parent is kept and has no child: a conversation's next turn), so a chain keeps one sample
     * from its fork to its leaf; else (a first block, or a fork) drawn from its key.
     */
    private double newChainSample(int parent, BlockKey key) {
        return parent != NONE && index.children(parent) == 0 ? chainSample(parent)
                : AdmissionPolicy.chainSample(key.hi(), key.lo());
    }

    private static DeviceTier device(DeviceTier[] devices, Tier tier, DeviceTier.Placement placement) {
        DeviceTier found = null;
        for (DeviceTier d : devices) {
            if (d.tier() == tier) {
                if (found != null || d.placement() != placement) {
                    throw new IllegalArgumentException("one " + placement + " " + tier + " tier is supported, got "
                            + java.util.Arrays.toString(devices));
                }
                found = d;
            }
        }
        return found;
    }

    /** The device tier {@code tier} ({@link Tier#ordinal()}); it must be present. */
    DeviceTier device(int tier) {
        return byId[tier];
    }

    /** The device tiers present, fastest first. */
    DeviceTier[] devices() {
        return devices.clone();
    }

    /** The tier a block leaving DRAM is written to: SSD, else REMOTE, else -1. */
    int belowDram() {
        return ssd != null && !ssdFailed ? SSD : remote != null ? REMOTE : -1;
    }

    // ---- namespaces

    int namespaceId(long hi, long lo) {
        return namespaceIds.computeIfAbsent(new NamespaceId(hi, lo), k -> {
            int id = namespaceIds.size();
            if (2 * id + 1 >= namespaceRoots.length) {
                namespaceRoots = Arrays.copyOf(namespaceRoots, namespaceRoots.length * 2);
            }
            namespaceRoots[2 * id] = hi;
            namespaceRoots[2 * id + 1] = lo;
            return id;
        });
    }

    /** The id of a namespace seen before, or -1. */
    int existingNamespaceId(long hi, long lo) {
        Integer id = namespaceIds.get(new NamespaceId(hi, lo));
        return id == null ? -1 : id;
    }

    long namespaceHi(int id) {
        return namespaceRoots[2 * id];
    }

    long namespaceLo(int id) {
        return namespaceRoots[2 * id + 1];
    }

    // ---- copies

    /** Records a copy; a READY block joins the tier's eviction order at once. */
    void addCopy(int e, int tier, int loc) {
        int p = index.parent(e);
        int was = cleanLeaves(e, p);
        index.addCopy(e, tier, loc);
        if (index.state(e) == READY) {
            orders[tier].onInsert(e);
            resident[tier]++;
        }
        cleanLeaves += cleanLeaves(e, p) - was;
    }

    /** WRITING → READY: the block joins the eviction order of each tier it has a copy in. */
    void publish(int e) {
        int p = index.parent(e);
        int was = cleanLeaves(e, p);
        index.publish(e);
        cleanLeaves += cleanLeaves(e, p) - was;
        for (int t = 0; t < BlockIndex.TIERS; t++) {
            if (index.hasCopy(e, t)) {
                orders[t].onInsert(e);
                resident[t]++;
            }
        }
    }

    /**
     * Evicts the copy of {@code e} in {@code tier}, which must be evictable. If it was the last
     * copy the block leaves the cache.
     */
    void evictCopy(int e, int tier) {
        boolean last = index.copies(e) == 1 << tier;
        metrics.add(Counter.EVICTED_BLOCKS, tier, 1);
        if (last) {
            if (tier == DRAM) {
                metrics.add(Counter.DROPPED_BLOCKS, 1);
            }
            retire(e, false);
        } else {
            removeCopy(e, tier, false);
        }
    }

    private void removeCopy(int e, int tier, boolean wipe) {
        int p = index.parent(e);
        int was = cleanLeaves(e, p);
        if (index.state(e) == READY) {
            orders[tier].onRemove(e);
            resident[tier]--;
        }
        int loc = index.removeCopy(e, tier);
        cleanLeaves += cleanLeaves(e, p) - was;
        freeLocation(e, tier, loc, wipe);
    }

    /** Frees entry {@code e}'s former location {@code loc} in {@code tier}. */
    private void freeLocation(int e, int tier, int loc, boolean wipe) {
        if (tier == DRAM) {
            dram.free(loc);
            cleaned.signalAll();
        } else if (tier == REMOTE) {
            if (remoteOwner[loc] == e) {
                remoteOwner[loc] = NONE;
            }
        } else if (wipe && !ssdFailed) {
            pendingWipes.add(loc);
            demoterWake.run();
        } else { // nothing is wiped on a failed SSD: the demoter's attempt would only fail and log it again
            ssd.release(loc);
        }
    }

    /** READY, only in DRAM, and no demotion in flight, refused or passed over. */
    boolean isDirty(int e) {
        return index.state(e) == READY && index.copies(e) == 1
                && (index.flags(e) & (MOVING | NO_DEMOTE | SKIP | REJECTED)) == 0;
    }

    /** READY on the SSD without a remote copy, and no write in flight, refused or passed over. */
    private boolean needsRemoteCopy(int e) {
        return index.state(e) == READY && index.hasCopy(e, SSD) && !index.hasCopy(e, REMOTE)
                && (index.flags(e) & (MOVING | NO_DEMOTE | SKIP | REJECTED)) == 0;
    }

    private boolean isFlushable(int e) {
        return index.state(e) == READY && index.copies(e) == 1 && (index.flags(e) & (MOVING | SKIP | FLUSH_REFUSED)) == 0;
    }

    private boolean hasCopy(int e, int tier) {
        return index.hasCopy(e, tier);
    }

    private boolean isClean(int e) {
        int c = index.copies(e);
        return (c & 1) != 0 && (c & ~1) != 0;
    }

    /** How many of {@code e} and its parent {@code p} are clean leaves. */
    private int cleanLeaves(int e, int p) {
        return cleanLeaf(e) + (p == NONE ? 0 : cleanLeaf(p));
    }

    /** In DRAM, and clean or refused by admission (see the class comment). */
    private boolean isDroppable(int e) {
        return isClean(e) || index.hasCopy(e, DRAM) && (index.flags(e) & REJECTED) != 0;
    }

    private int cleanLeaf(int e) {
        return index.state(e) == READY && isDroppable(e) && index.childrenWith(DRAM, e) == 0 ? 1 : 0;
    }

    /** Sets or clears {@code e}'s REJECTED flag, keeping the count of clean leaves exact. */
    void setRejected(int e, boolean rejected) {
        int p = index.parent(e);
        int was = cleanLeaves(e, p);
        index.setFlags(e, rejected ? index.flags(e) | REJECTED : index.flags(e) & ~REJECTED);
        cleanLeaves += cleanLeaves(e, p) - was;
        if (rejected) {
            cleaned.signalAll();
        }
    }

    /** Whether the copy of {@code e} in {@code tier} may be evicted now (see the class comment). */
    boolean evictable(int e, int tier) {
        if (index.state(e) != READY || index.pins(e) != 0 || (index.flags(e) & (MOVING | PROMOTING | KEEP)) != 0
                || !index.hasCopy(e, tier) || index.childrenWith(tier, e) != 0) {
            return false;
        }
        return index.copies(e) != 1 << tier || index.children(e) == 0;
    }

    // ---- DRAM pages

    /**
     * A free DRAM page, evicting one copy if needed: a clean copy first, else (unless
     * {@code cleanOnly}) a block with no children, which is lost, but never the last copy of
     * {@code protect} (the parent of the block about to be stored). Returns -1 when nothing can go.
     */
    int allocatePage(int protect, boolean cleanOnly) {
        int page = dram.allocate();
        if (page >= 0) {
            return page;
        }
        int victim = cleanOnly ? cleanDramVictim() : dramVictim(protect);
        if (victim == NONE) {
            return -1;
        }
        evictCopy(victim, DRAM);
        wakeDemoterIfNeeded();
        return dram.allocate();
    }

    /**
     * A free DRAM page for a child of {@code protect}, evicting {@code victim} when it is not
     * NONE: the block {@link #dramVictim} chose under this same hold of the lock, which admission
     * weighed the new block against. With NONE, as {@code allocatePage(protect, false)}.
     */
    int allocatePage(int protect, int victim) {
        if (victim == NONE) {
            return allocatePage(protect, false);
        }
        evictCopy(victim, DRAM);
        wakeDemoterIfNeeded();
        return dram.allocate();
    }

    /** The DRAM block a store would evict now to make room (see {@link #allocatePage}), or NONE when a page is free. */
    int dramVictim(int protect) {
        if (dram.freePages() > 0) {
            return NONE;
        }
        int victim = cleanDramVictim();
        if (victim == NONE) {
            protectedParent = protect;
            victim = orders[DRAM].victim(anyDramVictim);
            protectedParent = NONE;
        }
        return victim;
    }

    /** The coldest clean DRAM copy that may go, or NONE (no search when there are no clean leaves). */
    private int cleanDramVictim() {
        return cleanLeaves > 0 ? orders[DRAM].victim(cleanDramVictim) : NONE;
    }

    // ---- demotion support (the demoter calls these under the lock)

    /** DRAM pages that can be had without losing a block: free ones plus clean leaves. */
    int reclaimablePages() {
        return dram.freePages() + cleanLeaves;
    }

    /**
     * A free SSD slot for {@code e} (a block being demoted from DRAM), evicting the coldest
     * evictable SSD copy if needed (one with a remote copy first, if one is among the
     * {@value #CLEAN_SSD_SEARCH} coldest: a search of the whole order would cost a pass over the
     * SSD per write when DRAM is small), but never one of {@code e}'s ancestors (the block would
     * land on SSD without its prefix) nor a block that is also in DRAM: that would make one DRAM
     * page dirty to make another clean, and with an SSD no larger than DRAM the demoter swapped
     * such copies forever (a replay waiting for it never finished). -1 when nothing can go.
     */
    int allocateSlotKeeping(int e) {
        int slot = ssd.allocate();
        if (slot >= 0) {
            return slot;
        }
        setAncestorFlag(e, KEEP, true);
        int victim = orders[SSD].victim(cleanSsdVictim, CLEAN_SSD_SEARCH);
        if (victim == NONE) {
            victim = orders[SSD].victim(ssdVictim);
        }
        setAncestorFlag(e, KEEP, false);
        if (victim == NONE) {
            return -1;
        }
        evictCopy(victim, SSD);
        return ssd.allocate();
    }

    void setAncestorFlag(int e, int flag, boolean on) {
        for (int p = index.parent(e); p != NONE; p = index.parent(p)) {
            index.setFlags(p, on ? index.flags(p) | flag : index.flags(p) & ~flag);
        }
    }

    /** Sets NO_DEMOTE or FLUSH_REFUSED on {@code e}, noting it so that clearing costs only the entries marked. */
    private void markFlag(int e, int flag) {
        index.setFlags(e, index.flags(e) | flag);
        (flag == NO_DEMOTE ? setAside : flushRefused).add(e);
    }

    /** Clears NO_DEMOTE or FLUSH_REFUSED on the entries marked with it (a recycled entry's was cleared already). */
    private void clearMarked(int flag) {
        RoaringBitmap marked = flag == NO_DEMOTE ? setAside : flushRefused;
        marked.forEach((org.roaringbitmap.IntConsumer) e -> index.setFlags(e, index.flags(e) & ~flag));
        marked.clear();
    }

    void wakeDemoterIfNeeded() {
        if (belowDram() >= 0 && belowWatermark()) {
            demoterWake.run();
        }
    }

    /** Fewer DRAM pages can be had without losing a block than the demoter keeps ahead (the configured share, at least one). */
    private boolean belowWatermark() {
        return reclaimablePages() < demoteAheadPages;
    }

    // ---- remote slots

    /**
     * Forgets what this process believed was in remote {@code slot} (see the class comment): the
     * owner loses its remote copy, and leaves the cache with its descendants if that was its
     * last copy. A pinned owner keeps its entry until unpinned, but not the slot.
     */
    void forgetRemote(int slot) {
        int owner = remoteOwner[slot];
        if (owner == NONE) {
            return;
        }
        if (index.isLive(owner) && index.copies(owner) == 1 << REMOTE) {
            dropSubtree(owner);
        }
        if (index.hasCopy(owner, REMOTE) && index.location(owner, REMOTE) == slot) {
            if (index.isLive(owner)) {
                removeCopy(owner, REMOTE, false);
            } else {
                index.removeCopy(owner, REMOTE);
            }
        }
        remoteOwner[slot] = NONE;
    }

    /**
     * The remote device holding slots {@code [from, to)} was replaced (its server restarted
     * blank, or it was formatted anew): forgets what this process believed was in them (see
     * {@link #forgetRemote}). Returns how many slots had an owner.
     */
    int forgetRemoteSlots(int from, int to) {
        lock.lock();
        try {
            int forgotten = 0;
            for (int slot = from; slot < to; slot++) {
                forgotten += remoteOwner[slot] != NONE ? 1 : 0;
                forgetRemote(slot);
            }
            return forgotten;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Whether the demoter may overwrite remote {@code slot} for a write of {@code e}. Never when
     * its owner is an ancestor of {@code e}, is pinned or moving, has a local copy (in DRAM or
     * on the SSD: that copy would lose its remote copy, need the write again and push out
     * another, without end) or a child with one. An owner with children only on the remote tier
     * may go, and leaves the cache with its descendants: on a shared set-associative tier a set
     * may fill with parents, and other writers replace them anyway. A grandchild kept locally
     * under a remote-only child would be lost with them.
     */
    boolean remoteSlotReplaceable(int slot, int e) {
        int owner = remoteOwner[slot];
        if (owner == NONE || owner == e) {
            return true;
        }
        if (index.hasCopy(owner, DRAM) || index.hasCopy(owner, SSD) || isAncestor(owner, e)) {
            return false;
        }
        return index.state(owner) == READY && index.pins(owner) == 0 && (index.flags(owner) & (MOVING | PROMOTING)) == 0
                && index.childrenWith(DRAM, owner) == 0 && index.childrenWith(SSD, owner) == 0;
    }

    /** Claims remote {@code slot} for a write or wipe of ours; false when it is claimed already. */
    boolean claimRemoteSlot(int slot) {
        lock.lock();
        try {
            if (remoteClaims.get(slot)) {
                return false;
            }
            remoteClaims.set(slot);
            return true;
        } finally {
            lock.unlock();
        }
    }

    private void releaseRemoteSlot(int slot) {
        remoteClaims.clear(slot);
    }

    /** Whether a write or wipe of ours is rewriting remote {@code slot}: its contents are not to be read. */
    boolean remoteSlotClaimed(int slot) {
        return remoteClaims.get(slot);
    }

    private boolean isAncestor(int a, int e) {
        int top = index.position(a);
        for (int p = index.parent(e); p != NONE && index.position(p) >= top; p = index.parent(p)) {
            if (p == a) {
                return true;
            }
        }
        return false;
    }

    /** Records that remote {@code slot} holds {@code e}, forgetting its previous owner. */
    void addRemoteCopy(int e, int slot) {
        if (remoteOwner[slot] == e) {
            return;
        }
        forgetRemote(slot);
        if (index.isLive(e)) {
            if (index.hasCopy(e, REMOTE)) {
                removeCopy(e, REMOTE, false);
            }
            addCopy(e, REMOTE, slot);
            remoteOwner[slot] = e;
        }
    }

    // ---- lifecycle of entries

    /** Records an access: the block moves to the hot end of each tier it is in, and admission may reconsider it. */
    void touch(int e) {
        if ((index.flags(e) & REJECTED) != 0) {
            setRejected(e, false);
        }
        for (int t = 0; t < BlockIndex.TIERS; t++) {
            if (index.hasCopy(e, t)) {
                orders[t].onAccess(e);
            }
        }
    }

    /**
     * Takes a live block out of the cache. Its copies are freed now, or when its last pin goes;
     * with {@code wipe}, its SSD slot is wiped before reuse.
     */
    void retire(int e, boolean wipe) {
        int p = index.parent(e);
        int was = cleanLeaves(e, p);
        if (index.state(e) == READY) {
            for (int t = 0; t < BlockIndex.TIERS; t++) {
                if (index.hasCopy(e, t)) {
                    orders[t].onRemove(e);
                    resident[t]--;
                }
            }
        }
        index.retire(e);
        cleanLeaves += cleanLeaves(e, p) - was;
        if (wipe) {
            index.setFlags(e, index.flags(e) | WIPE_ON_RELEASE);
        }
        if (index.pins(e) == 0) {
            release(e);
        }
    }

    private void release(int e) {
        boolean wipe = (index.flags(e) & WIPE_ON_RELEASE) != 0;
        for (int t = 0; t < BlockIndex.TIERS; t++) {
            if (index.hasCopy(e, t)) {
                freeLocation(e, t, index.removeCopy(e, t), wipe);
            }
        }
        index.release(e);
    }

    void unpin(int e) {
        int left = index.unpin(e);
        if (left == 0 && index.state(e) == RETIRED) {
            release(e);
        }
        if (left == 0) {
            cleaned.signalAll();
        }
    }

    /**
     * Drops {@code e} and every block below it in its prefix tree (its copy was found corrupt, or
     * is gone), deepest first; work proportional to that subtree, through the child lists.
     */
    void dropWithDescendants(int e) {
        lock.lock();
        try {
            dropSubtree(e);
        } finally {
            lock.unlock();
        }
    }

    private void dropSubtree(int e) {
        if (!index.isLive(e)) {
            return;
        }
        int n = 0;
        subtree = grow(subtree, 1);
        subtree[n++] = e;
        for (int i = 0; i < n; i++) {
            for (int c = index.firstChild(subtree[i]); c != NONE; c = index.nextSibling(c)) {
                subtree = grow(subtree, n + 1);
                subtree[n++] = c;
            }
        }
        for (int i = n - 1; i >= 0; i--) {
            retire(subtree[i], true);
        }
        metrics.add(Counter.INVALIDATED_BLOCKS, n);
    }

    private static int[] grow(int[] a, int n) {
        return a.length >= n ? a : Arrays.copyOf(a, Math.max(n, 2 * a.length));
    }

    // ---- transitions of the public operations (each takes the lock itself)

    /**
     * match: counts a request and its lookups for admission, then reports how many leading keys
     * are READY and in which tier ({@code into}), touching them deepest first. Returns the hits.
     */
    int matchPrefix(BlockKey[] keys, PrefixMatch into, int[] entries) {
        lock.lock();
        try {
            checkOpen();
            admission.onRequest();
            for (BlockKey k : keys) {
                admission.onLookup(k.hi(), k.lo());
            }
            int hits = leadingReady(keys, keys.length, entries);
            for (int i = 0; i < hits; i++) {
                int tier = index.fastestTier(entries[i]);
                into.hit(Tier.of(tier));
                metrics.add(Counter.HIT_BLOCKS, tier, 1);
            }
            touchDeepestFirst(entries, hits);
            return hits;
        } finally {
            lock.unlock();
        }
    }

    /** How many leading keys are READY; their entries go to {@code entries}. */
    private int leadingReady(BlockKey[] keys, int limit, int[] entries) {
        int n = 0;
        while (n < limit) {
            int e = index.find(keys[n].hi(), keys[n].lo());
            if (e == NONE || index.state(e) != READY) {
                break;
            }
            entries[n++] = e;
        }
        return n;
    }

    private void touchDeepestFirst(int[] entries, int n) {
        for (int i = n - 1; i >= 0; i--) {
            touch(entries[i]);
        }
    }

    /**
     * store, step 1: reserves an entry and a DRAM page for each new block of the chain, in state
     * WRITING and pinned by the writer. Entries go to {@code slots[0..n)}, their index in the
     * call to {@code slots[count..)}, their pages to {@code slots[2*count..)}. Stops at an orphan,
     * a block admission refuses, or when no page can be freed; an empty chain reserves nothing.
     * When a page could be had only by dropping a block not yet written down, the store waits
     * for the demoter to clean one until {@code waitUntil} ({@link System#nanoTime}; 0: never):
     * back-pressure. The store counts as a copy in flight from the start, so close() waits for it.
     * The keys it went through (stored or already kept) go to {@code slots[3*count]}, the keys
     * already kept to {@code slots[3*count+1]}, and why it stopped before the end to
     * {@code slots[3*count+2]} (a {@link StoreResult} reason code; {@code REACHED_END} also when
     * the cache closed while the store waited). {@code slots} has at least {@code 3*count+3} ints.
     */
    int reserveStore(BlockKey[] keys, int from, int count, int[] slots, long waitUntil) {
        lock.lock();
        try {
            checkOpen();
            slots[3 * count] = 0;
            slots[3 * count + 1] = 0;
            slots[3 * count + 2] = StoreResult.REACHED_END;
            if (count == 0) {
                return 0;
            }
            inFlight++; // from here: close() waits for this store, also while it waits for a page
            Namespace ns = keys[from].namespace();
            int nsId = namespaceId(ns.rootHi(), ns.rootLo());
            int parent = keys[from].isFirst() ? NONE : index.find(keys[from].parentHi(), keys[from].parentLo());
            int through = 0;
            int n = 0;
            double sample = -1;
            for (int i = from; i < from + count && !closed; i++) {
                BlockKey key = keys[i];
                int victim = NONE;
                if (!key.isFirst() && parent == NONE) {
                    metrics.add(Counter.STORE_ORPHAN_BLOCKS, from + count - i);
                    slots[3 * count + 2] = StoreResult.PARENT_MISSING;
                    break;
                }
                int e = index.find(key.hi(), key.lo());
                if (e == NONE) {
                    sample = sample < 0 ? newChainSample(parent, key) : sample;
                    victim = admission.wantsVictim() ? dramVictim(parent) : NONE;
                    if (!admission.admitNew(key.hi(), key.lo(), key.position(), sample, victim)) {
                        metrics.add(Counter.REJECTED_BLOCKS, DRAM, from + count - i);
                        slots[3 * count + 2] = StoreResult.REFUSED;
                        break;
                    }
                    if (victim == NONE && waitUntil != 0 && awaitCleanPage(waitUntil)) {
                        // the lock was released: the key may be kept now, the parent gone or recycled
                        e = index.find(key.hi(), key.lo());
                        parent = key.isFirst() ? NONE : index.find(key.parentHi(), key.parentLo());
                        if (closed || e == NONE && !key.isFirst() && parent == NONE) {
                            metrics.add(Counter.STORE_ORPHAN_BLOCKS, closed ? 0 : from + count - i);
                            slots[3 * count + 2] = closed ? StoreResult.REACHED_END : StoreResult.PARENT_MISSING;
                            break;
                        }
                    }
                }
                if (e == NONE) {
                    int page = allocatePage(parent, victim);
                    if (page < 0) {
                        metrics.add(Counter.STORE_NO_SPACE_BLOCKS, from + count - i);
                        slots[3 * count + 2] = StoreResult.NO_SPACE;
                        break;
                    }
                    e = index.insert(key.hi(), key.lo(), parent, nsId, key.position());
                    setChainSample(e, sample);
                    addCopy(e, DRAM, page);
                    slots[n] = e;
                    slots[2 * count + n] = page;
                    slots[count + n++] = i - from;
                } else {
                    metrics.add(Counter.STORE_DUPLICATE_BLOCKS, 1);
                    slots[3 * count + 1]++;
                    if (index.state(e) == READY) {
                        touch(e);
                    }
                }
                through++;
                parent = e;
            }
            if (n == 0) {
                endCopy();
            }
            slots[3 * count] = through;
            wakeDemoterIfNeeded();
            return n;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Waits, releasing the lock, while no DRAM page is free or droppable, a tier below DRAM
     * exists, the cache is open, {@code until} has not passed and the demoter has not looked
     * and found nothing to write since the wait began (two of its idle rounds). The time waited
     * is counted. Returns whether it waited at all.
     */
    private boolean awaitCleanPage(long until) {
        long t0 = System.nanoTime();
        long rounds = demoterIdleRounds;
        boolean waited = false;
        while (dram.freePages() == 0 && cleanDramVictim() == NONE && belowDram() >= 0 && !closed
                && demoterIdleRounds < rounds + 2 && until - System.nanoTime() > 0) {
            waited = true;
            demoterWake.run();
            try {
                cleaned.awaitNanos(until - System.nanoTime());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        metrics.add(Counter.STORE_WAIT_NANOS, System.nanoTime() - t0);
        return waited;
    }

    /** The demoter found nothing to do: a store waiting for a clean page stops waiting. */
    void demoterWentIdle() {
        lock.lock();
        try {
            demoterIdleRounds++;
            cleaned.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** store, step 2: makes the {@code n} reserved blocks readable, deepest first, or drops them all. */
    void publishStore(int[] slots, int n, boolean copied) {
        if (n == 0) {
            return;
        }
        lock.lock();
        try {
            for (int j = n - 1; j >= 0; j--) {
                int e = slots[j];
                if (copied && index.state(e) == WRITING) {
                    publish(e);
                } else if (index.state(e) == WRITING) {
                    dropSubtree(e);
                }
                unpin(e);
            }
            endCopy();
            wakeDemoterIfNeeded();
        } finally {
            lock.unlock();
        }
    }

    /**
     * load, step 1: pins the leading READY blocks of {@code keys[0..w)}, every one of them
     * before any promotion takes a page (which must not evict this load's own blocks), and
     * stops before a block whose remote slot our demoter is rewriting. Fills {@code s}: entries
     * {@code [0, w)}, source tiers {@code [w, 2w)}, locations {@code [2w, 3w)}, and for a block
     * only on a device a DRAM page to promote it into when one can be had without losing a
     * block, else -1 ({@code [3w, 4w)}). Returns the blocks pinned.
     */
    int pinForLoad(BlockKey[] keys, int w, int[] s) {
        lock.lock();
        try {
            checkOpen();
            int pinned = leadingReady(keys, w, s);
            for (int i = 0; i < pinned; i++) {
                index.pin(s[i]);
            }
            for (int i = 0; i < pinned; i++) {
                int e = s[i];
                int tier = index.fastestTier(e);
                if (tier == REMOTE && remoteSlotClaimed(index.location(e, REMOTE))) {
                    for (int j = i; j < pinned; j++) {
                        unpin(s[j]);
                    }
                    pinned = i;
                    break;
                }
                s[w + i] = tier;
                s[2 * w + i] = index.location(e, tier);
                s[3 * w + i] = tier != DRAM && !device(tier).readsAreMemoryCopies() ? planPromotion(e) : -1;
            }
            touchDeepestFirst(s, pinned);
            if (pinned > 0) {
                activePins += pinned;
                inFlight++;
            }
            return pinned;
        } finally {
            lock.unlock();
        }
    }

    /** A page to promote {@code e} into, or -1. */
    private int planPromotion(int e) {
        if ((index.flags(e) & PROMOTING) != 0) {
            return -1;
        }
        int page = allocatePage(e, true);
        if (page >= 0) {
            index.setFlags(e, index.flags(e) | PROMOTING);
            pagesInTransit++;
        }
        return page;
    }

    /**
     * load, step 2, once every read of it has finished: counts the {@code loaded} leading blocks
     * delivered, publishes the promoted copies of those (frees the other promotion pages),
     * queues the delivered blocks of memory-copy tiers for a promotion after the load (see
     * {@link #beginPromotion}), unpins, and handles the first block that failed ({@code failedAt},
     * or -1): a corrupt or mismatched one is dropped with its descendants (a corrupt remote slot
     * is queued for a wipe, if it is still corrupt then); an I/O error is a miss only. Returns
     * whether promotions are queued.
     */
    boolean settleLoad(int[] s, int w, int pinned, int loaded, int failedAt, ReadStatus failure) {
        if (pinned == 0) {
            return false;
        }
        lock.lock();
        try {
            int promotedSsd = 0;
            int promotedRemote = 0;
            for (int i = 0; i < pinned; i++) {
                if (i < loaded) {
                    metrics.add(Counter.LOADED_BLOCKS, s[w + i], 1);
                    metrics.add(Counter.LOADED_BYTES, s[w + i], dram.blockBytes());
                    if (s[w + i] != DRAM && s[3 * w + i] < 0 && device(s[w + i]).readsAreMemoryCopies()
                            && promotionsQueued < toPromote.length) {
                        toPromote[(promotionsHead + promotionsQueued++) % toPromote.length] = s[i];
                    }
                }
                if (settlePromotion(s[i], s[3 * w + i], i < loaded)) {
                    promotedSsd += s[w + i] == SSD ? 1 : 0;
                    promotedRemote += s[w + i] == REMOTE ? 1 : 0;
                }
                unpin(s[i]);
            }
            countPromoted(SSD, promotedSsd);
            countPromoted(REMOTE, promotedRemote);
            if (failedAt >= 0) {
                loadFailed(s[failedAt], s[w + failedAt], s[2 * w + failedAt], failure);
            }
            return promotionsQueued > 0;
        } finally {
            activePins -= pinned;
            endCopy();
            lock.unlock();
        }
    }

    /**
     * promotion after a load, step 1: the next queued block still worth a DRAM copy (live,
     * READY, none in DRAM, no promotion under way) is pinned and marked PROMOTING with a page
     * taken from free or clean pages only (a promotion never drops an unwritten block); its
     * tier, location and page go to {@code plan[0..2]}, its key and namespace to
     * {@code key[0..3]}. NONE when the queue is empty or the cache is closing.
     */
    int beginPromotion(int[] plan, long[] key) {
        lock.lock();
        try {
            while (promotionsQueued > 0 && !closed) {
                int e = toPromote[promotionsHead];
                promotionsHead = (promotionsHead + 1) % toPromote.length;
                promotionsQueued--;
                if (!index.isLive(e) || index.state(e) != READY || index.hasCopy(e, DRAM)
                        || (index.flags(e) & PROMOTING) != 0) {
                    continue;
                }
                int page = allocatePage(e, true);
                if (page < 0) {
                    continue;
                }
                index.pin(e);
                index.setFlags(e, index.flags(e) | PROMOTING);
                pagesInTransit++;
                inFlight++;
                promotionsInFlight++;
                int tier = index.fastestTier(e);
                plan[0] = tier;
                plan[1] = index.location(e, tier);
                plan[2] = page;
                int ns = index.namespace(e);
                key[0] = index.keyHi(e);
                key[1] = index.keyLo(e);
                key[2] = namespaceHi(ns);
                key[3] = namespaceLo(ns);
                return e;
            }
            promotionsQueued = closed ? 0 : promotionsQueued;
            return NONE;
        } finally {
            lock.unlock();
        }
    }

    /**
     * promotion after a load, step 2: publishes the page read for {@code e} from {@code tier} if
     * {@code verified}, else frees it. Returns whether {@code e} gained its DRAM copy.
     */
    boolean completePromotion(int e, int tier, int page, boolean verified) {
        lock.lock();
        try {
            boolean promoted = settlePromotion(e, page, verified);
            metrics.add(Counter.PROMOTED_BLOCKS, tier, promoted ? 1 : 0);
            unpin(e);
            return promoted;
        } finally {
            promotionsInFlight--;
            endCopy();
            if (promotionsInFlight == 0) {
                idle.signalAll();
            }
            lock.unlock();
        }
    }

    /** Under the lock: {@code n} blocks of a load from {@code tier} gained their DRAM copy within it. */
    private void countPromoted(int tier, int n) {
        if (n > 0) {
            metrics.add(Counter.PROMOTED_BLOCKS, tier, n);
            metrics.observers().promotion(tier, n, (long) n * dram.blockBytes(), 0, CacheObserver.Outcome.OK);
        }
    }

    /** Whether blocks wait for a promotion (see {@link #beginPromotion}). */
    boolean promotionsQueued() {
        lock.lock();
        try {
            return promotionsQueued > 0 && !closed;
        } finally {
            lock.unlock();
        }
    }

    /** Waits until no promotion is queued or under way (the caller has started the queued ones). */
    void awaitPromotions() {
        lock.lock();
        try {
            while (promotionsInFlight > 0) {
                idle.awaitUninterruptibly();
            }
        } finally {
            lock.unlock();
        }
    }

    /** Publishes or frees {@code e}'s promotion page; true when published. */
    private boolean settlePromotion(int e, int page, boolean verified) {
        if (page < 0) {
            return false;
        }
        index.setFlags(e, index.flags(e) & ~PROMOTING);
        pagesInTransit--;
        if (verified && index.isLive(e) && !index.hasCopy(e, DRAM)) {
            addCopy(e, DRAM, page);
            return true;
        }
        dram.free(page);
        return false;
    }

    private void loadFailed(int e, int tier, int slot, ReadStatus failure) {
        Counter c = failure == ReadStatus.CORRUPT || failure == ReadStatus.UNAUTHENTIC ? Counter.CORRUPT_BLOCKS
                : failure == ReadStatus.MISMATCH ? Counter.MISMATCHED_BLOCKS : Counter.READ_ERRORS;
        metrics.add(c, tier, 1);
        if (failure == ReadStatus.CORRUPT && tier == REMOTE) {
            wipeRemote(e, slot, true);
        }
        if (tier == SSD && ssd.failed()) {
            forgetFailedSsd();
            if (index.isLive(e) && index.hasCopy(e, SSD)) {
                dropSubtree(e); // an SSD copy the forgetting could not see (a write that completed late)
            }
        } else if (failure != ReadStatus.IO_ERROR || tier == REMOTE && remote.failed(slot)) {
            dropSubtree(e); // a failed device's blocks are gone: dropped, a store can put them back
        }
    }

    /**
     * The SSD device has failed for good (see {@link dev.kvtier.device.BlockDevice#failed}): every
     * SSD copy is forgotten at once (blocks kept nowhere else leave, with their descendants), and
     * from now on DRAM writes down to the remote tier if there is one. Its slots are not reused.
     */
    private void forgetFailedSsd() {
        if (ssdFailed) {
            return;
        }
        ssdFailed = true;
        for (int e = 0; e < index.capacity(); e++) {
            if (index.isLive(e) && index.hasCopy(e, SSD) && index.copies(e) == 1 << SSD) {
                dropSubtree(e);
            }
        }
        for (int e = 0; e < index.capacity(); e++) {
            if (index.isLive(e) && index.hasCopy(e, SSD) && index.state(e) == READY) {
                removeCopy(e, SSD, false);
            }
        }
    }

    /** How many leading keys are READY (no side effects). */
    int readyPrefix(BlockKey[] keys) {
        lock.lock();
        try {
            checkOpen();
            int n = 0;
            while (n < keys.length) {
                int e = index.find(keys[n].hi(), keys[n].lo());
                if (e == NONE || index.state(e) != READY) {
                    break;
                }
                n++;
            }
            return n;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Remote discovery: enters the leading keys of {@code keys[from..]} found in the remote slots
     * {@code slots} (-1: not found) as READY blocks with a remote copy, each under its parent
     * (which must be READY); a slot's previous owner in this process is forgotten. Returns how
     * many were entered or already known.
     */
    int enterDiscovered(BlockKey[] keys, int from, int[] slots, long[] epochs) {
        lock.lock();
        try {
            checkOpen();
            int parent = from == 0 ? NONE : index.find(keys[from - 1].hi(), keys[from - 1].lo());
            int n = 0;
            for (; n < slots.length && slots[n] >= 0 && !invalidated(keys[from + n].namespace(), epochs[n]); n++) {
                parent = enterOneDiscovered(keys[from + n], parent, slots[n]);
                if (parent == NONE) {
                    break;
                }
            }
            metrics.add(Counter.DISCOVERED_BLOCKS, REMOTE, n);
            return n;
        } finally {
            lock.unlock();
        }
    }

    /** Whether a remote block of {@code ns} written at {@code epoch} is invalid (or its namespace is being invalidated). */
    private boolean invalidated(Namespace ns, long epoch) {
        return invalidating.contains(new NamespaceId(ns.rootHi(), ns.rootLo()))
                || remoteInvalidations.invalidates(ns.rootHi(), ns.rootLo(), epoch);
    }

    /** Enters {@code key} found in remote {@code slot}; its entry, or NONE to stop. */
    private int enterOneDiscovered(BlockKey key, int parent, int slot) {
        if (!key.isFirst() && (parent == NONE || index.state(parent) != READY)) {
            return NONE;
        }
        int e = index.find(key.hi(), key.lo());
        if (e != NONE) {
            return index.state(e) == READY ? e : NONE;
        }
        forgetRemote(slot);
        if (!key.isFirst() && !index.isLive(parent) || index.used() == index.capacity()) {
            return NONE;
        }
        Namespace ns = key.namespace();
        e = index.insert(key.hi(), key.lo(), key.isFirst() ? NONE : parent, namespaceId(ns.rootHi(), ns.rootLo()),
                key.position());
        addRemoteCopy(e, slot);
        publish(e);
        unpin(e);
        return e;
    }

    // ---- demotion: the demoter's transitions (each takes the lock itself)

    /** Sets what wakes the demoter (see {@link #demoterWake}). */
    void onDemoterWork(Runnable wake) {
        lock.lock();
        try {
            demoterWake = wake;
        } finally {
            lock.unlock();
        }
    }

    /** A queued SSD slot wipe, now held by the demoter, or -1. */
    int takeSsdWipe() {
        lock.lock();
        try {
            Integer slot = pendingWipes.poll();
            demoterSlots += slot == null ? 0 : 1;
            return slot == null ? -1 : slot;
        } finally {
            lock.unlock();
        }
    }

    /** The demoter wiped (or failed to wipe) SSD {@code slot}: it is free again. */
    void ssdWipeDone(int slot, boolean ok) {
        lock.lock();
        try {
            demoterSlots--;
            ssd.release(slot);
            metrics.add(ok ? Counter.WIPED_SLOTS : Counter.WRITE_ERRORS, SSD, 1);
        } finally {
            lock.unlock();
        }
    }

    /** A queued remote wipe, or null. */
    RemoteWipe takeRemoteWipe() {
        lock.lock();
        try {
            return remoteWipes.poll();
        } finally {
            lock.unlock();
        }
    }

    /** Whether fewer DRAM pages can be had without losing a block than the demoter keeps ahead. */
    boolean dramBelowWatermark() {
        lock.lock();
        try {
            return belowWatermark();
        } finally {
            lock.unlock();
        }
    }

    /** Whether fewer SSD slots are free than {@code ahead} while a remote tier could take copies. */
    boolean ssdBelowWatermark(int ahead) {
        lock.lock();
        try {
            return remote != null && ssd != null && !ssdFailed && ssd.freeSlots() < ahead;
        } finally {
            lock.unlock();
        }
    }

    /** What a demotion search looks for: a level's writes, or a flush's. */
    enum DemotionKind { DRAM_LEVEL, SSD_LEVEL, FLUSH }

    /**
     * The next block to write {@code kind}'s way (from DRAM to the tier below it, or from SSD to
     * REMOTE), admission asked, with its write begun (see {@link #beginDemotion}); NONE when there
     * is none. The topmost ancestor that needs the write too comes first, and only a block whose
     * parent is in the target tier (or on its way); up to {@value #CANDIDATES} blocks are looked
     * at. Candidates admission refuses are flagged: REJECTED (until hit again), or for a flush
     * FLUSH_REFUSED (until it ends); both counted. {@code source} as for {@link #beginDemotion},
     * then the slot code it returned.
     */
    int beginNextDemotion(DemotionKind kind, int to, double writePressure, int[] ssdWrites, int n,
            SlotHeader header, int[] source) {
        lock.lock();
        try {
            int e = pickDemotion(kind, to, writePressure);
            if (e != NONE) {
                source[2] = beginDemotion(e, to, ssdWrites, n, header, source);
            }
            return e;
        } finally {
            lock.unlock();
        }
    }

    private int pickDemotion(DemotionKind kind, int to, double writePressure) {
        IntPredicate needsWrite = kind == DemotionKind.SSD_LEVEL ? ssdOnlyBelow
                : kind == DemotionKind.FLUSH ? flushable : dirtyDram;
        int from = kind == DemotionKind.SSD_LEVEL ? SSD : DRAM;
        for (int tries = 0; tries < CANDIDATES; tries++) {
            int e = nextCandidate(needsWrite, from, to);
            boolean flush = kind == DemotionKind.FLUSH;
            if (e == NONE || (flush ? admission.admitFlush(to, e)
                    : admission.admitWrite(to, e, chainSample(e), writePressure))) {
                return e;
            }
            if (flush) {
                markFlag(e, FLUSH_REFUSED);
            } else {
                setRejected(e, true);
            }
            metrics.add(Counter.REJECTED_BLOCKS, to, 1);
        }
        return NONE;
    }

    /** See {@link #pickDemotion}; candidates passed over are flagged SKIP for the search only. */
    private int nextCandidate(IntPredicate needsWrite, int from, int to) {
        int chosen = NONE;
        int n = 0;
        while (n < CANDIDATES) {
            int e = topmost(orders[from].victim(needsWrite), needsWrite);
            if (e == NONE || parentWritten(e, to)) {
                chosen = e;
                break;
            }
            index.setFlags(e, index.flags(e) | SKIP);
            skipped[n++] = e;
        }
        for (int i = 0; i < n; i++) {
            index.setFlags(skipped[i], index.flags(skipped[i]) & ~SKIP);
        }
        return chosen;
    }

    /** True when {@code e}'s parent is the namespace root, in {@code tier}, or being written. */
    private boolean parentWritten(int e, int tier) {
        int p = index.parent(e);
        return p == NONE || index.hasCopy(p, tier) || (index.flags(p) & MOVING) != 0;
    }

    private int topmost(int e, IntPredicate needsWrite) {
        if (e == NONE) {
            return NONE;
        }
        for (int p = index.parent(e); p != NONE && needsWrite.test(p); p = index.parent(p)) {
            e = p;
        }
        return e;
    }

    /**
     * Begins the write of {@code e} to {@code to}: for the SSD, takes a slot, evicting no
     * ancestor of {@code e} nor of the blocks in {@code ssdWrites[0..n)} (writes in flight: their
     * blocks would land without their parents); pins and flags the block MOVING; fills
     * {@code header} and {@code source} (its DRAM page, or -1 and its SSD slot). Returns the SSD
     * slot, -1 for REMOTE (placed when written), or -2 when no SSD slot could be had.
     */
    private int beginDemotion(int e, int to, int[] ssdWrites, int n, SlotHeader header, int[] source) {
        int slot = -1;
        if (to == SSD) {
            for (int i = 0; i < n; i++) {
                setAncestorFlag(ssdWrites[i], KEEP, true);
            }
            slot = allocateSlotKeeping(e);
            for (int i = 0; i < n; i++) {
                setAncestorFlag(ssdWrites[i], KEEP, false);
            }
            if (slot < 0) {
                metrics.add(Counter.DEMOTE_DECLINED_BLOCKS, 1);
                return -2;
            }
            demoterSlots++;
        }
        source[0] = index.hasCopy(e, DRAM) ? index.location(e, DRAM) : -1;
        source[1] = source[0] < 0 ? index.location(e, SSD) : -1;
        index.pin(e);
        index.setFlags(e, index.flags(e) | MOVING);
        int ns = index.namespace(e);
        int parent = index.parent(e);
        header.keyHi = index.keyHi(e);
        header.keyLo = index.keyLo(e);
        header.namespaceHi = namespaceHi(ns);
        header.namespaceLo = namespaceLo(ns);
        header.parentHi = parent == NONE ? header.namespaceHi : index.keyHi(parent);
        header.parentLo = parent == NONE ? header.namespaceLo : index.keyLo(parent);
        header.position = index.position(e);
        return slot;
    }

    /** Our remote writes completed so far: read before a set's headers, it dates the ranking made from them. */
    int remoteWrites() {
        return remoteWrites;
    }

    /**
     * The slot of {@code ranked} (a set's slots, best first: {@link SharedSlotTier#rankSlots},
     * from headers read after {@link #remoteWrites} was {@code rankedAt}) that the write of
     * {@code e} takes, now claimed; -1 when none may. The first slot it may replace (see
     * {@link #remoteSlotReplaceable}), so the oldest block goes, whoever wrote it; but when that
     * block is a parent and one of its descendants in the set may go by the prefix rule, the
     * descendant, which loses less. A slot one of our writes filled after the headers were read
     * ranks last: the ranking shows the block it replaced.
     */
    int claimRemoteSlotFor(int e, int[] ranked, int rankedAt) {
        lock.lock();
        try {
            for (int pass = 0; pass < 2; pass++) {
                for (int candidate : ranked) {
                    if (rewrittenSince(candidate, rankedAt) != (pass == 1) || !remoteSlotReplaceable(candidate, e)) {
                        continue;
                    }
                    int descendant = replaceableDescendant(candidate, ranked, e);
                    if (descendant >= 0 && claimRemoteSlot(descendant)) {
                        return descendant;
                    }
                    if (claimRemoteSlot(candidate)) {
                        return candidate;
                    }
                }
            }
            return -1;
        } finally {
            lock.unlock();
        }
    }

    private boolean rewrittenSince(int slot, int rankedAt) {
        return remoteWrittenAt[slot] - rankedAt > 0;
    }

    /** A slot of {@code ranked} whose owner descends from {@code slot}'s and may go by the prefix rule, or -1. */
    private int replaceableDescendant(int slot, int[] ranked, int e) {
        int owner = remoteOwner[slot];
        if (owner == NONE || evictable(owner, REMOTE)) {
            return -1;
        }
        for (int s : ranked) {
            int o = remoteOwner[s];
            if (o != NONE && o != owner && evictable(o, REMOTE) && remoteSlotReplaceable(s, e) && isAncestor(owner, o)) {
                return s;
            }
        }
        return -1;
    }

    /**
     * Ends the write of {@code e} to {@code to}, whatever happened. Written ({@code failure}
     * null): the block gains its copy (if it left the cache meanwhile, the slot is wiped
     * instead); returns true when it is live. Failed: counted, the SSD slot freed, and the block
     * set aside (NO_DEMOTE until {@link #clearSetAside}; in a flush, FLUSH_REFUSED until it
     * ends). A remote slot claim is released either way.
     */
    boolean completeDemotion(int e, int to, int slot, Counter failure, boolean flushing, SlotHeader header) {
        lock.lock();
        try {
            if (to == REMOTE && slot >= 0) {
                releaseRemoteSlot(slot);
            }
            demoterSlots -= to == SSD ? 1 : 0;
            index.setFlags(e, index.flags(e) & ~MOVING);
            cleaned.signalAll();
            boolean live = false;
            if (failure == null) {
                live = demoted(e, to, slot, header);
            } else {
                metrics.add(failure, 1);
                admission.onWriteDeclined(to);
                if (to == SSD && ssd.failed()) {
                    forgetFailedSsd();
                }
                if (to == SSD) {
                    ssd.release(slot);
                }
                markFlag(e, flushing ? FLUSH_REFUSED : NO_DEMOTE);
            }
            unpin(e);
            return live;
        } finally {
            lock.unlock();
        }
    }

    private boolean demoted(int e, int to, int slot, SlotHeader header) {
        if (to == SSD && ssdFailed) {
            return false; // written before the device failed; its copies are forgotten
        }
        boolean live = index.isLive(e);
        if (to == REMOTE) {
            remoteWrittenAt[slot] = ++remoteWrites;
            addRemoteCopy(e, slot);
            if (!live) {
                wipeRemote(e, slot, false);
            }
        } else if (live) {
            addCopy(e, SSD, slot);
        } else {
            pendingWipes.add(slot);
        }
        if (live) {
            metrics.add(Counter.STORED_BLOCKS, to, 1);
            metrics.add(Counter.STORED_BYTES, to, header.blockLength);
            metrics.add(Counter.ENCODED_BYTES, to, header.storedLength);
        }
        return live;
    }

    /** Sets {@code e} aside (NO_DEMOTE) until {@link #clearSetAside}. */
    void setAside(int e) {
        lock.lock();
        try {
            markFlag(e, NO_DEMOTE);
        } finally {
            lock.unlock();
        }
    }

    /** Makes every block set aside eligible for demotion again. */
    void clearSetAside() {
        lock.lock();
        try {
            clearMarked(NO_DEMOTE);
        } finally {
            lock.unlock();
        }
    }

    /** A flush ended: the blocks admission refused to it are eligible again. */
    void endFlush() {
        lock.lock();
        try {
            clearMarked(FLUSH_REFUSED);
        } finally {
            lock.unlock();
        }
    }

    /** Releases a remote slot claim and counts the wipe. */
    void remoteWipeDone(int slot, boolean ok, boolean wiped) {
        lock.lock();
        try {
            releaseRemoteSlot(slot);
            metrics.add(ok ? Counter.WIPED_SLOTS : Counter.WRITE_ERRORS, REMOTE, ok && !wiped ? 0 : 1);
        } finally {
            lock.unlock();
        }
    }

    // ---- recovery (at open, before the cache is shared)

    /** recover: an SSD slot whose header could not be read stays out of use until the next open. */
    void quarantineSlot(int slot) {
        ssd.markUsed(slot);
        metrics.add(Counter.READ_ERRORS, SSD, 1);
        quarantinedSlots++;
    }

    /** recover: an SSD slot with a corrupt or stale header is wiped before reuse. */
    void discardSlot(int slot) {
        ssd.markUsed(slot);
        pendingWipes.add(slot);
        metrics.add(Counter.RECOVERY_DISCARDED_SLOTS, SSD, 1);
    }

    /**
     * recover: enters the blocks of a scan of the SSD tier's headers, parents first. A record is
     * discarded (its slot wiped) when its namespace was invalidated after it was written
     * ({@code invalid}), when its parent is not on the device (it was still only in DRAM
     * at the crash) or does not fit (position, namespace), or when a newer write of the same key
     * exists (higher epoch). The blocks then join the SSD eviction order oldest write first.
     */
    void recover(SsdRecovery.Scan scan, InvalidationTable invalid) {
        lock.lock();
        try {
            long[] entryEpoch = new long[index.capacity()];
            int[] entered = new int[scan.found()];
            int n = 0;
            for (int i : scan.byPosition()) {
                ssd.markUsed(scan.slot()[i]);
                boolean valid = !invalid.invalidates(scan.ns()[2 * i], scan.ns()[2 * i + 1], scan.epoch()[i]);
                int e = valid ? recoverRecord(scan, i, entryEpoch) : NONE;
                if (e == NONE) {
                    discardSlot(scan.slot()[i]);
                } else if (e >= 0) {
                    entered[n++] = e;
                }
            }
            long[] byEpoch = new long[n];
            for (int j = 0; j < n; j++) {
                byEpoch[j] = entryEpoch[entered[j]];
            }
            int[] order = java.util.stream.IntStream.range(0, n).boxed()
                    .sorted((a, b) -> Long.compare(byEpoch[a], byEpoch[b])).mapToInt(Integer::intValue).toArray();
            for (int j : order) {
                publish(entered[j]);
                index.unpin(entered[j]);
            }
            metrics.add(Counter.RECOVERED_BLOCKS, SSD, n);
        } finally {
            lock.unlock();
        }
    }

    /** Enters record {@code i}: its new entry, NONE to discard its slot, or -2 when it replaced an older copy of its key. */
    private int recoverRecord(SsdRecovery.Scan scan, int i, long[] entryEpoch) {
        long kHi = scan.key()[2 * i];
        long kLo = scan.key()[2 * i + 1];
        int slot = scan.slot()[i];
        int existing = index.find(kHi, kLo);
        if (existing != NONE) {
            if (scan.epoch()[i] <= entryEpoch[existing]) {
                return NONE;
            }
            discardSlot(index.removeCopy(existing, SSD));
            index.addCopy(existing, SSD, slot);
            entryEpoch[existing] = scan.epoch()[i];
            return -2;
        }
        int nsId = namespaceId(scan.ns()[2 * i], scan.ns()[2 * i + 1]);
        int p = recoveredParent(scan, i, nsId);
        if (p == -2) {
            return NONE;
        }
        int e = index.insert(kHi, kLo, p, nsId, scan.position()[i]);
        index.addCopy(e, SSD, slot);
        entryEpoch[e] = scan.epoch()[i];
        return e;
    }

    /** Record {@code i}'s parent entry, NONE for a first block, or -2 when it is an orphan or does not fit. */
    private int recoveredParent(SsdRecovery.Scan scan, int i, int nsId) {
        long pHi = scan.parent()[2 * i];
        long pLo = scan.parent()[2 * i + 1];
        if (scan.position()[i] == 0) {
            return pHi == scan.ns()[2 * i] && pLo == scan.ns()[2 * i + 1] ? NONE : -2;
        }
        int p = index.find(pHi, pLo);
        if (p == NONE || index.position(p) != scan.position()[i] - 1 || index.namespace(p) != nsId) {
            return -2;
        }
        return p;
    }

    /** acquire: pins {@code key}'s DRAM copy for a handle; its page, or -1 when it is not READY in DRAM. */
    int pinDramForHandle(BlockKey key, int[] entry) {
        lock.lock();
        try {
            checkOpen();
            int e = index.find(key.hi(), key.lo());
            if (e == NONE || index.state(e) != READY || !index.hasCopy(e, DRAM)) {
                return -1;
            }
            index.pin(e);
            activePins++;
            touch(e);
            entry[0] = e;
            return index.location(e, DRAM);
        } finally {
            lock.unlock();
        }
    }

    /**
     * A handle's pin goes, once: on close, or when the handle was collected unclosed. A leaked
     * handle's views may still be in use, so its block leaves the index and its page stays pinned
     * for the life of the cache (quarantined).
     */
    void releaseHandle(int e, boolean leaked) {
        lock.lock();
        try {
            if (closed) {
                return;
            }
            activePins--;
            if (!leaked) {
                unpin(e);
            } else {
                metrics.add(Counter.LEAKED_PINS, 1);
                if (index.isLive(e)) {
                    retire(e, false);
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * invalidate, step 1: every block of the namespace leaves the cache (pinned ones when
     * unpinned), and none of its remote blocks is discovered until {@link #invalidationRecorded}.
     * Returns how many blocks left.
     */
    int invalidateNamespace(long nsHi, long nsLo) {
        lock.lock();
        try {
            checkOpen();
            invalidating.add(new NamespaceId(nsHi, nsLo));
            return retireNamespace(nsHi, nsLo);
        } finally {
            lock.unlock();
        }
    }

    /** invalidate, step 2: the remote device records the namespace invalid up to {@code remoteEpoch}; discovery resumes for later blocks. */
    void invalidationRecorded(long nsHi, long nsLo, long remoteEpoch) {
        lock.lock();
        try {
            if (remoteEpoch > 0) {
                remoteInvalidations = remoteInvalidations.with(nsHi, nsLo, remoteEpoch);
            }
            invalidating.remove(new NamespaceId(nsHi, nsLo));
        } finally {
            lock.unlock();
        }
    }

    /**
     * Another server's invalidations, read from the remote device: for each namespace recorded
     * later than this process knew, every block of it leaves the cache (also those on DRAM and
     * SSD: which were written before the record is not known, so all go; later ones are stored
     * again). Returns the namespaces newly invalidated (the floor as (0, 0)), for the caller to
     * record on the SSD.
     */
    java.util.List<long[]> applyRemoteInvalidations(InvalidationTable device) {
        lock.lock();
        try {
            java.util.List<long[]> fresh = new java.util.ArrayList<>();
            InvalidationTable known = remoteInvalidations;
            device.forEach((hi, lo, epoch) -> {
                boolean floor = hi == 0 && lo == 0;
                long before = floor ? known.invalidatedUpTo(0, 0) : known.invalidatedUpTo(hi, lo);
                if (epoch > before) {
                    fresh.add(new long[] {hi, lo});
                    remoteInvalidations = floor ? remoteInvalidations : remoteInvalidations.with(hi, lo, epoch);
                }
            });
            for (long[] ns : fresh) {
                if (ns[0] == 0 && ns[1] == 0) {
                    metrics.add(Counter.INVALIDATED_BLOCKS, retireAll());
                } else {
                    retireNamespace(ns[0], ns[1]);
                }
            }
            if (!fresh.isEmpty() && device.invalidatedUpTo(0, 0) > known.invalidatedUpTo(0, 0)) {
                remoteInvalidations = device;
            }
            return fresh;
        } finally {
            lock.unlock();
        }
    }

    private int retireAll() {
        int n = 0;
        for (int e = 0; e < index.capacity(); e++) {
            if (index.isLive(e)) {
                retire(e, true);
                n++;
            }
        }
        return n;
    }

    /** Retires every live block of namespace {@code (nsHi, nsLo)}; how many. */
    private int retireNamespace(long nsHi, long nsLo) {
        int id = existingNamespaceId(nsHi, nsLo);
        int n = 0;
        for (int e = 0; id >= 0 && e < index.capacity(); e++) {
            if (index.isLive(e) && index.namespace(e) == id) {
                if (index.hasCopy(e, REMOTE)) {
                    wipeRemote(e, index.location(e, REMOTE), false);
                }
                retire(e, true);
                n++;
            }
        }
        metrics.add(Counter.INVALIDATED_BLOCKS, n);
        return n;
    }

    /** close, step 1: refuses new operations and waits for the copies in flight. False when already closed. */
    boolean beginClose() {
        lock.lock();
        try {
            if (closed) {
                return false;
            }
            closed = true;
            cleaned.signalAll();
            while (inFlight > 0) {
                idle.awaitUninterruptibly();
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    boolean isClosed() {
        lock.lock();
        try {
            return closed;
        } finally {
            lock.unlock();
        }
    }

    /** Throws once the cache is closed. */
    void requireOpen() {
        lock.lock();
        try {
            checkOpen();
        } finally {
            lock.unlock();
        }
    }

    /** What stats() reports of the block state, taken together under the lock. */
    record Gauges(long[] resident, int pins, double[] admitShares) {
    }

    Gauges gauges() {
        lock.lock();
        try {
            double[] shares = new double[CacheMetrics.TIERS];
            for (int t = 0; t < shares.length; t++) {
                shares[t] = admission.admitShare(t);
            }
            return new Gauges(residentBlocks(), activePins, shares);
        } finally {
            lock.unlock();
        }
    }

    /** Verifies the invariants of the class comment; O(capacity). For tests; nothing once closed. */
    void checkInvariants() {
        lock.lock();
        try {
            if (!closed) {
                checkInvariantsLocked();
            }
        } finally {
            lock.unlock();
        }
    }

    private void checkInvariantsLocked() {
        index.checkInvariants();
        for (int e = 0; e < index.capacity(); e++) {
            byte st = index.state(e);
            boolean pinned = index.pins(e) > 0;
            if ((st == WRITING || (index.flags(e) & (MOVING | PROMOTING)) != 0 || st == RETIRED) && !pinned) {
                throw new IllegalStateException("entry " + e + " in state " + st + " with flags " + index.flags(e)
                        + " is not pinned");
            }
            if (st == READY && index.copies(e) == 0) {
                throw new IllegalStateException("READY entry " + e + " has no copy");
            }
        }
        int slotsInUse = 0;
        int pagesInUse = 0;
        int leaves = 0;
        for (int e = 0; e < index.capacity(); e++) {
            leaves += cleanLeaf(e);
            pagesInUse += index.hasCopy(e, DRAM) ? 1 : 0;
            slotsInUse += index.hasCopy(e, SSD) ? 1 : 0;
            if (index.hasCopy(e, REMOTE) && remoteOwner[index.location(e, REMOTE)] != e) {
                throw new IllegalStateException("entry " + e + " has remote slot " + index.location(e, REMOTE)
                        + " whose owner is " + remoteOwner[index.location(e, REMOTE)]);
            }
        }
        for (int slot = 0; slot < remoteOwner.length; slot++) {
            int o = remoteOwner[slot];
            if (o != NONE && (!index.hasCopy(o, REMOTE) || index.location(o, REMOTE) != slot)) {
                throw new IllegalStateException("remote slot " + slot + " owned by " + o + " without that copy");
            }
        }
        if (leaves != cleanLeaves) {
            throw new IllegalStateException("clean leaves counted " + cleanLeaves + " but " + leaves + " exist");
        }
        if (pagesInUse + dram.freePages() + pagesInTransit != dram.pageCount()) {
            throw new IllegalStateException("pages leaked: " + pagesInUse + " in use + " + dram.freePages()
                    + " free + " + pagesInTransit + " being promoted != " + dram.pageCount());
        }
        if (ssd != null && slotsInUse + ssd.freeSlots() + pendingWipes.size() + demoterSlots + quarantinedSlots
                != ssd.slotCount()) {
            throw new IllegalStateException("slots leaked or double-booked: " + slotsInUse + " in use + "
                    + ssd.freeSlots() + " free + " + pendingWipes.size() + " to wipe + " + demoterSlots
                    + " being written != " + ssd.slotCount());
        }
    }

    void checkOpen() {
        if (closed) {
            throw new CacheClosedException("KvTierCache is closed");
        }
    }

    void endCopy() {
        if (--inFlight == 0) {
            idle.signalAll();
        }
    }

    long[] residentBlocks() {
        long[] r = new long[CacheMetrics.TIERS];
        for (int t = 0; t < BlockIndex.TIERS; t++) {
            r[t] = resident[t];
        }
        return r;
    }
}
