package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.device.NbdDevice;
import dev.kvtier.format.DeviceLayout;
import dev.kvtier.format.InvalidationTable;
import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import dev.kvtier.nbd.NbdServer;
import dev.kvtier.tier.SlotTier;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Invalidation is final: once {@code invalidate} returns, no match of this process returns the
 * namespace's blocks (also those still on the remote device, which discovery would find again),
 * none come back after a {@code kill -9} and restart (whether or not their slots were wiped: the
 * device records the invalidation), and another server attached to the same remote device
 * stops serving them within {@link TieredCache#REMOTE_INVALIDATION_REFRESH_MS} plus a lookup.
 * Blocks of the namespace stored after the invalidation are served as usual.
 */
class InvalidationTest {
    private static final int BLOCK = 4096;
    private static final Namespace A = SsdFixtures.namespace("tenant-a");
    private static final Namespace B = SsdFixtures.namespace("tenant-b");

    @TempDir(factory = TargetTempDir.class)
    Path dir;

    /**
     * The adversarial case: the device as it was before any wipe ran (a copy taken before the
     * invalidation) with only the invalidation table written since: no block of A comes back.
     */
    @Test
    void unwipedSlotsOfAnInvalidatedNamespaceStayInvalidAfterARestart() throws Exception {
        Path file = dir.resolve("ssd.slots");
        Path image = dir.resolve("crash-image.slots");
        List<BlockKey[]> a = chains(A, 16);
        List<BlockKey[]> b = chains(B, 16);
        try (KvTierCache cache = builder(file).build()) {
            WarmRestartTest.storeAll(cache, a);
            WarmRestartTest.storeAll(cache, b);
            assertEquals(16 * 4 * 2, cache.flush(Duration.ofSeconds(30)));
            cache.awaitIdle();
            Files.copy(file, image);
            assertEquals(16 * 4, cache.invalidate(A));
            assertEquals(0, cache.match(a.get(0)).hitBlocks(), "gone for this process at once");
            copyInvalidationTable(file, image);
        }
        try (KvTierCache reopened = builder(image).build()) {
            assertEquals(16 * 4, reopened.stats().recoveredBlocks(Tier.SSD), "only B's blocks are recovered");
            assertEquals(0, WarmRestartTest.loadAll(reopened, a));
            assertEquals(16 * 4, WarmRestartTest.loadAll(reopened, b));
        }
    }

    /** A child stores, flushes, invalidates A and says so; it is killed with SIGKILL at once. */
    @Test
    void anInvalidationHoldsAcrossKillDashNine() throws Exception {
        Path file = dir.resolve("killed.slots");
        List<String> lines = runAndKill(Worker.class, file.toString());
        assertTrue(lines.contains("INVALIDATED 64"), String.join("\n", lines));
        try (KvTierCache reopened = builder(file).build()) {
            assertEquals(0, WarmRestartTest.loadAll(reopened, chains(A, 16)));
            assertEquals(16 * 4, WarmRestartTest.loadAll(reopened, chains(B, 16)));
            List<BlockKey[]> again = chains(A, 1);
            WarmRestartTest.storeAll(reopened, again);
            assertEquals(4, WarmRestartTest.loadAll(reopened, again), "A's blocks stored after the invalidation are kept");
        }
    }

    /**
     * Two servers on one export: this process loads A's blocks from the remote tier, another
     * process invalidates A, and this one stops matching them within the refresh bound; the
     * invalidating process itself never matches them again, though their headers may still be
     * on the export.
     */
    @Test
    void anInvalidationReachesAnotherServerOnTheSharedDevice() throws Exception {
        try (NbdServer server = NbdServer.nbdkit("memory", "64M");
                KvTierCache reader = remoteBuilder(server.uri()).build()) {
            List<String> stored = ChildJvm.run(childFlags(), Worker.class, "remote", server.uri().toString(), "store")
                    .output().lines().toList();
            assertTrue(stored.contains("STORED"), String.join("\n", stored));
            List<BlockKey[]> a = chains(A, 4);
            assertEquals(4 * 4, WarmRestartTest.loadAll(reader, a), "found on the export: " + reader.stats());

            List<String> out = ChildJvm.run(childFlags(), Worker.class, "remote", server.uri().toString(), "invalidate")
                    .output().lines().toList();
            assertTrue(out.contains("INVALIDATED, MATCHES 0"), String.join("\n", out));
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(TieredCache.REMOTE_INVALIDATION_REFRESH_MS + 1_500);
            int matched = Integer.MAX_VALUE;
            while (matched > 0 && System.nanoTime() < deadline) {
                Thread.sleep(100);
                matched = 0;
                for (BlockKey[] chain : a) {
                    matched += reader.match(chain).hitBlocks();
                }
            }
            assertEquals(0, matched, "the other server's invalidation reached this one: " + reader.stats());
            assertEquals(4 * 4, WarmRestartTest.loadAll(reader, chains(B, 4)), "B is untouched");
        }
    }

    /**
     * A server whose clock runs 30 s ahead (within the future bound) invalidates A on the export;
     * a server with a true clock sees the record at its next refresh, then stores A's blocks
     * anew: they are written after the invalidation and must outlive it, for a server attaching
     * later too. Before write epochs followed invalidation records, they were stamped with the
     * true clock, below the record's epoch, and every one was a miss.
     */
    @Test
    void blocksWrittenAfterAnInvalidationFromAClockAheadOutliveIt() throws Exception {
        try (NbdServer server = NbdServer.nbdkit("memory", "64M")) {
            List<BlockKey[]> a = chains(A, 4);
            try (KvTierCache writer = remoteBuilder(server.uri()).build()) {
                recordInvalidationFromTheFuture(server.uri(), A, 30_000);
                Thread.sleep(TieredCache.REMOTE_INVALIDATION_REFRESH_MS + 500);
                WarmRestartTest.storeAll(writer, a);
                writer.flush(Duration.ofSeconds(30));
            }
            try (KvTierCache later = remoteBuilder(remoteTier(server.uri()).lookupBudget(Duration.ofSeconds(10))).build()) {
                assertEquals(4 * 4, WarmRestartTest.loadAll(later, a), "blocks written after the invalidation are"
                        + " found: " + later.stats());
            }
        }
    }

    /** Records on the export, as a server whose clock is {@code aheadMillis} fast would, that {@code ns} is invalid. */
    private static void recordInvalidationFromTheFuture(URI uri, Namespace ns, long aheadMillis) throws Exception {
        try (SlotTier slots = SlotTier.open(NbdDevice.open(uri, KvTierCacheBuilder.deviceBytesFor(1024, BLOCK), 1, 5_000),
                SsdFixtures.TOKENS, BLOCK, null, false, 4, null)) {
            slots.recordInvalidation(ns.rootHi(), ns.rootLo(), System.currentTimeMillis() + aheadMillis << 12);
        }
    }

    /** Child: {@code <ssd file>} stores A and B, flushes, invalidates A, prints, waits to be killed; {@code remote <uri> store|invalidate}. */
    public static final class Worker {
        public static void main(String[] args) throws Exception {
            if (args[0].equals("remote")) {
                remote(URI.create(args[1]), args[2]);
                return;
            }
            KvTierCache cache = builder(Path.of(args[0])).build();
            WarmRestartTest.storeAll(cache, chains(A, 16));
            WarmRestartTest.storeAll(cache, chains(B, 16));
            cache.flush(Duration.ofSeconds(30));
            cache.awaitIdle();
            System.out.println("INVALIDATED " + cache.invalidate(A));
            System.out.flush();
            Thread.sleep(60_000);
            System.exit(1);
        }

        private static void remote(URI uri, String mode) {
            try (KvTierCache cache = remoteBuilder(uri).build()) {
                List<BlockKey[]> a = chains(A, 4);
                if (mode.equals("store")) {
                    WarmRestartTest.storeAll(cache, a);
                    WarmRestartTest.storeAll(cache, chains(B, 4));
                    cache.flush(Duration.ofSeconds(30));
                    System.out.println("STORED");
                } else {
                    WarmRestartTest.loadAll(cache, a); // discovers A's blocks first
                    cache.invalidate(A);
                    int matched = 0;
                    for (BlockKey[] chain : a) {
                        matched += cache.match(chain).hitBlocks();
                    }
                    System.out.println("INVALIDATED, MATCHES " + matched);
                }
            }
        }
    }

    static KvTierCacheBuilder builder(Path file) {
        return SsdFixtures.builder(file, BLOCK, 256, 256, false, Compression.NONE).flushOnClose(Duration.ZERO);
    }

    static KvTierCacheBuilder remoteBuilder(URI uri) {
        return remoteBuilder(remoteTier(uri));
    }

    static KvTierCacheBuilder remoteBuilder(RemoteTier.Builder remote) {
        return KvTierCache.builder().blockTokens(SsdFixtures.TOKENS).blockBytes(BLOCK).dramCapacityBytes(64L * BLOCK)
                .remote(remote.build()).flushOnClose(Duration.ZERO);
    }

    static RemoteTier.Builder remoteTier(URI uri) {
        return RemoteTier.builder(uri, KvTierCacheBuilder.deviceBytesFor(1024, BLOCK)).ways(4).recheckAfter(Duration.ZERO);
    }

    /** {@code n} chains of 4 blocks in {@code ns}. */
    static List<BlockKey[]> chains(Namespace ns, int n) {
        List<BlockKey[]> chains = new ArrayList<>();
        for (int c = 0; c < n; c++) {
            chains.add(ns.keysFromHashes(new long[] {c * 10L + 1, c * 10L + 2, c * 10L + 3, c * 10L + 4}));
        }
        return chains;
    }

    private static void copyInvalidationTable(Path from, Path to) throws Exception {
        ByteBuffer page = ByteBuffer.allocate(InvalidationTable.BYTES);
        try (FileChannel in = FileChannel.open(from, StandardOpenOption.READ);
                FileChannel out = FileChannel.open(to, StandardOpenOption.WRITE)) {
            in.read(page, DeviceLayout.SUPERBLOCK_BYTES);
            out.write(page.flip(), DeviceLayout.SUPERBLOCK_BYTES);
        }
    }

    private static List<String> childFlags() {
        List<String> flags = ChildJvm.cacheFlags();
        flags.add("-Xmx256m");
        return flags;
    }

    private static List<String> runAndKill(Class<?> main, String... args) throws Exception {
        Process p = ChildJvm.start(childFlags(), main, args);
        List<String> lines = new ArrayList<>();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = out.readLine()) != null; ) {
                lines.add(line);
                if (line.startsWith("INVALIDATED")) {
                    break;
                }
            }
            p.destroyForcibly();
            assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        } finally {
            p.destroyForcibly();
        }
        assertEquals(137, p.exitValue(), String.join("\n", lines));
        return lines;
    }
}
