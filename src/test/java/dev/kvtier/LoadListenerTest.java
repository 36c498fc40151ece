package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import dev.kvtier.nbd.NbdServer;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A {@link LoadListener} runs outside the load's lock: on kvtier I/O threads (for remote reads the
 * NBD connections' reader threads, which complete them; behind nbdkit's
 * delay filter, 50 ms per read, so the blocks arrive after {@code load} returned) and on the
 * loading thread (a restart's SSD file), a listener that copies the blocks it heard of, calls
 * back into the cache (match, store, a DRAM load it joins, acquire, stats) and sleeps in every
 * call gets them all, in increasing order, never two calls at once and none after the future
 * completed, whose value is the last length heard. A listener may cancel its own load from
 * another thread and wait for that (with the call under the lock, the cancel waited for the
 * lock and the listener for the cancel); no call follows a cancel. With a deadline, the future
 * completes after a slow call, never before it.
 */
@Timeout(120)
class LoadListenerTest {
    private static final int BLOCK = 16 * 1024;
    private static final long REMOTE_BYTES = KvTierCacheBuilder.deviceBytesFor(256, BLOCK);
    private static final Namespace NS = SsdFixtures.namespace("listener");
    private static final BlockKey[] CHAIN = NS.keysFromHashes(new long[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
    private static NbdServer server;

    @TempDir(factory = TargetTempDir.class)
    Path dir;

    @BeforeAll
    static void storeAChainOnASlowExport() throws Exception {
        server = NbdServer.nbdkit("--filter=delay", "memory", "16M", "rdelay=50ms");
        try (KvTierCache writer = remote(server.uri()).build()) {
            WarmRestartTest.storeAll(writer, List.<BlockKey[]>of(CHAIN), BLOCK);
            assertEquals(CHAIN.length, writer.flush(Duration.ofSeconds(60)));
        }
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @Test
    void aListenerOnIoThreadsMayCopyCallTheCacheAndBlock() throws Exception {
        try (KvTierCache cache = remote(server.uri()).build()) {
            PrefixMatch m = cache.match(CHAIN);
            assertEquals(CHAIN.length, m.hitBlocks(Tier.REMOTE), "found on the export: " + cache.stats());
            Probe probe = loadThroughProbe(cache, m, null);
            assertTrue(probe.threads.stream().anyMatch(t -> t.startsWith("kvtier-nbd-reader")),
                    "heard on a connection's reader thread (remote reads are continuations there, no worker): "
                            + probe.threads);
            assertEquals(0, cache.stats().activePins());
            ((TieredCache) cache).checkInvariants();
        }
    }

    @Test
    void aListenerOnTheLoadingThreadMayCallTheCacheAndBlock() throws Exception {
        Path file = dir.resolve("listener.slots");
        try (KvTierCache cache = ssd(file).build()) {
            WarmRestartTest.storeAll(cache, List.<BlockKey[]>of(CHAIN), BLOCK);
            assertEquals(CHAIN.length, cache.flush(Duration.ofSeconds(30)));
        }
        try (KvTierCache cache = ssd(file).build()) {
            PrefixMatch m = cache.match(CHAIN);
            assertEquals(CHAIN.length, m.hitBlocks(Tier.SSD), "recovered on the SSD only");
            loadThroughProbe(cache, m, null);
            cache.awaitIdle();
            PrefixMatch fromDram = cache.match(CHAIN);
            assertEquals(CHAIN.length, fromDram.hitBlocks(Tier.DRAM), "promoted: " + cache.stats());
            Probe probe = loadThroughProbe(cache, fromDram, null);
            assertEquals(List.of(Thread.currentThread().getName()), probe.threads.stream().distinct().toList(),
                    "DRAM blocks are heard on the loading thread");
            assertEquals(CHAIN.length, probe.heard.size(), "one call per DRAM block, each before the next copy");
            ((TieredCache) cache).checkInvariants();
        }
    }

    @Test
    void aListenerMayCancelItsOwnLoadFromAnotherThreadAndWaitForIt() throws Exception {
        try (KvTierCache cache = remote(server.uri()).build()) {
            PrefixMatch m = cache.match(CHAIN);
            assertEquals(CHAIN.length, m.hitBlocks(Tier.REMOTE));
            AtomicReference<CompletableFuture<Integer>> load = new AtomicReference<>();
            List<Integer> heard = new CopyOnWriteArrayList<>();
            AtomicBoolean cancelled = new AtomicBoolean();
            AtomicBoolean cancelWaited = new AtomicBoolean();
            CountDownLatch returned = new CountDownLatch(1);
            CompletableFuture<Integer> f = cache.load(m, poisoned(), n -> {
                heard.add(n);
                CompletableFuture<Integer> self = awaitSet(load);
                Thread canceller = new Thread(() -> cancelled.set(self.cancel(false)), "canceller");
                canceller.start();
                try {
                    canceller.join(10_000); // the cancel's cleanup takes the load's lock
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                cancelWaited.set(canceller.isAlive());
                returned.countDown();
            }, null);
            load.set(f);
            assertTrue(returned.await(30, TimeUnit.SECONDS), "the listener returned");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            assertFalse(cancelWaited.get(), "the cancel waited for the lock the listener held");
            assertTrue(f.isCancelled() && cancelled.get());
            while (cache.stats().activePins() > 0 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertEquals(0, cache.stats().activePins(), "released once the reads finished");
            assertEquals(1, heard.size(), "no call after the cancel: " + heard);
            ((TieredCache) cache).checkInvariants();
        }
    }

    @Test
    void aDeadlineCompletionWaitsForACallInProgress() throws Exception {
        for (int round = 0; round < 3; round++) {
            try (KvTierCache cache = remote(server.uri()).build()) { // a new one each round: the blocks only on the export
                PrefixMatch m = cache.match(CHAIN);
                assertEquals(CHAIN.length, m.hitBlocks(Tier.REMOTE));
                loadThroughProbe(cache, m, Duration.ofMillis(75));
                cache.awaitIdle();
                ((TieredCache) cache).checkInvariants();
            }
        }
    }

    /** What a probing listener saw. */
    private static final class Probe {
        final List<Integer> heard = new CopyOnWriteArrayList<>();
        final List<String> threads = new CopyOnWriteArrayList<>();
        final List<String> problems = new CopyOnWriteArrayList<>();
    }

    /**
     * Loads {@code m} with a listener that checks order, exclusion and completion, copies and
     * verifies the blocks it hears of, calls the cache and sleeps; returns what it saw once the
     * future completed, asserting the invariants.
     */
    private static Probe loadThroughProbe(KvTierCache cache, PrefixMatch m, Duration deadline) throws Exception {
        BlockKey[] other = NS.keysFromHashes(new long[] {100, 101});
        if (cache.match(other).hitBlocks(Tier.DRAM) < other.length) {
            WarmRestartTest.storeAll(cache, List.<BlockKey[]>of(other), BLOCK);
        }
        Probe probe = new Probe();
        AtomicInteger inCall = new AtomicInteger();
        AtomicBoolean completed = new AtomicBoolean();
        AtomicInteger fresh = new AtomicInteger(1_000 + (int) (System.nanoTime() & 0xFFFF) * 100);
        ByteBuffer[] dst = poisoned();
        ByteBuffer copy = ByteBuffer.allocateDirect(BLOCK);
        ByteBuffer[] scratch = new ByteBuffer[] {ByteBuffer.allocateDirect(BLOCK), ByteBuffer.allocateDirect(BLOCK)};
        LoadListener listener = n -> {
            if (inCall.incrementAndGet() != 1) {
                probe.problems.add("two calls at once");
            }
            if (completed.get()) {
                probe.problems.add("heard " + n + " after the future completed");
            }
            int before = probe.heard.isEmpty() ? 0 : probe.heard.get(probe.heard.size() - 1);
            if (n <= before) {
                probe.problems.add("heard " + n + " after " + before);
            }
            probe.heard.add(n);
            probe.threads.add(Thread.currentThread().getName());
            for (int i = before; i < n; i++) { // what a server does: copy the blocks it heard of
                copy.clear().put(dst[i].duplicate().clear()).flip();
                if (SsdFixtures.firstWrongByte(copy, CHAIN[i]) >= 0) {
                    probe.problems.add("block " + i + " not in place when " + n + " was heard");
                }
            }
            // call back into the cache
            if (cache.match(other).hitBlocks() != other.length) {
                probe.problems.add("match from the listener");
            }
            if (cache.load(cache.match(other), scratch).join() != other.length) {
                probe.problems.add("a DRAM load joined in the listener");
            }
            BlockKey[] mine = NS.keysFromHashes(new long[] {fresh.incrementAndGet()});
            cache.store(mine, new ByteBuffer[] {SsdFixtures.payload(mine[0], BLOCK)});
            try (BlockHandle h = cache.acquire(other[0])) {
                if (h == null) {
                    probe.problems.add("acquire from the listener");
                }
            }
            assertNotNull(cache.stats());
            try {
                Thread.sleep(5); // block briefly
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            inCall.decrementAndGet();
        };
        CompletableFuture<Integer> f = cache.load(m, dst, listener, deadline);
        f.whenComplete((v, e) -> completed.set(true));
        int n = f.get(60, TimeUnit.SECONDS); // no deadlock
        assertEquals(List.of(), probe.problems);
        if (deadline == null) {
            assertEquals(m.hitBlocks(), n, "every block arrived");
        }
        if (n > 0) {
            assertEquals(n, probe.heard.get(probe.heard.size() - 1), "the last call heard the future's value");
        } else {
            assertEquals(List.of(), probe.heard);
        }
        for (int i = 0; i < n; i++) {
            assertEquals(-1, SsdFixtures.firstWrongByte(dst[i].clear(), CHAIN[i]), "block " + i);
        }
        return probe;
    }

    private static <T> T awaitSet(AtomicReference<T> ref) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (ref.get() == null && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        return ref.get();
    }

    private static KvTierCacheBuilder remote(URI uri) {
        return KvTierCache.builder().blockTokens(SsdFixtures.TOKENS).blockBytes(BLOCK).dramCapacityBytes(64L * BLOCK)
                .remote(RemoteTier.builder(uri, REMOTE_BYTES).ways(4).timeout(Duration.ofSeconds(10))
                        .recheckAfter(Duration.ZERO).lookupBudget(Duration.ofSeconds(10)).build()).flushOnClose(Duration.ZERO);
    }

    private static KvTierCacheBuilder ssd(Path file) {
        return SsdFixtures.builder(file, BLOCK, 64, 4 * CHAIN.length, false, Compression.NONE);
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
