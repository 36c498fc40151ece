package dev.kvtier;

import dev.kvtier.format.DeviceLayout;
import dev.kvtier.format.SlotSeal;
import dev.kvtier.offline.OfflineKnobs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.function.LongSupplier;

/**
 * Configures a {@link KvTierCache}; every setting is checked by {@link #build()}, which names
 * the offending setting in its message. Sizes are in bytes ({@link ByteSize} spells them in
 * binary units), times are {@link Duration}s, and the remote tier's settings are grouped in
 * {@link RemoteTier}.
 *
 * <pre>{@code
 * KvTierCache cache = KvTierCache.builder()
 *     .blockTokens(16).blockBytes(mib(2))
 *     .dramCapacityBytes(gib(8))
 *     .localSsd(Path.of("/nvme/kvtier.slots"), tib(1))
 *     .ssdCompression(Compression.LZ4_SHUFFLE2)
 *     .remote(RemoteTier.builder(URI.create("nbd://flash-01:10809/kv"), tib(4)).build())
 *     .build();
 * }</pre>
 */
public final class KvTierCacheBuilder {
    static final int MAX_BLOCK_BYTES = 1 << 30;
    /** Most blocks one tier may hold (the index's limit). */
    static final long MAX_BLOCKS = 1 << 29;
    static final Duration DEFAULT_FLUSH_ON_CLOSE = Duration.ofSeconds(10);

    private Integer blockTokens;
    private Long blockBytes;
    private Long dramCapacityBytes;
    private Path ssdPath;
    private long ssdCapacityBytes;
    private Compression ssdCompression = Compression.NONE;
    private boolean ssdDirectIo;
    private boolean reinitialize;
    private double demoteAhead = 0.125;
    private Duration flushOnClose = DEFAULT_FLUSH_ON_CLOSE;
    private Duration storeWait = Duration.ZERO;
    private RemoteTier remote;
    private Executor loadCompletions;
    /** Null until set: {@link CachePolicy#ADAPTIVE}, or opt under an offline future. */
    private CachePolicy policy;
    private final double[] writeBudgets = new double[Tier.values().length];
    private PrefillModel prefillModel;
    private int budgetTiers;

    KvTierCacheBuilder() {
    }

    /**
     * The capacity to give {@link #localSsd} or {@link #remote} so that the tier
     * holds at least {@code blocks} blocks of {@code blockBytes} (slot headers, the superblock
     * and page rounding included).
     */
    public static long deviceBytesFor(long blocks, long blockBytes) {
        require(blocks >= 1 && blockBytes >= 1 && blockBytes <= MAX_BLOCK_BYTES,
                "deviceBytesFor needs positive blocks and blockBytes of at most " + MAX_BLOCK_BYTES);
        return (DeviceLayout.bytesFor(blocks, 1, (int) blockBytes) + 4095) & -4096L;
    }

    /** Tokens per block (B), 1 to 65,536; keys must come from namespaces with the same B. */
    public KvTierCacheBuilder blockTokens(int tokens) {
        this.blockTokens = tokens;
        return this;
    }

    /** Bytes of KV per block (e.g. {@code mib(2)} for Llama-3-8B bf16 at B = 16), 1 byte to 1 GiB. */
    public KvTierCacheBuilder blockBytes(long bytes) {
        this.blockBytes = bytes;
        return this;
    }

    /**
     * Off-heap DRAM for blocks; allocated once at build and never exceeded. Each block takes
     * {@code blockBytes} rounded up to 64 bytes.
     */
    public KvTierCacheBuilder dramCapacityBytes(long bytes) {
        this.dramCapacityBytes = bytes;
        return this;
    }

    /**
     * Adds a local SSD tier: blocks evicted from DRAM are written to {@code file}, created
     * sparse with {@code capacityBytes} where the filesystem allows, through the page cache. The blocks
     * on it survive a restart or a crash: the next cache opened on the same file with the same
     * block size finds them.
     */
    public KvTierCacheBuilder localSsd(Path file, long capacityBytes) {
        this.ssdPath = Objects.requireNonNull(file, "file");
        this.ssdCapacityBytes = capacityBytes;
        return this;
    }

    /** How SSD payloads are encoded. Default {@link Compression#NONE}. */
    public KvTierCacheBuilder ssdCompression(Compression compression) {
        this.ssdCompression = Objects.requireNonNull(compression, "compression");
        return this;
    }

    /**
     * Reach the SSD file (or a raw block device such as a kernel-attached NVMe-over-TCP
     * namespace) with O_DIRECT instead of through the page cache. Default false.
     */
    public KvTierCacheBuilder ssdDirectIo(boolean direct) {
        this.ssdDirectIo = direct;
        return this;
    }

    /**
     * Adds the shared remote tier (see {@link RemoteTier}): one or more NBD exports that many
     * servers attach at once, so that a prefix one of them computed is loaded by the others.
     */
    public KvTierCacheBuilder remote(RemoteTier tier) {
        this.remote = Objects.requireNonNull(tier, "tier");
        return this;
    }

    /**
     * Where the futures of loads are completed (so where their dependent actions run). Default:
     * the thread that finished the load, often a kvtier I/O thread, which must not be blocked.
     */
    public KvTierCacheBuilder loadCompletionExecutor(Executor executor) {
        this.loadCompletions = Objects.requireNonNull(executor, "executor");
        return this;
    }

    /**
     * The share of DRAM the background demoter keeps reclaimable by writing the coldest blocks to
     * the SSD tier ahead of need, in (0, 1]. Higher: fewer blocks lost when stores come in
     * bursts, more writes of blocks that are later read again from DRAM. 1 writes every block
     * down (write-through). Default 0.125.
     */
    public KvTierCacheBuilder demoteAhead(double fractionOfDram) {
        this.demoteAhead = fractionOfDram;
        return this;
    }

    /**
     * How long {@link KvTierCache#close()} may spend writing the blocks kept only in DRAM to the
     * tier below ({@link KvTierCache#flush}), so that a clean restart finds them.
     * {@link Duration#ZERO} closes without writing them (they are lost). Default 10 seconds.
     */
    public KvTierCacheBuilder flushOnClose(Duration budget) {
        this.flushOnClose = Objects.requireNonNull(budget, "budget");
        return this;
    }

    /**
     * Back-pressure: how long, in all, a store may wait for the background demoter to clean a
     * DRAM page when the only way to make room would drop a block not yet written to a tier
     * below (counted in {@link CacheStats#storeWaitMillis}). {@link Duration#ZERO}, the default,
     * never waits: stores never block, and when they outrun the device the blocks not yet
     * written are dropped (counted in {@link CacheStats#droppedBlocks}). With a device tier only.
     */
    public KvTierCacheBuilder storeWait(Duration budget) {
        this.storeWait = Objects.requireNonNull(budget, "budget");
        return this;
    }

    /** Which blocks are kept where (see {@link CachePolicy}). Default {@link CachePolicy#ADAPTIVE}. */
    public KvTierCacheBuilder policy(CachePolicy policy) {
        this.policy = Objects.requireNonNull(policy, "policy");
        return this;
    }

    /**
     * A write budget for a device tier ({@link Tier#SSD} or {@link Tier#REMOTE}), in bytes per
     * second (an SSD's drive writes per day times its capacity, divided by 86,400): admission
     * writes no more, on average. Default: none.
     */
    public KvTierCacheBuilder writeBudget(Tier tier, double bytesPerSecond) {
        Objects.requireNonNull(tier, "tier");
        writeBudgets[tier.ordinal()] = bytesPerSecond;
        budgetTiers |= 1 << tier.ordinal();
        return this;
    }

    /**
     * For {@link CachePolicy#COSTAWARE}: weigh a hit by the prefill time it saves under this
     * model (a block deeper in the prompt costs more to recompute) instead of counting every
     * block alike (the README measures what it gains and costs). Default: none (token hits).
     */
    public KvTierCacheBuilder prefillModel(PrefillModel model) {
        this.prefillModel = Objects.requireNonNull(model, "model");
        return this;
    }

    /**
     * When a device holds another format version, block size or capacity, format it afresh
     * (its blocks are lost) instead of refusing it. Default false.
     */
    public KvTierCacheBuilder reinitializeIncompatibleDevices(boolean reinitialize) {
        this.reinitialize = reinitialize;
        return this;
    }

    /**
     * Builds the cache. Throws {@link IllegalArgumentException} naming a missing or bad setting;
     * {@link MissingJvmFlagsException} naming the JVM flags to add; for a tier's device (see
     * {@link DeviceException#tier}), {@link DeviceUnavailableException} when it cannot
     * be opened or read (a file in use or not creatable, not a regular file or block device, an
     * NBD server that does not answer), and {@link DeviceIncompatibleException} when it holds
     * data of another format, geometry or secret. A server can catch the latter two and build
     * again without that tier.
     */
    public KvTierCache build() {
        require(blockTokens != null, "blockTokens is required");
        require(blockTokens >= 1 && blockTokens <= 65_536, "blockTokens must be in [1, 65536], was " + blockTokens);
        require(blockBytes != null, "blockBytes is required");
        require(blockBytes >= 1 && blockBytes <= MAX_BLOCK_BYTES,
                "blockBytes must be in [1, " + MAX_BLOCK_BYTES + "], was " + blockBytes);
        require(dramCapacityBytes != null, "dramCapacityBytes is required");
        long pageBytes = (blockBytes + 63L) & -64L;
        long pages = dramCapacityBytes / pageBytes;
        require(pages >= 1, "dramCapacityBytes (" + dramCapacityBytes + ") must hold at least one block of "
                + pageBytes + " bytes (blockBytes rounded up to 64)");
        require(pages <= MAX_BLOCKS, "dramCapacityBytes (" + dramCapacityBytes + ") holds " + pages
                + " blocks of " + pageBytes + " bytes; at most " + MAX_BLOCKS + " are supported");
        require(demoteAhead > 0 && demoteAhead <= 1, "demoteAhead must be in (0, 1], was " + demoteAhead);
        require(!flushOnClose.isNegative(), "flushOnClose must not be negative, was " + flushOnClose);
        require(!storeWait.isNegative(), "storeWait must not be negative, was " + storeWait);
        int bytes = blockBytes.intValue();
        if (ssdPath != null) {
            checkSsd(pageBytes, bytes);
        }
        CacheConfig.Remote remoteConfig = remote == null ? null : checkRemote(pages, bytes);
        CacheConfig.Policy p = checkPolicy();
        JvmFlags.requireChronicleFlags();
        return new TieredCache(new CacheConfig(blockTokens, bytes, dramCapacityBytes, ssdPath,
                ssdCapacityBytes, ssdCompression, ssdDirectIo, reinitialize, demoteAhead,
                TieredCache.saturatedNanos(flushOnClose), TieredCache.saturatedNanos(storeWait),
                loadCompletions, remoteConfig, p));
    }

    /** The policy, with the offline knobs in force on this thread ({@link OfflineKnobs}): a future makes it opt. */
    private CacheConfig.Policy checkPolicy() {
        OfflineKnobs.NextUse future = OfflineKnobs.future();
        require(future == null || policy == null, "policy " + policy + " is set, but an offline future runs opt");
        CachePolicy kind = policy == null ? CachePolicy.ADAPTIVE : policy;
        LongSupplier clock = OfflineKnobs.clockNanos() == null ? System::nanoTime : OfflineKnobs.clockNanos();
        require((budgetTiers & 1 << Tier.DRAM.ordinal()) == 0, "writeBudget applies to SSD or REMOTE, not DRAM");
        for (Tier t : Tier.values()) {
            double b = writeBudgets[t.ordinal()];
            require((budgetTiers & 1 << t.ordinal()) == 0 || b > 0 && Double.isFinite(b),
                    "writeBudget for " + t + " must be positive bytes per second, was " + b);
        }
        require((budgetTiers & 1 << Tier.SSD.ordinal()) == 0 || ssdPath != null, "writeBudget for SSD, but no localSsd");
        require((budgetTiers & 1 << Tier.REMOTE.ordinal()) == 0 || remote != null,
                "writeBudget for REMOTE, but no remote tier");
        require(prefillModel == null || kind == CachePolicy.COSTAWARE && future == null,
                "a prefillModel is only used by policy costaware, not " + (future == null ? kind : "opt"));
        return new CacheConfig.Policy(kind, future, writeBudgets.clone(), clock, prefillModel, blockTokens);
    }

    /** The remote tier's capacity against the block size and the index's limit; its other settings were checked by {@link RemoteTier.Builder#build()}. */
    private CacheConfig.Remote checkRemote(long pages, int bytes) {
        long perExport = DeviceLayout.slotsThatFit(remote.capacityBytesEach, 1, bytes);
        long slots = perExport * remote.exports.size();
        int ways = Math.max(1, remote.ways); // unset: the exports' own, checked when they are opened
        require(perExport >= ways, "remote capacity (" + remote.capacityBytesEach + " bytes) must hold at least "
                + ways + " slots (one set) of a " + bytes + "-byte block plus its header and the superblock");
        long ssdSlots = ssdPath == null ? 0 : DeviceLayout.slotsThatFit(ssdCapacityBytes, 1, bytes);
        require(slots + ssdSlots + pages <= MAX_BLOCKS, "remote capacity holds up to " + slots
                + " blocks; with DRAM and SSD at most " + MAX_BLOCKS + " blocks are supported");
        return new CacheConfig.Remote(remote.exports, remote.capacityBytesEach, remote.connections,
                saturatedMillis(remote.timeout), remote.ways, saturatedMillis(remote.recheckAfter),
                saturatedMillis(remote.lookupBudget), remote.compression, remote.tls,
                remote.secret == null ? null : SlotSeal.of(remote.secret, remote.tenantSecrets));
    }

    private static long saturatedMillis(Duration d) {
        return TieredCache.saturatedNanos(d) / 1_000_000;
    }

    private void checkSsd(long pageBytes, int blockBytes) {
        Path dir = ssdPath.toAbsolutePath().getParent();
        require(dir != null && Files.isDirectory(dir), "localSsd: directory " + dir + " does not exist");
        require(!Files.isDirectory(ssdPath), "localSsd: " + ssdPath + " is a directory; name a file in it");
        require(Files.isWritable(dir) || Files.isWritable(ssdPath), "localSsd: " + ssdPath + " is not writable");
        long usable = ssdDirectIo ? ssdCapacityBytes : ssdCapacityBytes & -4096L;
        long fewest = DeviceLayout.slotsThatFit(usable, ssdDirectIo ? 4096 : 1, blockBytes);
        long most = DeviceLayout.slotsThatFit(usable, 1, blockBytes);
        require(fewest >= 1, "localSsd capacity (" + ssdCapacityBytes + " bytes) must hold at least one slot of a "
                + blockBytes + "-byte block plus its header and the 8 KiB of superblock and invalidation table"
                + (ssdDirectIo ? ", all 4096-byte aligned" : " in whole 4 KiB pages"));
        require(most + dramCapacityBytes / pageBytes <= MAX_BLOCKS, "localSsd capacity holds up to " + most
                + " blocks; with DRAM at most " + MAX_BLOCKS + " blocks are supported");
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException("KvTierCache: " + message);
        }
    }
}
