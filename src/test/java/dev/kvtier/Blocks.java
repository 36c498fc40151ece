package dev.kvtier;

import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import java.nio.ByteBuffer;
import java.util.Arrays;

/** Test fixtures: caches, prompts, and block payloads derived from their keys so any wrong byte shows. */
final class Blocks {
    static final int TOKENS = 4;
    static final Namespace NS = Namespace.builder("test-model").blockTokens(TOKENS).build();
    static final Namespace OTHER_NS = Namespace.builder("test-model").tenantSalt("tenant-b").blockTokens(TOKENS).build();

    private Blocks() {
    }

    /** A cache of {@code pages} DRAM pages of {@code blockBytes}, for keys of {@link #TOKENS} tokens. */
    static TieredCache cache(int blockBytes, int pages) {
        return cache(blockBytes, pages, CachePolicy.COSTAWARE);
    }

    /** A DRAM-only cache under {@code policy} (tests of exact eviction order use LRU). */
    static TieredCache cache(int blockBytes, int pages, CachePolicy policy) {
        return (TieredCache) KvTierCache.builder().blockTokens(TOKENS).blockBytes(blockBytes)
                .dramCapacityBytes((long) pages * ((blockBytes + 63) & -64)).policy(policy).build();
    }

    /** Keys of a prompt of {@code blocks} blocks whose tokens are all distinct to {@code id}. */
    static BlockKey[] prompt(Namespace ns, int id, int blocks) {
        return ns.blockKeys(tokens(id, blocks));
    }

    static int[] tokens(int id, int blocks) {
        int[] t = new int[blocks * TOKENS];
        for (int i = 0; i < t.length; i++) {
            t[i] = id * 100_000 + i;
        }
        return t;
    }

    /** The bytes block {@code key} holds in every test: word at offset o is key.lo() ^ o * golden ratio. */
    static byte[] payload(BlockKey key, int n) {
        ByteBuffer b = ByteBuffer.allocate((n + 7) & -8);
        for (int off = 0; off < b.capacity(); off += 8) {
            b.putLong(off, key.lo() ^ (off * 0x9E3779B97F4A7C15L));
        }
        return Arrays.copyOf(b.array(), n);
    }

    static ByteBuffer directPayload(BlockKey key, int n) {
        return ByteBuffer.allocateDirect(n).put(payload(key, n)).flip();
    }

    static ByteBuffer[] directPayloads(BlockKey[] keys, int n) {
        return Arrays.stream(keys).map(k -> directPayload(k, n)).toArray(ByteBuffer[]::new);
    }

    static ByteBuffer[] directBuffers(int count, int n) {
        ByteBuffer[] b = new ByteBuffer[count];
        for (int i = 0; i < count; i++) {
            b[i] = ByteBuffer.allocateDirect(n);
        }
        return b;
    }

    /** The remaining bytes of {@code b}, leaving its position alone. */
    static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.duplicate().get(out);
        return out;
    }
}
