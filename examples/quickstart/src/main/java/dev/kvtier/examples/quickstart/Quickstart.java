package dev.kvtier.examples.quickstart;

import dev.kvtier.KvTierCache;
import dev.kvtier.PrefixMatch;
import dev.kvtier.Tier;
import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.IntStream;
import java.util.stream.Stream;

/**
 * kvtier from a user's side: two turns of a conversation through a cache with a DRAM and an SSD
 * tier, then a restart that finds the blocks on the SSD. Prints what happened; exits with 1 if
 * anything is wrong. Run it with {@code ./mvnw -f examples/quickstart/pom.xml -q compile exec:exec}.
 */
public final class Quickstart {
    static final int BLOCK_TOKENS = 16;
    static final int BLOCK_BYTES = 64 << 10; // KV bytes per block (Llama-3-8B in bf16: 2 MiB)

    public static void main(String[] args) throws IOException {
        Path dir = Files.createTempDirectory("kvtier-quickstart");
        try {
            run(dir.resolve("kvtier.slots"));
            System.out.println("OK");
        } catch (RuntimeException e) {
            System.out.println("FAILED: " + e);
            System.exit(1);
        } finally {
            Files.deleteIfExists(dir.resolve("kvtier.slots"));
            Files.delete(dir);
        }
    }

    static KvTierCache open(Path ssdFile) {
        return KvTierCache.builder()
                .blockTokens(BLOCK_TOKENS).blockBytes(BLOCK_BYTES)   // 16 tokens, 64 KiB of KV per block
                .dramCapacityBytes(16L << 20)          // off-heap, allocated once
                .localSsd(ssdFile, 64L << 20)          // created sparse; survives restarts
                .build();
    }

    static void run(Path ssdFile) {
        // Everything that makes the KV of the same tokens differ goes into the namespace.
        Namespace ns = Namespace.builder("example/tiny-llama")
                .weightsFingerprint("sha256:0123abcd").kvDtype("bf16")
                .blockTokens(BLOCK_TOKENS).build();
        int[] turn1 = IntStream.range(0, 70).toArray();                  // 4 full blocks + 6 tokens
        int[] turn2 = IntStream.range(0, 120).map(t -> t < 70 ? t : 1000 + t).toArray(); // turn 1 + 50 new

        try (KvTierCache cache = open(ssdFile)) {
            // Turn 1: nothing kept yet; the engine prefills it all and hands the full blocks over.
            BlockKey[] keys1 = ns.blockKeys(turn1);     // one key per full block, chained
            check(cache.match(keys1).hitBlocks() == 0, "turn 1 matched blocks in an empty cache");
            ByteBuffer[] kv1 = buffers(keys1.length);
            for (int i = 0; i < keys1.length; i++) {
                computeKv(keys1[i], kv1[i]);
            }
            int stored = cache.store(keys1, kv1);       // kv1[i] holds block i
            System.out.printf("turn 1: %d tokens, %d blocks, stored %d%n", turn1.length, keys1.length, stored);
            check(stored == keys1.length, "turn 1 stored " + stored + " of " + keys1.length + " blocks");

            // Turn 2 starts with turn 1's tokens: its first 4 keys are turn 1's (chained: equal
            // keys mean equal tokens up to there). Its block 4 holds turn 1's 6 spare tokens.
            BlockKey[] keys2 = ns.blockKeys(turn2);
            check(keys2[3].equals(keys1[3]), "turn 2's keys do not start with turn 1's");
            ByteBuffer[] kv2 = buffers(keys2.length);   // the engine's buffers, indexed like the keys
            PrefixMatch hit = cache.match(keys2);       // metadata only
            int loaded = cache.load(hit, kv2).join();   // fills kv2[0, loaded)
            checkBytes(keys2, kv2, loaded);
            check(loaded == keys1.length, "turn 2 loaded " + loaded + " blocks, expected " + keys1.length);
            for (int i = loaded; i < keys2.length; i++) {  // prefill from token loaded * 16 on
                computeKv(keys2[i], kv2[i]);
            }
            stored = cache.store(keys2, kv2, loaded, keys2.length - loaded);
            System.out.printf("turn 2: %d tokens, %d blocks, matched %d (DRAM %d), loaded and checked %d,"
                    + " prefilled from token %d, stored %d%n", turn2.length, keys2.length, hit.hitBlocks(),
                    hit.hitBlocks(Tier.DRAM), loaded, loaded * BLOCK_TOKENS, stored);
            check(stored == keys2.length - loaded, "turn 2 stored " + stored + " new blocks");
        } // close() writes the blocks kept only in DRAM to the SSD file

        try (KvTierCache cache = open(ssdFile)) {     // a restart: same file, same block size
            BlockKey[] keys2 = ns.blockKeys(turn2);
            PrefixMatch hit = cache.match(keys2);
            ByteBuffer[] kv2 = buffers(keys2.length);
            int loaded = cache.load(hit, kv2).join();
            checkBytes(keys2, kv2, loaded);
            System.out.printf("reopened: matched %d of %d blocks (SSD %d), loaded and checked %d%n",
                    hit.hitBlocks(), keys2.length, hit.hitBlocks(Tier.SSD), loaded);
            check(hit.hitBlocks(Tier.SSD) == keys2.length && loaded == keys2.length,
                    "the blocks were not recovered from the SSD");
        }
    }

    /** Stands for the engine's prefill: a block's KV depends on all tokens up to it, as its key does. */
    static ByteBuffer computeKv(BlockKey key, ByteBuffer kv) {
        long x = key.lo();
        for (int j = 0; j < BLOCK_BYTES; j += Long.BYTES) {
            x = x * 6364136223846793005L + 1442695040888963407L;
            kv.putLong(j, x);
        }
        return kv;
    }

    /** Direct buffers of one block each (or pinned memory, loaded through {@code long[]} addresses). */
    static ByteBuffer[] buffers(int n) {
        return Stream.generate(() -> ByteBuffer.allocateDirect(BLOCK_BYTES)).limit(n).toArray(ByteBuffer[]::new);
    }

    static void checkBytes(BlockKey[] keys, ByteBuffer[] kv, int n) {
        for (int i = 0; i < n; i++) {
            ByteBuffer expected = computeKv(keys[i], ByteBuffer.allocateDirect(BLOCK_BYTES));
            check(kv[i].equals(expected), "block " + i + " came back with other bytes");
        }
    }

    static void check(boolean ok, String problem) {
        if (!ok) {
            throw new IllegalStateException(problem);
        }
    }
}
