package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.key.BlockKey;
import dev.kvtier.nbd.NbdServer;
import java.net.URI;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Loads are asynchronous. Behind nbdkit's delay filter (every read of the export takes 400 ms),
 * a server that finds a chain another server wrote gets its load's future at once, not done,
 * hears each growth of the leading run in order, and gets all 8 blocks verified later; a
 * cancelled load releases its pins once its reads finish; a load with a deadline completes by
 * then with what arrived; and {@code match} gives up on the remote lookup at its budget.
 */
class AsyncLoadTest {
    private static final int BLOCK = 16 * 1024;
    private static final long REMOTE_BYTES = KvTierCacheBuilder.deviceBytesFor(256, BLOCK);
    private static final BlockKey[] CHAIN = SsdFixtures.namespace("async").keysFromHashes(new long[] {1, 2, 3, 4, 5, 6, 7, 8});
    private static NbdServer server;

    @BeforeAll
    static void storeAChainOnTheSlowExport() throws Exception {
        server = NbdServer.nbdkit("--filter=delay", "memory", "16M", "rdelay=400ms");
        try (KvTierCache writer = builder(server.uri(), 5_000).build()) {
            WarmRestartTest.storeAll(writer, List.<BlockKey[]>of(CHAIN), BLOCK);
            assertEquals(CHAIN.length, writer.flush(Duration.ofSeconds(60)));
        }
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @Test
    void aLoadReturnsBeforeItsRemoteReadsAndReportsBlocksInOrder() throws Exception {
        try (KvTierCache reader = builder(server.uri(), 10_000).build()) {
            PrefixMatch m = reader.match(CHAIN);
            assertEquals(CHAIN.length, m.hitBlocks(), "found on the export: " + reader.stats());
            List<Integer> progress = new CopyOnWriteArrayList<>();
            ByteBuffer[] dst = poisoned();
            long t0 = System.nanoTime();
            CompletableFuture<Integer> f = reader.load(m, dst, progress::add, null);
            long returnedMs = (System.nanoTime() - t0) / 1_000_000;
            assertFalse(f.isDone(), "the future is not done when load returns (after " + returnedMs + " ms)");
            assertTrue(returnedMs < 300, "load returned after " + returnedMs + " ms; a read takes 400");
            assertEquals(CHAIN.length, f.get(30, TimeUnit.SECONDS));
            for (int i = 0; i < CHAIN.length; i++) {
                assertEquals(-1, SsdFixtures.firstWrongByte(dst[i].clear(), CHAIN[i]), "block " + i);
            }
            assertEquals(CHAIN.length, progress.get(progress.size() - 1));
            for (int i = 1; i < progress.size(); i++) {
                assertTrue(progress.get(i) > progress.get(i - 1), "progress grows: " + progress);
            }
            assertEquals(0, reader.stats().activePins(), "pins are gone when the future completes");
        }
    }

    @Test
    void aCancelledLoadReleasesItsPins() throws Exception {
        try (KvTierCache reader = builder(server.uri(), 10_000).build()) {
            PrefixMatch m = reader.match(CHAIN);
            assertEquals(CHAIN.length, m.hitBlocks());
            CompletableFuture<Integer> f = reader.load(m, poisoned());
            assertTrue(f.cancel(false));
            assertTrue(reader.stats().activePins() > 0, "the reads in flight keep their pins for now");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (reader.stats().activePins() > 0 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertEquals(0, reader.stats().activePins(), "released once the reads finished");
            assertEquals(1, reader.stats().cancelledLoads(), "counted: " + reader.stats());
            assertEquals(1, reader.stats().loadCalls());
            ((TieredCache) reader).checkInvariants();
        }
    }

    @Test
    void aLoadWithADeadlineCompletesByThenWithWhatArrived() throws Exception {
        try (KvTierCache reader = builder(server.uri(), 10_000).build()) {
            PrefixMatch m = reader.match(CHAIN);
            long t0 = System.nanoTime();
            int n = reader.load(m, poisoned(), null, Duration.ofMillis(100)).get(10, TimeUnit.SECONDS);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(ms < 350, "completed after " + ms + " ms");
            assertEquals(0, n, "no read of 400 ms arrived within 100 ms");
        }
    }

    /** A dependent action of a load's future may close the cache: futures complete outside the load's lock. */
    @Test
    void aDependentOfADeadlineCompletionMayCloseTheCache() throws Exception {
        KvTierCache reader = builder(server.uri(), 10_000).build();
        PrefixMatch m = reader.match(CHAIN);
        CompletableFuture<Void> closed = reader.load(m, poisoned(), null, Duration.ofMillis(100))
                .thenRun(reader::close);
        closed.get(10, TimeUnit.SECONDS); // hung before: close waited for the load, the load for the lock of the thread closing
        assertTrue(((TieredCache) reader).isClosed());
    }

    @Test
    void matchStopsLookingOnTheRemoteTierAtItsBudget() {
        try (KvTierCache reader = builder(server.uri(), 100).build()) {
            long t0 = System.nanoTime();
            int hits = reader.match(CHAIN).hitBlocks();
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertEquals(0, hits, "nothing found within 100 ms");
            assertTrue(ms < 350, "match took " + ms + " ms with a 100 ms budget");
        }
    }

    private static KvTierCacheBuilder builder(URI uri, long lookupBudgetMillis) {
        return KvTierCache.builder().blockTokens(SsdFixtures.TOKENS).blockBytes(BLOCK).dramCapacityBytes(16L * BLOCK)
                .remote(RemoteTier.builder(uri, REMOTE_BYTES).ways(4).timeout(Duration.ofSeconds(10))
                        .recheckAfter(Duration.ZERO).lookupBudget(Duration.ofMillis(lookupBudgetMillis)).build()).flushOnClose(Duration.ZERO);
    }

    private static ByteBuffer[] poisoned() {
        ByteBuffer[] b = new ByteBuffer[CHAIN.length];
        for (int i = 0; i < b.length; i++) {
            b[i] = ByteBuffer.allocateDirect(BLOCK);
            while (b[i].hasRemaining()) {
                b[i].put((byte) 0x5A);
            }
            b[i].clear();
        }
        return b;
    }
}
