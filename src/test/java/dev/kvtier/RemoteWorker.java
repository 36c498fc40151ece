package dev.kvtier;

import dev.kvtier.key.BlockKey;
import java.net.URI;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;

/**
 * A child JVM of {@link RemoteTierTest}: one inference server attached to a shared NBD export,
 * with a DRAM tier too small to hold the workload, so hits come from the remote tier. Every
 * block it loads is checked against its key ({@link SsdFixtures#fill}); a wrong byte prints
 * {@code FAIL ...} and exits with status 3. Arguments: export URI, remote capacity bytes, mode,
 * seed, operations. Modes:
 * <ul>
 * <li>{@code store}: stores every chain of {@link CrashWorkload} and waits until all reached the
 * remote tier; prints {@code STORED remote=N}.
 * <li>{@code verify}: matches and loads every chain; prints {@code FOUND hits=N remote=N of=N}.
 * <li>{@code race}: runs the workload's random prompts (match, load, verify, store the rest);
 * prints {@code DONE ...} with its counters.
 * </ul>
 */
public final class RemoteWorker {
    static final int BLOCK = 16 * 1024;
    static final int DRAM_BLOCKS = 16;

    private RemoteWorker() {
    }

    /** The tests' remote tier on {@code exports}: 2 connections, 2 s timeout, 4 ways, every local miss looked up. */
    static RemoteTier.Builder remote(List<URI> exports, long remoteBytesEach) {
        return RemoteTier.builder(exports, remoteBytesEach).connections(2).timeout(Duration.ofSeconds(2)).ways(4)
                .recheckAfter(Duration.ZERO);
    }

    static RemoteTier.Builder remote(URI export, long remoteBytes) {
        return remote(List.of(export), remoteBytes);
    }

    static KvTierCacheBuilder builder(RemoteTier.Builder remote) {
        return KvTierCache.builder().blockTokens(SsdFixtures.TOKENS).blockBytes(BLOCK)
                .dramCapacityBytes(DRAM_BLOCKS * BLOCK).demoteAhead(1.0).remote(remote.build());
    }

    static KvTierCacheBuilder builder(URI export, long remoteBytes) {
        return builder(remote(export, remoteBytes));
    }

    public static void main(String[] args) {
        URI export = URI.create(args[0]);
        long remoteBytes = Long.parseLong(args[1]);
        String mode = args[2];
        CrashWorkload workload = new CrashWorkload(Long.parseLong(args[3]));
        long ops = Long.parseLong(args[4]);
        try (KvTierCache cache = builder(export, remoteBytes).build()) {
            switch (mode) {
                case "store" -> storeAll(cache, workload);
                case "verify" -> verifyAll(cache, workload);
                default -> race(cache, workload, ops);
            }
        }
        System.out.flush();
    }

    private static void storeAll(KvTierCache cache, CrashWorkload workload) {
        for (BlockKey[] chain : workload.chains()) {
            cache.store(chain, buffers(chain, chain.length, 0));
            cache.awaitIdle();
        }
        CacheStats s = cache.stats();
        System.out.println("STORED remote=" + s.storedBlocks(Tier.REMOTE) + " declined=" + s.demoteDeclinedBlocks()
                + " failed=" + s.demoteFailedBlocks() + " dropped=" + s.droppedBlocks() + " " + s);
    }

    private static void verifyAll(KvTierCache cache, CrashWorkload workload) {
        long hits = 0;
        long of = 0;
        PrefixMatch m = new PrefixMatch();
        ByteBuffer[] dst = buffers(null, CrashWorkload.MAX_BLOCKS, 0);
        for (BlockKey[] chain : workload.chains()) {
            cache.match(chain, m);
            hits += check(cache, m, chain, dst, 0);
            of += chain.length;
        }
        System.out.println("FOUND hits=" + hits + " remote=" + cache.stats().loadedBlocks(Tier.REMOTE) + " of=" + of);
    }

    private static void race(KvTierCache cache, CrashWorkload workload, long ops) {
        PrefixMatch m = new PrefixMatch();
        ByteBuffer[] dst = buffers(null, CrashWorkload.MAX_BLOCKS, 0);
        for (long op = 1; op <= ops; op++) {
            BlockKey[] keys = workload.next();
            cache.match(keys, m);
            int n = check(cache, m, keys, dst, op);
            if (n < keys.length) {
                cache.store(keys, buffers(keys, keys.length, n), n, keys.length - n);
            }
        }
        cache.awaitIdle();
        CacheStats s = cache.stats();
        System.out.println("DONE loadedRemote=" + s.loadedBlocks(Tier.REMOTE) + " storedRemote="
                + s.storedBlocks(Tier.REMOTE) + " discovered=" + s.discoveredBlocks(Tier.REMOTE) + " mismatched="
                + s.mismatchedBlocks(Tier.REMOTE) + " corrupt=" + s.corruptBlocks(Tier.REMOTE) + " readErrors="
                + s.readErrors(Tier.REMOTE));
    }

    /** Loads the match into {@code dst} and checks every byte; returns the blocks loaded. */
    private static int check(KvTierCache cache, PrefixMatch m, BlockKey[] keys, ByteBuffer[] dst, long op) {
        int n = cache.load(m, java.util.Arrays.copyOf(dst, m.hitBlocks())).join();
        for (int i = 0; i < n; i++) {
            int wrong = SsdFixtures.firstWrongByte(dst[i].clear(), keys[i]);
            if (wrong >= 0) {
                System.out.println("FAIL op " + op + ": block " + i + " (" + m.tier(i) + ") has a wrong byte at "
                        + wrong + "; " + cache.stats());
                System.out.flush();
                System.exit(3);
            }
        }
        return n;
    }

    /** Buffers for blocks {@code from..n} of {@code keys}, filled with their bytes (empty when keys is null). */
    private static ByteBuffer[] buffers(BlockKey[] keys, int n, int from) {
        ByteBuffer[] b = new ByteBuffer[n]; // indexed like the keys: [0, from) stay null
        for (int i = from; i < n; i++) {
            b[i] = ByteBuffer.allocateDirect(BLOCK);
            if (keys != null) {
                SsdFixtures.fill(b[i], keys[i]);
            }
        }
        return b;
    }
}
