package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import dev.kvtier.nbd.NbdServer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The remote tier inside the cache, on real nbdkit servers: a block one cache demotes there is
 * found and loaded by another cache (same JVM, then separate processes, then many processes
 * racing for few slots), never with a wrong byte; a server killed under loads fails them fast
 * and the cache recovers when it is back; bad remote settings are refused clearly.
 */
class RemoteTierTest {
    private static final long REMOTE_BYTES = 8L << 20;
    /** Room for about four times the workload's distinct blocks. */
    private static final long SHARED_BYTES = 64L << 20;

    @Test
    void aBlockOneCacheDemotesAnotherFindsAndLoads() throws Exception {
        try (NbdServer server = NbdServer.nbdkit("memory", "64M");
                KvTierCache a = RemoteWorker.builder(server.uri(), REMOTE_BYTES).build();
                KvTierCache b = RemoteWorker.builder(RemoteWorker.remote(server.uri(), REMOTE_BYTES)
                        .lookupBudget(Duration.ofSeconds(10))).build()) { // a loaded machine must not cut b's match short
            BlockKey[] keys = SsdFixtures.namespace("remote-model").keysFromHashes(new long[] {1, 2, 3, 4, 5, 6});
            a.store(keys, filled(keys));
            a.awaitIdle();
            assertEquals(keys.length, a.stats().storedBlocks(Tier.REMOTE), a.stats().toString());

            PrefixMatch m = b.match(keys);
            assertEquals(keys.length, m.hitBlocks(), "b finds a's blocks by their keys alone: " + b.stats());
            assertEquals(Tier.REMOTE, m.tier(0));
            ByteBuffer[] dst = empty(keys.length);
            assertEquals(keys.length, b.load(m, dst).join());
            for (int i = 0; i < keys.length; i++) {
                assertEquals(-1, SsdFixtures.firstWrongByte(dst[i].clear(), keys[i]), "block " + i);
            }
            assertEquals(keys.length, b.stats().discoveredBlocks(Tier.REMOTE));
            assertEquals(keys.length, b.stats().loadedBlocks(Tier.REMOTE));
            CacheStats.DeviceIo reads = b.stats().deviceIo(Tier.REMOTE);
            assertTrue(reads.readLatency().count() >= keys.length && reads.readBytesPerSecond() > 0, "" + reads);
            assertTrue(a.stats().deviceIo(Tier.REMOTE).writeBytesPerSecond() > 0);
            assertEquals(null, a.stats().deviceIo(Tier.DRAM));
            ((TieredCache) a).checkInvariants();
            ((TieredCache) b).checkInvariants();
        }
    }

    @Test
    void twoProcessesShareBlocksThroughOneExport() throws Exception {
        try (NbdServer server = NbdServer.nbdkit("memory", "128M")) {
            String uri = server.uri().toString();
            String stored = child(uri, "store", 1, 0);
            Matcher written = Pattern.compile("STORED remote=(\\d+)").matcher(stored);
            assertTrue(written.find() && Long.parseLong(written.group(1)) >= distinctBlocks() * 95L / 100, stored);
            String found = child(uri, "verify", 2, 0);
            Matcher hits = Pattern.compile("FOUND hits=(\\d+) remote=(\\d+) of=(\\d+)").matcher(found);
            assertTrue(hits.find(), found);
            long of = Long.parseLong(hits.group(3));
            assertTrue(Long.parseLong(hits.group(1)) >= of * 9 / 10,
                    "the second process loads (nearly) every block the first stored: " + found);
            assertTrue(Long.parseLong(hits.group(2)) > 0, found);
        }
    }

    @Test
    void manyProcessesRacingForFewSlotsNeverServeAWrongByte() throws Exception {
        long tiny = 64L * (RemoteWorker.BLOCK + 4096) + 4096;
        try (NbdServer server = NbdServer.nbdkit("memory", "16M")) {
            long loadedRemote = race(server.uri().toString(), tiny, 4, 100, 1500);
            assertTrue(loadedRemote > 0, "the racing processes did serve blocks from the shared tier");
        }
    }

    /**
     * Runs {@code workers} {@link RemoteWorker} processes in race mode on {@code uri} at once
     * (seeds from {@code seed}), asserts each finished cleanly (status 3 is a wrong byte served),
     * and returns the blocks they loaded from the shared tier.
     */
    static long race(String uri, long bytes, int workers, long seed, long ops) throws Exception {
        List<Process> processes = new ArrayList<>();
        List<CompletableFuture<String>> outputs = new ArrayList<>();
        for (int i = 0; i < workers; i++) {
            Process p = ChildJvm.start(ChildJvm.cacheFlags(), RemoteWorker.class, uri, Long.toString(bytes), "race",
                    Long.toString(seed + i), Long.toString(ops));
            processes.add(p);
            outputs.add(CompletableFuture.supplyAsync(() -> drain(p)));
        }
        long loadedRemote = 0;
        for (int i = 0; i < processes.size(); i++) {
            Process p = processes.get(i);
            boolean exited = p.waitFor(120, TimeUnit.SECONDS);
            if (!exited) {
                p.destroyForcibly();
            }
            String out = outputs.get(i).get(10, TimeUnit.SECONDS);
            assertTrue(exited, "worker " + i + " did not finish: " + out);
            assertEquals(0, p.exitValue(), out);
            Matcher m = Pattern.compile("loadedRemote=(\\d+)").matcher(out);
            assertTrue(m.find(), out);
            System.out.println("racing worker " + i + ": " + out.strip());
            loadedRemote += Long.parseLong(m.group(1));
        }
        return loadedRemote;
    }

    @Test
    void killingTheServerFailsLoadsFastAndTheCacheRecovers(@TempDir Path dir) throws Exception {
        Path disk = dir.resolve("export.img");
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(disk.toFile(), "rw")) {
            f.setLength(64L << 20);
        }
        try (NbdServer server = NbdServer.nbdkit("file", disk.toString());
                KvTierCache cache = RemoteWorker.builder(RemoteWorker.remote(server.uri(), REMOTE_BYTES).timeout(Duration.ofMillis(500))).build()) {
            Namespace9 w = new Namespace9();
            cache.store(w.keys, filled(w.keys));
            cache.awaitIdle();
            assertEquals(w.keys.length, cache.stats().storedBlocks(Tier.REMOTE), cache.stats().toString());
            w.evictFromDram(cache);

            server.kill();
            long t0 = System.nanoTime();
            PrefixMatch m = cache.match(w.keys);
            int loaded = cache.load(m, empty(m.hitBlocks())).join();
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertTrue(ms < 5_000, "a dead server costs at most its timeout, not a hang: " + ms + " ms");
            assertTrue(loaded < w.keys.length, "blocks on a dead server are misses");
            assertTrue(cache.stats().readErrors(Tier.REMOTE) > 0, cache.stats().toString());

            server.restart();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            int again = 0;
            while (again < w.keys.length && System.nanoTime() < deadline) {
                Thread.sleep(200);
                PrefixMatch m2 = cache.match(w.keys);
                ByteBuffer[] dst = empty(m2.hitBlocks());
                again = cache.load(m2, dst).join();
                for (int i = 0; i < again; i++) {
                    assertEquals(-1, SsdFixtures.firstWrongByte(dst[i].clear(), w.keys[i]), "block " + i);
                }
            }
            assertEquals(w.keys.length, again, "after the restart the blocks are served again: " + cache.stats());
            ((TieredCache) cache).checkInvariants();
        }
    }

    @Test
    void injectedReadErrorsAreMissesAndServingResumesWhenTheyStop(@TempDir Path dir) throws Exception {
        Path trigger = dir.resolve("inject");
        try (NbdServer server = NbdServer.nbdkit("--filter=error", "memory", "64M", "error=EIO", "error-rate=30%",
                "error-file=" + trigger);
                KvTierCache writer = RemoteWorker.builder(server.uri(), REMOTE_BYTES).build();
                KvTierCache reader = RemoteWorker.builder(server.uri(), REMOTE_BYTES).dramCapacityBytes(
                        2L * RemoteWorker.BLOCK).build()) {
            List<BlockKey[]> chains = new ArrayList<>();
            for (int c = 0; c < 20; c++) {
                BlockKey[] keys = SsdFixtures.namespace("faulty").keysFromHashes(new long[] {c, 1, 2, 3, 4, 5});
                writer.store(keys, filled(keys));
                writer.awaitIdle();
                chains.add(keys);
            }
            assertEquals(120, writer.stats().storedBlocks(Tier.REMOTE), writer.stats().toString());

            Files.createFile(trigger);
            long loaded = loadAndCheck(reader, chains);
            CacheStats s = reader.stats();
            assertTrue(s.readErrors(Tier.REMOTE) > 0, "errors were injected and counted: " + s);
            assertTrue(loaded < 120, "some blocks were misses: " + loaded);

            Files.delete(trigger);
            assertEquals(120, loadAndCheck(reader, chains), "all blocks are served again: " + reader.stats());
            ((TieredCache) reader).checkInvariants();
        }
    }

    @Test
    void aCorruptPayloadOnTheExportIsAMissAndIsWiped(@TempDir Path dir) throws Exception {
        Path disk = dir.resolve("export.img");
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(disk.toFile(), "rw")) {
            f.setLength(16L << 20);
        }
        BlockKey[] keys = SsdFixtures.namespace("corrupt").keysFromHashes(new long[] {1, 2, 3, 4});
        try (NbdServer server = NbdServer.nbdkit("file", disk.toString())) {
            try (KvTierCache writer = RemoteWorker.builder(server.uri(), REMOTE_BYTES).build()) {
                writer.store(keys, filled(keys));
                writer.awaitIdle();
            }
            long header = offsetOf(Files.readAllBytes(disk), keys[2]);
            SsdFixtures.flipByte(disk, header + 4096 + 1000, 0x10); // inside the payload whatever the alignment

            try (KvTierCache reader = RemoteWorker.builder(server.uri(), REMOTE_BYTES).build()) {
                PrefixMatch m = reader.match(keys);
                assertEquals(4, m.hitBlocks(), "the headers are intact");
                ByteBuffer[] dst = empty(4);
                assertEquals(2, reader.load(m, dst).join(), "the load stops before the corrupt block");
                for (int i = 0; i < 2; i++) {
                    assertEquals(-1, SsdFixtures.firstWrongByte(dst[i].clear(), keys[i]), "block " + i);
                }
                assertEquals(1, reader.stats().corruptBlocks(Tier.REMOTE));
                reader.awaitIdle();
                assertEquals(2, reader.match(keys).hitBlocks(), "the corrupt slot was wiped, not found again");
                ((TieredCache) reader).checkInvariants();
            }
        }
    }

    /** Matches and loads every chain, checking every byte; returns the blocks loaded. */
    private static long loadAndCheck(KvTierCache cache, List<BlockKey[]> chains) {
        long loaded = 0;
        for (BlockKey[] keys : chains) {
            PrefixMatch m = cache.match(keys);
            ByteBuffer[] dst = empty(m.hitBlocks());
            int n = cache.load(m, dst).join();
            for (int i = 0; i < n; i++) {
                assertEquals(-1, SsdFixtures.firstWrongByte(dst[i].clear(), keys[i]), "block " + i);
            }
            loaded += n;
        }
        return loaded;
    }

    /** The offset of the slot header holding {@code key} (key hi and lo, little-endian, at bytes 8 and 16). */
    private static long offsetOf(byte[] disk, BlockKey key) {
        ByteBuffer b = ByteBuffer.wrap(disk).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (int at = 0; at + 16 <= disk.length; at += 64) {
            if (b.getLong(at + 8) == key.hi() && b.getLong(at + 16) == key.lo()) {
                return at;
            }
        }
        throw new AssertionError("no header of " + key + " on the export");
    }

    @Test
    void badRemoteSettingsAreRefusedClearly() throws Exception {
        URI ok = URI.create("nbd://127.0.0.1:1/");
        assertMessage("not an nbd://", () -> RemoteWorker.builder(URI.create("http://x/"), REMOTE_BYTES).build());
        assertMessage("at least 4 slots", () -> RemoteWorker.builder(ok, 40_000).build());
        assertMessage("RemoteTier: ways must be in [1, 64], was 0", () -> RemoteWorker.remote(ok, REMOTE_BYTES).ways(0).build());
        assertMessage("RemoteTier: connections must be in [1, 64], was 0",
                () -> RemoteWorker.remote(ok, REMOTE_BYTES).connections(0).build());
        assertMessage("RemoteTier: timeout must be at least 1 ms, was PT0S",
                () -> RemoteWorker.remote(ok, REMOTE_BYTES).timeout(Duration.ZERO).build());
        assertMessage("RemoteTier: recheckAfter must not be negative",
                () -> RemoteWorker.remote(ok, REMOTE_BYTES).recheckAfter(Duration.ofMillis(-1)).build());
        assertMessage("RemoteTier: an export is listed twice", () -> RemoteTier.builder(List.of(ok, ok), REMOTE_BYTES).build());
        IllegalStateException down = assertThrows(IllegalStateException.class,
                () -> RemoteWorker.builder(URI.create("nbd://127.0.0.1:" + freePort() + "/"), REMOTE_BYTES).build());
        assertTrue(down.getMessage().contains("127.0.0.1"), down.getMessage());
    }

    /**
     * A full shared tier replaces its oldest blocks: with every set full of older chains' blocks
     * (mostly parents, which the prefix rule keeps), each new one-block chain must not push out
     * the one before it; the last {@code ways} written are all kept, here and on the device.
     */
    @Test
    void aFullSharedTierReplacesItsOldestBlocksNotTheNewest(@TempDir Path dir) throws Exception {
        int ways = 4;
        int slots = 64;
        long bytes = 8192 + slots * (4096L + RemoteWorker.BLOCK);
        Path path = dir.resolve("shared.slots");
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(path.toFile(), "rw")) {
            f.setLength(bytes);
        }
        URI file = path.toUri();
        Namespace ns = SsdFixtures.namespace("full-set-model");
        List<BlockKey[]> recent = new ArrayList<>();
        try (KvTierCache cache = fullSetCache(file, bytes, ways)) {
            for (int c = 0; c < slots / 8 - 1; c++) {
                long[] hashes = new long[8];
                long first = 1_000_000L * (c + 1);
                java.util.Arrays.setAll(hashes, i -> first + i);
                storeAndFlush(cache, ns.keysFromHashes(hashes));
            }
            for (int k = 0; k < 3 * slots; k++) {
                BlockKey[] one = ns.keysFromHashes(new long[] {7_000_000_000L + k});
                storeAndFlush(cache, one);
                recent.add(one);
                for (int j = Math.max(0, recent.size() - ways); j < recent.size(); j++) {
                    assertEquals(1, cache.match(recent.get(j)).hitBlocks(),
                            "chain " + j + " of " + recent.size() + " was pushed out: " + cache.stats());
                }
            }
            ((TieredCache) cache).checkInvariants();
        }
        try (KvTierCache reader = fullSetCache(file, bytes, ways)) {
            for (int j = recent.size() - ways; j < recent.size(); j++) {
                assertEquals(1, reader.match(recent.get(j)).hitBlocks(), "chain " + j + " on the device");
            }
        }
    }

    /** DRAM for two blocks, each demoted at once, on a shared tier of {@code bytes} at {@code file}. */
    private static KvTierCache fullSetCache(URI file, long bytes, int ways) {
        return KvTierCache.builder().blockTokens(SsdFixtures.TOKENS).blockBytes(RemoteWorker.BLOCK)
                .dramCapacityBytes(2L * RemoteWorker.BLOCK).demoteAhead(1.0).storeWait(Duration.ofSeconds(10))
                .remote(RemoteTier.builder(file, bytes).ways(ways).recheckAfter(Duration.ZERO)
                        .lookupBudget(Duration.ofSeconds(10)).build())
                .build();
    }

    private static void storeAndFlush(KvTierCache cache, BlockKey[] keys) {
        cache.store(keys, filled(keys));
        cache.flush(Duration.ofSeconds(10));
    }

    /** A 9-block prompt and a way to push it out of the DRAM tier. */
    private static final class Namespace9 {
        final BlockKey[] keys = SsdFixtures.namespace("kill-model").keysFromHashes(new long[] {1, 2, 3, 4, 5, 6, 7, 8, 9});

        void evictFromDram(KvTierCache cache) {
            long[] hashes = new long[RemoteWorker.DRAM_BLOCKS];
            java.util.Arrays.setAll(hashes, i -> i + 1);
            BlockKey[] other = SsdFixtures.namespace("filler").keysFromHashes(hashes);
            cache.store(other, filled(other));
            cache.awaitIdle();
            PrefixMatch m = cache.match(keys);
            for (int i = 0; i < m.hitBlocks(); i++) {
                assertEquals(Tier.REMOTE, m.tier(i), "block " + i + " left DRAM");
            }
        }
    }

    private static void assertMessage(String part, Runnable build) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, build::run);
        assertTrue(e.getMessage().contains(part), e.getMessage());
    }

    private static int distinctBlocks() {
        return new CrashWorkload(0).chains().size() * CrashWorkload.MAX_BLOCKS
                - (CrashWorkload.CONVERSATIONS - 1) * CrashWorkload.NAMESPACES * CrashWorkload.SYSTEM_BLOCKS;
    }

    private static String child(String uri, String mode, long seed, long ops) throws Exception {
        ChildJvm.Result r = ChildJvm.run(ChildJvm.cacheFlags(), RemoteWorker.class, uri, Long.toString(SHARED_BYTES),
                mode, Long.toString(seed), Long.toString(ops));
        assertEquals(0, r.exitCode(), r.output());
        return r.output();
    }

    static String drain(Process p) {
        StringBuilder out = new StringBuilder();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = in.readLine()) != null; ) {
                out.append(line).append('\n');
            }
        } catch (IOException e) {
            out.append(e);
        }
        return out.toString();
    }

    /** {@code count} chains of {@code length} blocks in namespace {@code name}, no two sharing a block. */
    static List<BlockKey[]> chains(String name, int count, int length) {
        Namespace ns = SsdFixtures.namespace(name);
        List<BlockKey[]> chains = new ArrayList<>();
        for (int c = 0; c < count; c++) {
            long[] ids = new long[length];
            for (int i = 0; i < length; i++) {
                ids[i] = c * 1000L + i + 1;
            }
            chains.add(ns.keysFromHashes(ids));
        }
        return chains;
    }

    /** Remote-sized blocks holding each key's bytes. */
    static ByteBuffer[] filled(BlockKey[] keys) {
        ByteBuffer[] b = new ByteBuffer[keys.length];
        for (int i = 0; i < b.length; i++) {
            b[i] = SsdFixtures.payload(keys[i], RemoteWorker.BLOCK);
        }
        return b;
    }

    /** {@code n} empty remote-sized blocks. */
    static ByteBuffer[] empty(int n) {
        ByteBuffer[] b = new ByteBuffer[n];
        for (int i = 0; i < n; i++) {
            b[i] = ByteBuffer.allocateDirect(RemoteWorker.BLOCK);
        }
        return b;
    }

    private static int freePort() throws Exception {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
