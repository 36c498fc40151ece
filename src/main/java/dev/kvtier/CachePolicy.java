package dev.kvtier;

/**
 * The admission and eviction policy a cache runs ({@link KvTierCacheBuilder#policy}), by the
 * names the command line uses. The default is {@link #ADAPTIVE}.
 */
public enum CachePolicy {
    /**
     * The default: miniature simulations of lru, second-hit and (without a device tier) hit
     * density on a hash sample of the keys; the cache follows the one winning.
     */
    ADAPTIVE("adaptive"),
    /** DRAM by hit density (per frequency class and age, learnt from reuse gaps), device writes for chains likely to return, budgets. */
    COSTAWARE("costaware"),
    /** Admit everything, evict the least recently used (LMCache's default). */
    LRU("lru"),
    /** Admit a block on its second sighting (vLLM's store_threshold, CacheLib's RejectFirst); LRU eviction. */
    SECOND_HIT("second-hit"),
    /** Random admission to device tiers under a write-rate controller (CacheLib's DynamicRandomAP); LRU eviction. */
    WRITE_LIMIT("write-limit");

    private final String id;

    CachePolicy(String id) {
        this.id = id;
    }

    public String id() {
        return id;
    }

    /** The kind named {@code name} (as {@link #id()}, case-insensitive). */
    public static CachePolicy parse(String name) {
        for (CachePolicy k : values()) {
            if (k.id.equalsIgnoreCase(name == null ? "" : name.trim())) {
                return k;
            }
        }
        if ("opt".equalsIgnoreCase(name == null ? "" : name.trim())) {
            throw new IllegalArgumentException("policy 'opt' needs the future: it is ./kvtier replay's reference, not a"
                    + " server policy; expected one of adaptive, costaware, lru, second-hit, write-limit");
        }
        throw new IllegalArgumentException("unknown policy '" + name
                + "': expected one of adaptive, costaware, lru, second-hit, write-limit");
    }

    @Override
    public String toString() {
        return id;
    }
}
