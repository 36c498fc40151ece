package dev.kvtier;

/** Builds a cache and prints what was thrown; BadInputTest runs it in a JVM without the Chronicle flags. */
public final class BuildWithoutFlags {
    private BuildWithoutFlags() {
    }

    public static void main(String[] args) {
        try (KvTierCache cache = KvTierCache.builder().blockTokens(16).blockBytes(1024).dramCapacityBytes(1 << 20)
                .build()) {
            System.out.println("built " + cache.blockBytes());
        } catch (RuntimeException e) {
            System.out.println("thrown " + e.getClass().getName() + ": " + e.getMessage());
        }
    }
}
