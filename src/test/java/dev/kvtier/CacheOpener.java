package dev.kvtier;

import java.nio.file.Path;

/**
 * Builds a DRAM + SSD cache in a child JVM and prints {@code built recovered=N} or
 * {@code thrown <class>: <message>}. Arguments: file, capacity bytes, block bytes,
 * {@code mapped|direct}.
 */
public final class CacheOpener {
    private CacheOpener() {
    }

    public static void main(String[] args) {
        try (KvTierCache cache = KvTierCache.builder().blockTokens(SsdFixtures.TOKENS)
                .blockBytes(Integer.parseInt(args[2])).dramCapacityBytes(1 << 20)
                .localSsd(Path.of(args[0]), Long.parseLong(args[1])).ssdDirectIo(args[3].equals("direct")).build()) {
            System.out.println("built recovered=" + cache.stats().recoveredBlocks(Tier.SSD));
        } catch (Throwable t) {
            System.out.println("thrown " + t.getClass().getName() + ": " + t.getMessage());
        }
    }
}
