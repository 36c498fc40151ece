package dev.kvtier;

import dev.kvtier.key.BlockKey;

/**
 * The answer of {@link KvTierCache#match}: how many leading blocks of a key chain are kept, and
 * in which tier each one is. Metadata only; the blocks are not pinned, so a later
 * {@link KvTierCache#load} may load fewer if some were evicted in between.
 *
 * <p>Mutable so that a server can reuse one instance per request thread and match without
 * allocating ({@link KvTierCache#match(BlockKey[], PrefixMatch)}); not thread-safe. It refers to
 * the caller's key array, which must not change between {@code match} and {@code load}.
 */
public final class PrefixMatch {
    private BlockKey[] keys = new BlockKey[0];
    private byte[] tiers = new byte[0];
    private int hits;

    /** An empty match to reuse with {@link KvTierCache#match(BlockKey[], PrefixMatch)}. */
    public PrefixMatch() {
    }

    void reset(BlockKey[] newKeys) {
        keys = newKeys;
        if (tiers.length < newKeys.length) {
            tiers = new byte[newKeys.length];
        }
        hits = 0;
    }

    void hit(Tier tier) {
        tiers[hits++] = (byte) tier.ordinal();
    }

    /** The keys that were looked up. */
    BlockKey[] keys() {
        return keys;
    }

    /** Number of leading blocks found. */
    public int hitBlocks() {
        return hits;
    }

    /** Number of keys asked for. */
    public int requestedBlocks() {
        return keys.length;
    }

    /** Tokens covered by the hit blocks. */
    public long hitTokens() {
        return keys.length == 0 ? 0 : (long) hits * keys[0].namespace().blockTokens();
    }

    /** The key of block {@code i}. */
    public BlockKey key(int i) {
        return keys[i];
    }

    /** Where hit block {@code i} (0 ≤ i &lt; {@link #hitBlocks()}) is kept. */
    public Tier tier(int i) {
        if (i < 0 || i >= hits) {
            throw new IndexOutOfBoundsException("block " + i + " is not a hit (hits: " + hits + ")");
        }
        return Tier.of(tiers[i]);
    }

    /** How many of the hit blocks are in {@code tier}. */
    public int hitBlocks(Tier tier) {
        int n = 0;
        for (int i = 0; i < hits; i++) {
            n += tiers[i] == tier.ordinal() ? 1 : 0;
        }
        return n;
    }

    @Override
    public String toString() {
        return "PrefixMatch[" + hits + "/" + keys.length + " blocks]";
    }
}
