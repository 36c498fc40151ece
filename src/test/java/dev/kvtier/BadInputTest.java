package dev.kvtier;

import static dev.kvtier.Blocks.NS;
import static dev.kvtier.Blocks.OTHER_NS;
import static dev.kvtier.Blocks.bytes;
import static dev.kvtier.Blocks.directBuffers;
import static dev.kvtier.Blocks.directPayloads;
import static dev.kvtier.Blocks.payload;
import static dev.kvtier.Blocks.prompt;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import dev.kvtier.offline.OfflineKnobs;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import net.openhft.chronicle.core.Jvm;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * Every public entry point rejects bad input with an exception whose message names the problem,
 * and leaves the cache exactly as it was (same counters, same blocks, same bytes): nulls,
 * non-chained keys, keys of another block size, wrong-sized and read-only buffers, bad
 * ranges, null addresses, over-capacity stores, a closed cache, a twice-closed handle, every bad
 * builder setting, and a JVM started without the Chronicle flags.
 */
class BadInputTest {
    private static final int BYTES = 100;
    private static final int PAGES = 4;

    private TieredCache cache;
    private BlockKey[] kept;
    private PrefixMatch match;

    @BeforeEach
    void storeOnePrompt() {
        cache = Blocks.cache(BYTES, PAGES);
        kept = prompt(NS, 1, 3);
        assertEquals(3, cache.store(kept, directPayloads(kept, BYTES)));
        match = cache.match(kept);
    }

    @AfterEach
    void closeCache() {
        cache.close();
    }

    @Test
    void matchRejectsBadKeys() {
        rejects(NullPointerException.class, "keys must not be null", () -> cache.match(null));
        rejects(NullPointerException.class, "keys[1]", () -> cache.match(new BlockKey[] {kept[0], null}));
        rejects(IllegalArgumentException.class, "8 tokens per block", () -> cache.match(eightTokenKeys()));
        rejects(IllegalArgumentException.class, "not the child", () -> cache.match(new BlockKey[] {kept[0], kept[2]}));
        rejects(IllegalArgumentException.class, "not the child", () -> cache.match(new BlockKey[] {kept[1], kept[0]}));
        rejects(IllegalArgumentException.class, "not the child",
                () -> cache.match(new BlockKey[] {kept[0], prompt(OTHER_NS, 1, 2)[1]}));
        rejects(NullPointerException.class, "into", () -> cache.match(kept, null));
        PrefixMatch into = cache.match(kept, new PrefixMatch());
        rejects(IllegalArgumentException.class, "not the child", () -> cache.match(new BlockKey[] {kept[0], kept[2]}, into));
        assertEquals(3, into.hitBlocks(), "a rejected match leaves the reused answer alone");
    }

    @Test
    void loadIntoBuffersRejectsBadArguments() {
        rejects(NullPointerException.class, "match", () -> cache.load(null, directBuffers(3, BYTES)));
        rejects(NullPointerException.class, "buffers must not be null", () -> cache.load(match, (ByteBuffer[]) null));
        rejects(IllegalArgumentException.class, "3 blocks need 3 buffers, got 2", () -> cache.load(match, directBuffers(2, BYTES)));
        rejects(NullPointerException.class, "buffers[1]",
                () -> cache.load(match, new ByteBuffer[] {ByteBuffer.allocate(BYTES), null, ByteBuffer.allocate(BYTES)}));
        rejects(IllegalArgumentException.class, "buffers[2] has 99 bytes remaining; a block is exactly 100",
                () -> cache.load(match, withLast(directBuffers(3, BYTES), ByteBuffer.allocateDirect(BYTES - 1))));
        rejects(IllegalArgumentException.class, "buffers[2] has 101 bytes remaining",
                () -> cache.load(match, withLast(directBuffers(3, BYTES), ByteBuffer.allocate(BYTES + 1))));
        rejects(IllegalArgumentException.class, "buffers[0] is read-only",
                () -> cache.load(match, withFirst(directBuffers(3, BYTES), ByteBuffer.allocate(BYTES).asReadOnlyBuffer())));
        rejects(IllegalArgumentException.class, "buffers[0] is read-only",
                () -> cache.load(match, withFirst(directBuffers(3, BYTES), ByteBuffer.allocateDirect(BYTES).asReadOnlyBuffer())));
        ByteBuffer[] untouched = directBuffers(3, BYTES);
        rejects(IllegalArgumentException.class, "buffers[2]",
                () -> cache.load(match, withLast(untouched, ByteBuffer.allocateDirect(BYTES - 1))));
        assertArrayEquals(new byte[BYTES], bytes(untouched[0]), "no block copied before the check failed");
    }

    @Test
    void loadIntoAddressesRejectsBadArguments() {
        long[] good = Arrays.stream(directBuffers(3, BYTES)).mapToLong(Jvm::address).toArray();
        rejects(NullPointerException.class, "match", () -> cache.load(null, good));
        rejects(NullPointerException.class, "addresses must not be null", () -> cache.load(match, (long[]) null));
        rejects(IllegalArgumentException.class, "3 blocks need 3 addresses, got 2", () -> cache.load(match, Arrays.copyOf(good, 2)));
        rejects(IllegalArgumentException.class, "addresses[1] is the null address",
                () -> cache.load(match, new long[] {good[0], 0, good[2]}));
    }

    @Test
    void storeFromBuffersRejectsBadArguments() {
        BlockKey[] fresh = prompt(NS, 2, 3);
        ByteBuffer[] src = directPayloads(fresh, BYTES);
        rejects(NullPointerException.class, "keys must not be null", () -> cache.store(null, src));
        rejects(NullPointerException.class, "keys must not be null", () -> cache.store(null, src, 0, 1));
        rejects(NullPointerException.class, "buffers must not be null", () -> cache.store(fresh, (ByteBuffer[]) null));
        rejects(NullPointerException.class, "keys[2]", () -> cache.store(new BlockKey[] {fresh[0], fresh[1], null}, src));
        rejects(NullPointerException.class, "buffers[1]", () -> cache.store(fresh, new ByteBuffer[] {src[0], null, src[2]}));
        rejects(IllegalArgumentException.class, "3 blocks need 3 buffers, got 2", () -> cache.store(fresh, Arrays.copyOf(src, 2)));
        rejects(IllegalArgumentException.class, "buffers[1] has 99 bytes remaining",
                () -> cache.store(fresh, new ByteBuffer[] {src[0], ByteBuffer.allocate(BYTES - 1), src[2]}));
        rejects(IllegalArgumentException.class, "buffers[2] has 101 bytes remaining",
                () -> cache.store(fresh, withLast(src.clone(), ByteBuffer.allocateDirect(BYTES + 1))));
        rejects(IllegalArgumentException.class, "8 tokens per block", () -> cache.store(eightTokenKeys(), src));
        rejects(IllegalArgumentException.class, "not the child", () -> cache.store(new BlockKey[] {fresh[0], fresh[2]}, src));
        rejects(IllegalArgumentException.class, "exceeds the DRAM tier's 4 blocks",
                () -> cache.store(prompt(NS, 2, PAGES + 1), directBuffers(PAGES + 1, BYTES)));
        assertEquals(0, cache.match(fresh).hitBlocks(), "nothing of a rejected store is kept");
    }

    @Test
    void storeRangeRejectsBadBounds() {
        BlockKey[] fresh = prompt(NS, 2, 3);
        ByteBuffer[] src = directPayloads(fresh, BYTES);
        rejects(IllegalArgumentException.class, "outside an array of 3", () -> cache.store(fresh, src, -1, 2));
        rejects(IllegalArgumentException.class, "outside an array of 3", () -> cache.store(fresh, src, 2, 2));
        rejects(IllegalArgumentException.class, "outside an array of 3", () -> cache.store(fresh, src, 3, 1));
        rejects(IllegalArgumentException.class, "outside an array of 3", () -> cache.store(fresh, src, Integer.MAX_VALUE, 1));
        rejects(IllegalArgumentException.class, "outside an array of 3", () -> cache.store(fresh, src, 1, Integer.MAX_VALUE));
        rejects(IllegalArgumentException.class, "count -1", () -> cache.store(fresh, src, 1, -1));
        rejects(IllegalArgumentException.class, "count -1", () -> cache.store(fresh, new long[0], 1, -1));
        rejects(IllegalArgumentException.class, "not the child", () -> cache.store(new BlockKey[] {fresh[0], fresh[2], fresh[1]}, src, 1, 2));
        // the buffers are indexed like the keys: a range's buffers sit at the range's own indices
        rejects(IllegalArgumentException.class, "blocks [1, 3) are in buffers[1, 3) (indexed like the keys, as load's are), "
                + "so 3 buffers are needed, got 2", () -> cache.store(fresh, Arrays.copyOfRange(src, 1, 3), 1, 2));
        rejects(IllegalArgumentException.class, "so 3 addresses are needed, got 2",
                () -> cache.store(fresh, new long[] {1, 2}, 1, 2));
        rejects(NullPointerException.class, "buffers[2] must not be null",
                () -> cache.store(fresh, new ByteBuffer[] {null, src[1], null}, 1, 2));
        rejects(IllegalArgumentException.class, "addresses[1] is the null address",
                () -> cache.store(fresh, new long[3], 1, 2));
        rejects(IllegalArgumentException.class, "buffers[1] has 99 bytes remaining",
                () -> cache.store(fresh, new ByteBuffer[] {null, ByteBuffer.allocate(BYTES - 1), src[2]}, 1, 2));
        assertEquals(0, cache.match(fresh).hitBlocks(), "nothing of a rejected store is kept");
        assertEquals(2, cache.store(fresh, new ByteBuffer[] {src[0], src[1], null}, 0, 2),
                "elements outside the range are not read");
    }

    @Test
    void storeFromAddressesRejectsBadArguments() {
        BlockKey[] fresh = prompt(NS, 2, 3);
        long[] good = Arrays.stream(directPayloads(fresh, BYTES)).mapToLong(Jvm::address).toArray();
        rejects(NullPointerException.class, "keys must not be null", () -> cache.store(null, good, 0, 3));
        rejects(NullPointerException.class, "addresses must not be null", () -> cache.store(fresh, (long[]) null, 0, 3));
        rejects(IllegalArgumentException.class, "3 blocks need 3 addresses, got 2", () -> cache.store(fresh, Arrays.copyOf(good, 2), 0, 3));
        rejects(IllegalArgumentException.class, "addresses[0] is the null address", () -> cache.store(fresh, new long[3], 0, 3));
        rejects(IllegalArgumentException.class, "outside an array of 3", () -> cache.store(fresh, good, 1, 3));
        rejects(IllegalArgumentException.class, "8 tokens per block", () -> cache.store(eightTokenKeys(), good, 0, 1));
        BlockKey[] tooMany = prompt(NS, 2, PAGES + 1);
        rejects(IllegalArgumentException.class, "exceeds the DRAM tier's 4 blocks",
                () -> cache.store(tooMany, Arrays.stream(directPayloads(tooMany, BYTES)).mapToLong(Jvm::address).toArray(),
                        0, PAGES + 1));
        rejects(NullPointerException.class, "keys must not be null", () -> cache.store(null, good));
        rejects(NullPointerException.class, "addresses must not be null", () -> cache.store(fresh, (long[]) null));
        rejects(IllegalArgumentException.class, "3 blocks need 3 addresses, got 2", () -> cache.store(fresh, Arrays.copyOf(good, 2)));
        assertEquals(0, cache.match(fresh).hitBlocks(), "nothing of a rejected store is kept");
    }

    @Test
    void acquireAndInvalidateRejectBadArguments() {
        rejects(NullPointerException.class, "key must not be null", () -> cache.acquire(null));
        rejects(IllegalArgumentException.class, "8 tokens per block", () -> cache.acquire(eightTokenKeys()[0]));
        rejects(NullPointerException.class, "namespace must not be null", () -> cache.invalidate(null));
    }

    @Test
    void closingAHandleTwiceReleasesOnceAndAClosedHandleRefusesAccess() {
        BlockHandle h = cache.acquire(kept[1]);
        assertNotNull(h);
        h.close();
        h.close(); // idempotent, like every Closeable of the JDK
        rejects(IllegalStateException.class, "is closed", h::bytes);
        rejects(IllegalStateException.class, "is closed", h::address);
        assertEquals(0, cache.stats().activePins(), "the second close released nothing");
    }

    @Test
    void everyMethodButStatsAndCloseOfAClosedCacheThrowsIllegalState() {
        ByteBuffer[] dst = directBuffers(3, BYTES);
        long[] addresses = Arrays.stream(dst).mapToLong(Jvm::address).toArray();
        ByteBuffer[] src = directPayloads(kept, BYTES);
        cache.close();
        List<Executable> calls = List.of(
                () -> cache.match(kept),
                () -> cache.match(kept, new PrefixMatch()),
                () -> cache.load(match, dst),
                () -> cache.load(match, addresses),
                () -> cache.store(kept, src),
                () -> cache.store(kept, src, 0, 3),
                () -> cache.store(kept, addresses),
                () -> cache.store(kept, addresses, 0, 3),
                () -> cache.store(kept, BYTES, (block, segment) -> addresses[block], 0, 3),
                () -> cache.load(match, BYTES, (block, segment) -> addresses[block], null, null),
                () -> cache.acquire(kept[0]),
                () -> cache.invalidate(NS),
                () -> cache.invalidate(OTHER_NS));
        for (Executable call : calls) {
            IllegalStateException e = assertThrows(IllegalStateException.class, call);
            assertTrue(e.getMessage().contains("closed"), e.getMessage());
        }
        assertArrayEquals(new byte[BYTES], bytes(dst[0]), "a closed cache copies nothing");
        assertEquals(3, cache.stats().storedBlocks(Tier.DRAM), "stats still answer");
    }

    @Test
    void builderNamesEachMissingOrBadSetting() {
        List<Map.Entry<String, KvTierCacheBuilder>> bad = List.of(
                Map.entry("blockTokens is required", settings(null, 64, 1024L)),
                Map.entry("blockBytes is required", settings(16, null, 1024L)),
                Map.entry("dramCapacityBytes is required", settings(16, 64, null)),
                Map.entry("blockTokens must be in [1, 65536], was 0", settings(0, 64, 1024L)),
                Map.entry("blockTokens must be in [1, 65536], was 65537", settings(65_537, 64, 1024L)),
                Map.entry("blockBytes must be in [1, 1073741824], was 0", settings(16, 0, 1024L)),
                Map.entry("blockBytes must be in [1, 1073741824], was -5", settings(16, -5, 1024L)),
                Map.entry("blockBytes must be in [1, 1073741824], was 1073741825", settings(16, (1 << 30) + 1, 1L << 31)),
                Map.entry("dramCapacityBytes (63) must hold at least one block of 64 bytes", settings(16, 64, 63L)),
                Map.entry("dramCapacityBytes (-2) must hold", settings(16, 64, -2L)),
                Map.entry("dramCapacityBytes (100) must hold at least one block of 128 bytes", settings(16, 100, 100L)),
                Map.entry("holds 4294967296 blocks of 64 bytes; at most 536870912", settings(16, 1, 64L << 32)));
        for (Map.Entry<String, KvTierCacheBuilder> b : bad) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, b.getValue()::build, b.getKey());
            assertTrue(e.getMessage().contains(b.getKey()), e.getMessage());
        }
    }

    /** Segmented load and store: BYTES (100) splits into segments of 1, 2, 4, 5, 10, 20, 25, 50 or 100. */
    @Test
    void segmentedLoadAndStoreRejectBadArguments() {
        ByteBuffer[] mem = directBuffers(3, BYTES);
        BlockSegments good = (block, segment) -> Jvm.address(mem[block]) + segment * 25L;
        BlockKey[] fresh = prompt(NS, 2, 3);
        rejects(NullPointerException.class, "match", () -> cache.load(null, 25, good, null, null));
        rejects(NullPointerException.class, "segments must not be null", () -> cache.load(match, 25, null, null, null));
        for (int bad : new int[] {0, -25, 30, 101}) {
            rejects(IllegalArgumentException.class, "segmentBytes must divide the block's 100 bytes, was " + bad,
                    () -> cache.load(match, bad, good, null, null));
            rejects(IllegalArgumentException.class, "segmentBytes must divide the block's 100 bytes, was " + bad,
                    () -> cache.store(fresh, bad, good, 0, 3));
        }
        BlockSegments hole = (block, segment) -> block == 1 && segment == 2 ? 0 : good.address(block, segment);
        rejects(IllegalArgumentException.class, "segments.address(1, 2) is the null address",
                () -> cache.load(match, 25, hole, null, null));
        rejects(IllegalArgumentException.class, "deadline must not be negative",
                () -> cache.load(match, 25, good, null, Duration.ofMillis(-1)));
        rejects(NullPointerException.class, "keys must not be null", () -> cache.store(null, 25, good, 0, 3));
        rejects(NullPointerException.class, "segments must not be null", () -> cache.store(fresh, 25, null, 0, 3));
        rejects(IllegalArgumentException.class, "segments.address(1, 2) is the null address",
                () -> cache.store(fresh, 25, hole, 0, 3));
        rejects(IllegalArgumentException.class, "outside an array of 3", () -> cache.store(fresh, 25, good, 2, 2));
        rejects(IllegalArgumentException.class, "not the child",
                () -> cache.store(new BlockKey[] {fresh[0], fresh[2]}, 25, good, 0, 2));
        rejects(IllegalArgumentException.class, "8 tokens per block", () -> cache.store(eightTokenKeys(), 25, good, 0, 1));
        assertEquals(0, cache.match(fresh).hitBlocks(), "nothing of a rejected store is kept");
        assertEquals(0, cache.store(fresh, 25, hole, 2, 0), "an empty range asks for no address");
    }

    /** This round's entry points: flush, load with a deadline, and their builder settings. */
    @Test
    void flushLoadDeadlinesAndTheirSettingsRejectBadArguments() {
        rejects(NullPointerException.class, "timeout must not be null", () -> cache.flush(null));
        rejects(IllegalArgumentException.class, "timeout must not be negative", () -> cache.flush(Duration.ofMillis(-1)));
        rejects(IllegalArgumentException.class, "deadline must not be negative",
                () -> cache.load(match, directBuffers(3, BYTES), null, Duration.ofMillis(-1)));
        rejects(IllegalArgumentException.class, "deadline must not be negative",
                () -> cache.load(match, new long[] {1, 2, 3}, null, Duration.ofMillis(-1)));
        assertThrows(NullPointerException.class, () -> settings(16, 64, 1024L).flushOnClose(null));
        assertThrows(NullPointerException.class, () -> settings(16, 64, 1024L).loadCompletionExecutor(null));
        for (Map.Entry<String, KvTierCacheBuilder> b : List.of(
                Map.entry("flushOnClose must not be negative", settings(16, 64, 1024L).flushOnClose(Duration.ofSeconds(-1))),
                Map.entry("storeWait must not be negative", settings(16, 64, 1024L).storeWait(Duration.ofMillis(-1))))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, b.getValue()::build, b.getKey());
            assertTrue(e.getMessage().contains(b.getKey()), e.getMessage());
        }
        assertThrows(NullPointerException.class, () -> settings(16, 64, 1024L).storeWait(null));
        assertThrows(NullPointerException.class, () -> settings(16, 64, 1024L).remote(null));
        rejects(IllegalArgumentException.class, "RemoteTier: lookupBudget must be at least 1 ms, was PT0S",
                () -> RemoteTier.builder(java.net.URI.create("nbd://127.0.0.1:1/"), 1 << 20).lookupBudget(Duration.ZERO)
                        .build());
    }

    @Test
    void builderNamesEachBadPolicySetting() {
        List<Map.Entry<String, KvTierCacheBuilder>> bad = List.of(
                Map.entry("a prefillModel is only used by policy costaware, not second-hit",
                        settings(16, 64, 1024L).policy(CachePolicy.SECOND_HIT).prefillModel(PrefillModel.DEFAULT)),
                Map.entry("writeBudget applies to SSD or REMOTE, not DRAM",
                        settings(16, 64, 1024L).writeBudget(Tier.DRAM, 1e6)),
                Map.entry("writeBudget for SSD must be positive bytes per second, was 0.0",
                        settings(16, 64, 1024L).writeBudget(Tier.SSD, 0)),
                Map.entry("writeBudget for REMOTE must be positive bytes per second, was NaN",
                        settings(16, 64, 1024L).writeBudget(Tier.REMOTE, Double.NaN)),
                Map.entry("writeBudget for SSD, but no localSsd", settings(16, 64, 1024L).writeBudget(Tier.SSD, 1e6)),
                Map.entry("writeBudget for REMOTE, but no remote", settings(16, 64, 1024L).writeBudget(Tier.REMOTE, 1e6)));
        for (Map.Entry<String, KvTierCacheBuilder> b : bad) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, b.getValue()::build, b.getKey());
            assertTrue(e.getMessage().contains(b.getKey()), "expected \"" + b.getKey() + "\" in: " + e.getMessage());
        }
        rejects(NullPointerException.class, "policy", () -> KvTierCache.builder().policy(null));
        rejects(NullPointerException.class, "tier", () -> KvTierCache.builder().writeBudget(null, 1));
        rejects(NullPointerException.class, "model", () -> KvTierCache.builder().prefillModel(null));
        rejects(IllegalArgumentException.class, "policy lru is set, but an offline future runs opt",
                () -> OfflineKnobs.building((hi, lo) -> 0, null, settings(16, 64, 1024L).policy(CachePolicy.LRU)::build));
        rejects(IllegalArgumentException.class, "policy 'opt' needs the future: it is ./kvtier replay's reference",
                () -> CachePolicy.parse("opt"));
        rejects(IllegalArgumentException.class, "deviceBytesFor needs positive blocks and blockBytes",
                () -> KvTierCacheBuilder.deviceBytesFor(0, 4096));
        rejects(IllegalArgumentException.class, "unknown policy 'fifo': expected one of adaptive, costaware, lru",
                () -> CachePolicy.parse("fifo"));
        rejects(IllegalArgumentException.class, "PrefillModel: tokensPerSecond must be positive, was 0.0",
                () -> new PrefillModel(0, 1));
        rejects(IllegalArgumentException.class, "PrefillModel: contextDoublingTokens must be positive, was Infinity",
                () -> new PrefillModel(1, Double.POSITIVE_INFINITY));
    }

    @Test
    void builderReportsAnExplicitMinusOneAsOutOfRangeNotAsMissing() {
        List<Map.Entry<String, KvTierCacheBuilder>> bad = List.of(
                Map.entry("blockTokens must be in [1, 65536], was -1", settings(-1, 64, 1024L)),
                Map.entry("blockBytes must be in [1, 1073741824], was -1", settings(16, -1, 1024L)),
                Map.entry("dramCapacityBytes (-1) must hold", settings(16, 64, -1L)));
        for (Map.Entry<String, KvTierCacheBuilder> b : bad) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, b.getValue()::build, b.getKey());
            assertTrue(e.getMessage().contains(b.getKey()), "expected \"" + b.getKey() + "\" in: " + e.getMessage());
        }
    }

    @Test
    void aJvmWithoutTheChronicleFlagsGetsTheFlagsToAdd() throws Exception {
        ChildJvm.Result r = ChildJvm.run(List.of(), BuildWithoutFlags.class);
        assertEquals(0, r.exitCode(), r.output());
        assertTrue(r.output().contains("thrown dev.kvtier.MissingJvmFlagsException: "), r.output());
        assertTrue(r.output().contains("--add-exports=java.base/sun.nio.ch=ALL-UNNAMED"), r.output());
        assertTrue(r.output().contains("Start the JVM with: " + JvmFlags.requiredFlags()), r.output());
    }

    @Test
    void aBuildThatFailsAfterAllocatingFreesTheDramSlab() throws Exception {
        List<String> flags = new ArrayList<>(List.of(JvmFlags.requiredFlags().split(" ")));
        flags.add("-Xmx64m");
        ChildJvm.Result r = ChildJvm.run(flags, BuildWithTooSmallHeap.class);
        List<String> lines = r.output().lines().filter(l -> l.startsWith("control") || l.startsWith("thrown")
                || l.startsWith("failed")).toList();
        assertTrue(lines.contains("control held 0"), "a closed cache frees its slab: " + r.output());
        assertTrue(lines.contains("thrown java.lang.OutOfMemoryError"), r.output());
        assertTrue(lines.contains("failed build held 0"), "build failed but kept its DRAM slab: " + lines);
    }

    /** Runs {@code call}, expects {@code type} with {@code message} in its text, and the cache unchanged. */
    private void rejects(Class<? extends Throwable> type, String message, Executable call) {
        List<Long> before = counters(cache.stats());
        Throwable e = assertThrows(type, call);
        assertNotNull(e.getMessage(), type.getSimpleName() + " without a message");
        assertTrue(e.getMessage().contains(message), "expected \"" + message + "\" in: " + e.getMessage());
        assertEquals(before, counters(cache.stats()), "counters changed by a rejected call: " + e.getMessage());
        cache.checkInvariants();
        ByteBuffer[] dst = directBuffers(3, BYTES);
        assertEquals(3, cache.load(cache.match(kept), dst).join(), "blocks lost by a rejected call");
        for (int i = 0; i < 3; i++) {
            assertArrayEquals(payload(kept[i], BYTES), bytes(dst[i]), "block " + i + " changed by a rejected call");
        }
    }

    private static List<Long> counters(CacheStats s) {
        return List.of(s.matchCalls(), s.lookupBlocks(), s.hitBlocks(), s.missBlocks(), s.loadCalls(),
                s.loadedBlocks(), s.loadedBytes(), s.loadLostBlocks(), s.storeCalls(), s.storedBlocks(Tier.DRAM),
                s.storedBytes(Tier.DRAM), s.storeDuplicateBlocks(), s.storeOrphanBlocks(), s.storeNoSpaceBlocks(),
                s.evictedBlocks(Tier.DRAM), s.invalidatedBlocks(), s.acquires(), s.leakedPins(),
                (long) s.activePins(), s.residentBlocks(Tier.DRAM), s.matchLatency().count(),
                s.loadLatency().count(), s.storeLatency().count());
    }

    /** A builder with the given settings; null leaves a setting unset. */
    private static KvTierCacheBuilder settings(Integer blockTokens, Integer blockBytes, Long dramCapacityBytes) {
        KvTierCacheBuilder b = KvTierCache.builder();
        if (blockTokens != null) {
            b.blockTokens(blockTokens);
        }
        if (blockBytes != null) {
            b.blockBytes(blockBytes);
        }
        if (dramCapacityBytes != null) {
            b.dramCapacityBytes(dramCapacityBytes);
        }
        return b;
    }

    private static BlockKey[] eightTokenKeys() {
        return Namespace.builder("test-model").blockTokens(8).build().blockKeys(new int[16]);
    }

    private static ByteBuffer[] withFirst(ByteBuffer[] b, ByteBuffer first) {
        b[0] = first;
        return b;
    }

    private static ByteBuffer[] withLast(ByteBuffer[] b, ByteBuffer last) {
        b[b.length - 1] = last;
        return b;
    }
}
