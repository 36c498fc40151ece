package dev.kvtier;

import dev.kvtier.format.DeviceLayout;
import dev.kvtier.format.SlotSeal;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.function.LongSupplier;
import javax.net.ssl.SSLContext;

/**
 * Configures a {@link KvTierCache}; every setting is checked by {@link #build()}, which names
 * the offending setting in its message.
 *
 * <pre>{@code
 * KvTierCache cache = KvTierCache.builder()
 *     .blockTokens(16).blockBytes(2 << 20)
 *     .dramCapacityBytes(8L << 30)
 *     .localSsd(Path.of("/nvme/kvtier.slots"), 1L << 40)
 *     .ssdCompression(Compression.LZ4_SHUFFLE2)
 *     .build();
 * }</pre>
 */
public final class KvTierCacheBuilder {
    static final int MAX_BLOCK_BYTES = 1 << 30;
    /** Most blocks one tier may hold (the index's limit). */
    static final long MAX_BLOCKS = 1 << 29;
    static final Duration DEFAULT_FLUSH_ON_CLOSE = Duration.ofSeconds(10);

    private Integer blockTokens;
    private Integer blockBytes;
    private Long dramCapacityBytes;
    private Path ssdPath;
    private long ssdCapacityBytes;
    private Compression ssdCompression = Compression.NONE;
    private boolean ssdDirectIo;
    private boolean reinitialize;
    private double demoteAhead = 0.125;
    private Duration flushOnClose = DEFAULT_FLUSH_ON_CLOSE;
    private long storeWaitMillis;
    private List<URI> remoteUris;
    private long remoteCapacityBytes;
    private int remoteConnections = 4;
    private long remoteTimeoutMillis = 2_000;
    private int remoteWays = 8;
    private long remoteRecheckMillis = 100;
    private long remoteLookupBudgetMillis = 100;
    private java.util.concurrent.Executor loadCompletions;
    private Compression remoteCompression = Compression.NONE;
    private SSLContext remoteTls;
    private byte[] remoteSecret;
    private CachePolicy policy = CachePolicy.ADAPTIVE;
    private NextUseOracle oracle;
    private final double[] writeBudgets = new double[Tier.values().length];
    private LongSupplier policyClock = System::nanoTime;
    private PrefillModel prefillModel;
    private int budgetTiers;

    KvTierCacheBuilder() {
    }

    /**
     * The capacity to give {@link #localSsd} or {@link #remote} so that the tier
     * holds at least {@code blocks} blocks of {@code blockBytes} (slot headers, the superblock
     * and page rounding included).
     */
    public static long deviceBytesFor(long blocks, int blockBytes) {
        require(blocks >= 1 && blockBytes >= 1, "deviceBytesFor needs positive blocks and blockBytes");
        return (DeviceLayout.bytesFor(blocks, 1, blockBytes) + 4095) & -4096L;
    }

    /** Tokens per block (B), 1 to 65,536; keys must come from namespaces with the same B. */
    public KvTierCacheBuilder blockTokens(int tokens) {
        this.blockTokens = tokens;
        return this;
    }

    /** Bytes of KV per block (e.g. 2 MiB for Llama-3-8B bf16 at B = 16), 1 byte to 1 GiB. */
    public KvTierCacheBuilder blockBytes(int bytes) {
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
     * Adds the shared remote tier: an NBD export ({@code nbd://host[:port]/[export]}, port
     * 10809 by default; {@code nbds://} for TLS, see {@link #remoteTls}) of which the first
     * {@code capacityBytes} are used. Several caches, in
     * one or many processes, may attach the same export with the same capacity and block size:
     * blocks one of them writes there are found and loaded by the others (see
     * {@link KvTierCache#match}). The first to attach a blank export formats it. A
     * {@code file:} URI names a file or block device that several hosts attach (a namespace
     * multi-attached over NVMe over TCP): it must exist, is opened with O_DIRECT, never resized,
     * and is refused while a cache of this host uses it as its local SSD tier. A device only
     * this host uses is better kept with {@link #localSsd} and {@link #ssdDirectIo}.
     */
    public KvTierCacheBuilder remote(URI export, long capacityBytes) {
        return remote(List.of(Objects.requireNonNull(export, "export")), capacityBytes);
    }

    /**
     * Adds the shared remote tier over several NBD exports (flash servers), the first
     * {@code capacityBytesEach} of each used, as {@link #remote(URI, long)} describes for one.
     * Blocks are placed over the exports by key (rendezvous hashing over the exports' identities,
     * weighted by their capacities): caches attaching the same exports agree on where each block
     * is, whatever order they list them in, and a failed export costs only its own blocks.
     */
    public KvTierCacheBuilder remote(List<URI> exports, long capacityBytesEach) {
        Objects.requireNonNull(exports, "exports");
        for (int i = 0; i < exports.size(); i++) {
            Objects.requireNonNull(exports.get(i), "exports[" + i + "]");
        }
        this.remoteUris = List.copyOf(exports);
        this.remoteCapacityBytes = capacityBytesEach;
        return this;
    }

    /** TCP connections to the remote export when the server allows multi-conn, 1 to 64. Default 4. */
    public KvTierCacheBuilder remoteConnections(int connections) {
        this.remoteConnections = connections;
        return this;
    }

    /**
     * How long a remote request may take before it fails (a read becomes a miss, a write is
     * declined) and its connection is replaced. Default 2,000 ms.
     */
    public KvTierCacheBuilder remoteTimeoutMillis(long millis) {
        this.remoteTimeoutMillis = millis;
        return this;
    }

    /**
     * Slots per set on the remote tier, 1 to 64: a block may sit in any slot of the set its key
     * chooses. More ways keep more blocks per hot set, and cost more header reads per lookup.
     * Must be the same in every process attaching the export. Default 8.
     */
    public KvTierCacheBuilder remoteWays(int ways) {
        this.remoteWays = ways;
        return this;
    }

    /**
     * After a remote set was read without finding the key, how long lookups trust that and do not
     * read it again, in ms (0: read on every local miss). Bounds both the cost of lookups for
     * prompts nobody stored and the delay before a block another process writes is found. Default 100.
     */
    public KvTierCacheBuilder remoteRecheckMillis(long millis) {
        this.remoteRecheckMillis = millis;
        return this;
    }

    /**
     * The most a {@code match} waits for the remote tier's set headers after a local miss, in ms;
     * what is not found by then is not matched (it may be the next time). Default 100.
     */
    public KvTierCacheBuilder remoteLookupBudgetMillis(long millis) {
        this.remoteLookupBudgetMillis = millis;
        return this;
    }

    /**
     * Where the futures of loads are completed (so where their dependent actions run). Default:
     * the thread that finished the load, often a kvtier I/O thread, which must not be blocked.
     */
    public KvTierCacheBuilder loadCompletionExecutor(java.util.concurrent.Executor executor) {
        this.loadCompletions = Objects.requireNonNull(executor, "executor");
        return this;
    }

    /**
     * Seals the remote tier's blocks with a secret shared by the deployment's servers (at least
     * {@value dev.kvtier.format.SlotSeal#MIN_SECRET_BYTES} bytes; copied): every block is
     * encrypted and authenticated (AES-256-GCM under a key derived per namespace, its slot
     * header as associated data), and a block that fails the check is a miss, counted as
     * corrupt. So a server without the secret can neither read the KV on the export nor make
     * another server serve bytes it wrote. A sealed export is refused to a cache with another
     * secret or none, and an unsealed one to a cache with a secret. Default: unsealed.
     */
    public KvTierCacheBuilder remoteSecret(byte[] secret) {
        Objects.requireNonNull(secret, "secret");
        this.remoteSecret = secret.clone();
        return this;
    }

    /**
     * The TLS context (trusted CAs, and a client certificate if the server asks for one) for an
     * {@code nbds://} remote export. Only allowed with an {@code nbds://} URI; without it an
     * {@code nbds://} export is trusted by the JVM's default context
     * ({@link SSLContext#getDefault()}). The server's certificate must name the URI's host
     * (hostname verification is always on).
     */
    public KvTierCacheBuilder remoteTls(SSLContext context) {
        this.remoteTls = Objects.requireNonNull(context, "context");
        return this;
    }

    /** How remote payloads are encoded. Default {@link Compression#NONE}. */
    public KvTierCacheBuilder remoteCompression(Compression compression) {
        this.remoteCompression = Objects.requireNonNull(compression, "compression");
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
     * below (counted in {@link CacheStats#storeWaitMillis}). 0, the default, never waits: stores
     * never block, and when they outrun the device the blocks not yet written are dropped
     * (counted in {@link CacheStats#droppedBlocks}). With a device tier only.
     */
    public KvTierCacheBuilder storeWaitMillis(long millis) {
        this.storeWaitMillis = millis;
        return this;
    }

    /**
     * Which blocks are kept where (see {@link CachePolicy}). Default {@link CachePolicy#ADAPTIVE};
     * {@link CachePolicy#OPT} also needs {@link #nextUseOracle}.
     */
    public KvTierCacheBuilder policy(CachePolicy policy) {
        this.policy = Objects.requireNonNull(policy, "policy");
        return this;
    }

    /** The future, for {@link CachePolicy#OPT} only (offline replays). */
    public KvTierCacheBuilder nextUseOracle(NextUseOracle oracle) {
        this.oracle = Objects.requireNonNull(oracle, "oracle");
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

    /** The clock write budgets and rate controllers run on, in nanoseconds. Default {@link System#nanoTime()}. */
    public KvTierCacheBuilder policyClock(LongSupplier nanos) {
        this.policyClock = Objects.requireNonNull(nanos, "nanos");
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
        require(storeWaitMillis >= 0, "storeWaitMillis must not be negative, was " + storeWaitMillis);
        if (ssdPath != null) {
            checkSsd(pageBytes);
        }
        CacheConfig.Remote remote = remoteUris == null ? null : checkRemote(pages);
        CacheConfig.Policy p = checkPolicy();
        JvmFlags.requireChronicleFlags();
        return new TieredCache(new CacheConfig(blockTokens, blockBytes, dramCapacityBytes, ssdPath,
                ssdCapacityBytes, ssdCompression, ssdDirectIo, reinitialize, demoteAhead,
                TieredCache.saturatedNanos(flushOnClose), TieredCache.saturatedNanos(Duration.ofMillis(storeWaitMillis)),
                loadCompletions, remote, p));
    }

    private CacheConfig.Policy checkPolicy() {
        require(policy != CachePolicy.OPT || oracle != null, "policy opt needs a nextUseOracle");
        require(oracle == null || policy == CachePolicy.OPT, "a nextUseOracle is only used by policy opt, not " + policy);
        require((budgetTiers & 1 << Tier.DRAM.ordinal()) == 0, "writeBudget applies to SSD or REMOTE, not DRAM");
        for (Tier t : Tier.values()) {
            double b = writeBudgets[t.ordinal()];
            require((budgetTiers & 1 << t.ordinal()) == 0 || b > 0 && Double.isFinite(b),
                    "writeBudget for " + t + " must be positive bytes per second, was " + b);
        }
        require((budgetTiers & 1 << Tier.SSD.ordinal()) == 0 || ssdPath != null, "writeBudget for SSD, but no localSsd");
        require((budgetTiers & 1 << Tier.REMOTE.ordinal()) == 0 || remoteUris != null,
                "writeBudget for REMOTE, but no remote");
        require(prefillModel == null || policy == CachePolicy.COSTAWARE,
                "a prefillModel is only used by policy costaware, not " + policy);
        return new CacheConfig.Policy(policy, oracle, writeBudgets.clone(), policyClock, prefillModel, blockTokens);
    }

    private CacheConfig.Remote checkRemote(long pages) {
        require(!remoteUris.isEmpty(), "remote: no export given");
        require(new java.util.HashSet<>(remoteUris).size() == remoteUris.size(), "remote: an export is listed twice in "
                + remoteUris);
        for (URI uri : remoteUris) {
            if ("file".equals(uri.getScheme())) {
                require(uri.getPath() != null && !uri.getPath().isEmpty(), "remote: " + uri + " names no path");
                continue;
            }
            boolean tls = "nbds".equals(uri.getScheme());
            require((tls || "nbd".equals(uri.getScheme())) && uri.getHost() != null,
                    "remote: " + uri + " is not an nbd://host[:port]/[export], nbds://host[:port]/[export] or file:PATH URI");
            require(remoteTls == null || tls, "remoteTls is set but the remote URI " + uri
                    + " is plain nbd://; use nbds:// for TLS");
        }
        long perExport = DeviceLayout.slotsThatFit(remoteCapacityBytes, 1, blockBytes);
        long slots = perExport * remoteUris.size();
        require(perExport >= remoteWays, "remote capacity (" + remoteCapacityBytes + " bytes) must hold at least "
                + remoteWays + " slots (one set) of a " + blockBytes + "-byte block plus its header and the superblock");
        long ssdSlots = ssdPath == null ? 0 : DeviceLayout.slotsThatFit(ssdCapacityBytes, 1, blockBytes);
        require(slots + ssdSlots + pages <= MAX_BLOCKS, "remote capacity holds up to " + slots
                + " blocks; with DRAM and SSD at most " + MAX_BLOCKS + " blocks are supported");
        require(remoteConnections >= 1 && remoteConnections <= 64,
                "remoteConnections must be in [1, 64], was " + remoteConnections);
        require(remoteTimeoutMillis >= 1, "remoteTimeoutMillis must be positive, was " + remoteTimeoutMillis);
        require(remoteWays >= 1 && remoteWays <= 64, "remoteWays must be in [1, 64], was " + remoteWays);
        require(remoteRecheckMillis >= 0, "remoteRecheckMillis must be >= 0, was " + remoteRecheckMillis);
        require(remoteLookupBudgetMillis >= 1, "remoteLookupBudgetMillis must be >= 1, was " + remoteLookupBudgetMillis);
        require(remoteSecret == null || remoteSecret.length >= SlotSeal.MIN_SECRET_BYTES, "remoteSecret must have at least "
                + SlotSeal.MIN_SECRET_BYTES + " bytes, had " + (remoteSecret == null ? 0 : remoteSecret.length));
        return new CacheConfig.Remote(remoteUris, remoteCapacityBytes, remoteConnections, remoteTimeoutMillis,
                remoteWays, remoteRecheckMillis, remoteLookupBudgetMillis, remoteCompression, remoteTls,
                remoteSecret == null ? null : SlotSeal.of(remoteSecret));
    }

    private void checkSsd(long pageBytes) {
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
