package dev.kvtier;

import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * The child JVM of {@link DiskFullTest}: a cache whose SSD file is far larger than the
 * filesystem under it; stores prompt after prompt, writing each through to SSD, and checks
 * that every block it loads is exact and the newest prompt is always served whole. Prints
 * {@code BUILD-FAILED ...}, {@code FAIL ...} or {@code ESCAPED ...} (a Throwable reached the
 * caller), else {@code DONE <stats>}. Arguments: file, capacity bytes, {@code mapped|direct},
 * prompts.
 */
public final class DiskFullWorker {
    static final int BLOCK = 64 * 1024;
    static final int DRAM_BLOCKS = 24;
    static final int PROMPT_BLOCKS = 4;

    private DiskFullWorker() {
    }

    public static void main(String[] args) {
        Path file = Path.of(args[0]);
        long capacity = Long.parseLong(args[1]);
        boolean direct = args[2].equals("direct");
        int prompts = Integer.parseInt(args[3]);
        KvTierCache cache;
        try {
            cache = KvTierCache.builder().blockTokens(SsdFixtures.TOKENS).blockBytes(BLOCK)
                    .dramCapacityBytes((long) DRAM_BLOCKS * BLOCK).localSsd(file, capacity).ssdDirectIo(direct)
                    .demoteAhead(1.0).policy(CachePolicy.LRU).build(); // lru admits every store: each prompt must be kept whole
        } catch (Throwable t) {
            System.out.println("BUILD-FAILED " + t);
            return;
        }
        Namespace ns = SsdFixtures.namespace("disk-full");
        ByteBuffer[] src = new ByteBuffer[PROMPT_BLOCKS];
        ByteBuffer[] dst = new ByteBuffer[PROMPT_BLOCKS];
        for (int i = 0; i < PROMPT_BLOCKS; i++) {
            src[i] = ByteBuffer.allocateDirect(BLOCK);
            dst[i] = ByteBuffer.allocateDirect(BLOCK);
        }
        long loaded = 0;
        try {
            for (int p = 0; p < prompts; p++) {
                BlockKey[] keys = prompt(ns, p);
                for (int i = 0; i < PROMPT_BLOCKS; i++) {
                    SsdFixtures.fill(src[i].clear(), keys[i]);
                }
                int stored = cache.store(keys, src);
                if (stored != PROMPT_BLOCKS) {
                    System.out.println("FAIL prompt " + p + ": stored " + stored + " of " + PROMPT_BLOCKS + "; "
                            + cache.stats());
                    return;
                }
                cache.awaitIdle();
                // the newest prompt is whole; older ones may be partly gone, never wrong
                for (int back = 0; back <= Math.min(p, 8); back++) {
                    BlockKey[] k = prompt(ns, p - back);
                    PrefixMatch m = cache.match(k);
                    int n = cache.load(m, dst).join();
                    if (back == 0 && n != PROMPT_BLOCKS) {
                        System.out.println("FAIL prompt " + p + ": the newest prompt loads " + n + " blocks; "
                                + cache.stats());
                        return;
                    }
                    for (int i = 0; i < n; i++) {
                        int wrong = SsdFixtures.firstWrongByte(dst[i].clear(), k[i]);
                        if (wrong >= 0) {
                            System.out.println("FAIL prompt " + (p - back) + " block " + i + " (" + m.tier(i)
                                    + ") wrong at byte " + wrong);
                            return;
                        }
                    }
                    loaded += n;
                }
            }
            CacheStats s = cache.stats();
            cache.close();
            System.out.println("DONE loaded=" + loaded + " demoteFailed=" + s.demoteFailedBlocks() + " storedSsd="
                    + s.storedBlocks(Tier.SSD) + " loadedSsd=" + s.loadedBlocks(Tier.SSD) + " readErrors="
                    + s.readErrors(Tier.SSD) + " writeErrors=" + s.writeErrors(Tier.SSD) + " " + s);
        } catch (Throwable t) {
            System.out.println("ESCAPED " + t);
            t.printStackTrace(System.out);
        }
    }

    static BlockKey[] prompt(Namespace ns, int p) {
        long[] h = new long[PROMPT_BLOCKS];
        for (int i = 0; i < PROMPT_BLOCKS; i++) {
            h[i] = p * 100L + i;
        }
        return ns.keysFromHashes(h);
    }
}
