package dev.kvtier;

import dev.kvtier.key.BlockKey;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * The child JVM of {@link CrashRecoveryTest}: opens a small DRAM + SSD cache on the given file
 * and runs prompts against it until it is killed, verifying every block it loads. Prints
 * {@code OPENED ...} once the cache is open, {@code PROGRESS ...} now and then, and on a wrong
 * byte {@code FAIL ...}, exiting with status 3. Arguments: file, {@code mapped|direct},
 * compression, seed.
 */
public final class CrashWorker {
    static final int BLOCK = 64 * 1024;
    static final int DRAM_BLOCKS = 16;
    static final int SSD_SLOTS = 256;

    private CrashWorker() {
    }

    static KvTierCacheBuilder builder(Path file, boolean direct, Compression c) {
        return SsdFixtures.builder(file, BLOCK, DRAM_BLOCKS, SSD_SLOTS, direct, c).demoteAhead(1.0);
    }

    public static void main(String[] args) {
        Path file = Path.of(args[0]);
        boolean direct = args[1].equals("direct");
        Compression compression = Compression.valueOf(args[2]);
        CrashWorkload workload = new CrashWorkload(Long.parseLong(args[3]));
        ByteBuffer[] dst = new ByteBuffer[CrashWorkload.MAX_BLOCKS];
        ByteBuffer[] src = new ByteBuffer[CrashWorkload.MAX_BLOCKS];
        for (int i = 0; i < dst.length; i++) {
            dst[i] = ByteBuffer.allocateDirect(BLOCK);
            src[i] = ByteBuffer.allocateDirect(BLOCK);
        }
        KvTierCache cache = builder(file, direct, compression).build();
        CacheStats opened = cache.stats();
        System.out.println("OPENED recovered=" + opened.recoveredBlocks(Tier.SSD) + " discarded="
                + opened.recoveryDiscardedSlots(Tier.SSD) + " ms=" + opened.ssdRecoveryMillis());
        System.out.flush();
        PrefixMatch m = new PrefixMatch();
        for (long op = 1; ; op++) {
            BlockKey[] keys = workload.next();
            cache.match(keys, m);
            int n = cache.load(m, dst).join();
            for (int i = 0; i < n; i++) {
                int wrong = SsdFixtures.firstWrongByte(dst[i].clear(), keys[i]);
                if (wrong >= 0) {
                    System.out.println("FAIL op " + op + ": block " + i + " (" + m.tier(i) + ") of a " + keys.length
                            + "-block prompt has a wrong byte at " + wrong + "; " + cache.stats());
                    System.out.flush();
                    System.exit(3);
                }
            }
            if (n < keys.length) {
                int count = keys.length - n;
                for (int j = 0; j < count; j++) {
                    SsdFixtures.fill(src[n + j].clear(), keys[n + j]);
                }
                cache.store(keys, src, n, count);
            }
            if (op % 200 == 0) {
                CacheStats s = cache.stats();
                System.out.println("PROGRESS ops=" + op + " loadedSsd=" + s.loadedBlocks(Tier.SSD) + " storedSsd="
                        + s.storedBlocks(Tier.SSD) + " evictedSsd=" + s.evictedBlocks(Tier.SSD) + " corrupt="
                        + s.corruptBlocks(Tier.SSD) + " mismatched=" + s.mismatchedBlocks(Tier.SSD) + " demoteFailed="
                        + s.demoteFailedBlocks());
                System.out.flush();
            }
        }
    }
}
