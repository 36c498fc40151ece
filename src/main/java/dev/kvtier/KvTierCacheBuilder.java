package dev.kvtier;

/**
 * Configures a {@link KvTierCache}; every setting is checked by {@link #build()}, which names
 * the offending setting in its message. Later tiers (SSD, remote) are added here as they come.
 *
 * <pre>{@code
 * KvTierCache cache = KvTierCache.builder()
 *     .blockTokens(16).blockBytes(2 << 20)
 *     .dramCapacityBytes(8L << 30)
 *     .build();
 * }</pre>
 */
public final class KvTierCacheBuilder {
    static final int MAX_BLOCK_BYTES = 1 << 30;
    /** Most blocks one tier may hold (the index's limit). */
    static final long MAX_BLOCKS = 1 << 29;

    private Integer blockTokens;
    private Integer blockBytes;
    private Long dramCapacityBytes;

    KvTierCacheBuilder() {
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
     * Builds the cache. Throws {@link IllegalArgumentException} naming a missing or bad setting,
     * or {@link IllegalStateException} naming the JVM flags to add when they are missing.
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
        JvmFlags.requireChronicleFlags();
        return new TieredCache(blockTokens, blockBytes, dramCapacityBytes);
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException("KvTierCache: " + message);
        }
    }
}
