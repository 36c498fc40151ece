package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.key.BlockKey;
import dev.kvtier.nbd.NbdServer;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Remote loads run as continuations on the NBD connections' reader threads (no engine worker)
 * and read straight into the caller's buffers (a load without a deadline). When their reads
 * fail, the blocks are misses and no byte of a failed read lands in the caller's buffer after
 * the load reported: each buffer is poisoned before the load and compared with its state at
 * the load's end a while later, after the server could have answered.
 *
 * <ul>
 * <li>A server that stops answering (SIGSTOP): the load is a miss at the timeout; then the
 * server resumes and would send its replies, which must not reach the buffers.
 * <li>A server killed while the reads are in flight: a miss at once (the connection's end
 * fails every read on it), not at the timeout.
 * </ul>
 */
@Timeout(120)
class RemoteContinuationTest {
    private static final long TIMEOUT_MS = 1_000;
    private static final int CHAIN = 8;
    private static final byte POISON = (byte) 0xA5;

    @TempDir(factory = TargetTempDir.class)
    Path dir;

    @Test
    void aStalledServersLateRepliesNeverReachTheCallersBuffers() throws Exception {
        try (NbdServer server = NbdServer.nbdkit("file", disk().toString())) {
            BlockKey[] keys = stored(server);
            try (KvTierCache cache = cache(server)) {
                PrefixMatch m = matchedThenStopped(cache, keys, server);
                ByteBuffer[] dst = poisoned();
                long t0 = System.nanoTime();
                int loaded;
                try {
                    loaded = cache.load(m, dst).join();
                } finally {
                    server.signal("CONT");
                }
                long ms = (System.nanoTime() - t0) / 1_000_000;
                assertEquals(0, loaded, "nothing arrives from a stopped server: " + cache.stats());
                assertTrue(ms <= TIMEOUT_MS + 500, "the load took " + ms + " ms, timeout " + TIMEOUT_MS);
                byte[][] atEnd = contents(dst);
                assertPoisoned(atEnd);
                Thread.sleep(500); // the resumed server answers what it read before the stop
                assertUnchanged(atEnd, dst);
            }
        }
    }

    @Test
    void aServerKilledMidReadIsAMissAtOnce() throws Exception {
        try (NbdServer server = NbdServer.nbdkit("file", disk().toString())) {
            BlockKey[] keys = stored(server);
            try (KvTierCache cache = cache(server)) {
                PrefixMatch m = matchedThenStopped(cache, keys, server); // the reads will wait for their replies
                ByteBuffer[] dst = poisoned();
                long t0 = System.nanoTime();
                java.util.concurrent.CompletableFuture<Integer> load = cache.load(m, dst);
                Thread.sleep(100);
                server.kill();
                int loaded = load.join();
                long ms = (System.nanoTime() - t0) / 1_000_000;
                assertEquals(0, loaded, cache.stats().toString());
                assertTrue(ms < TIMEOUT_MS, "a dead connection fails its reads at once; the load took " + ms + " ms");
                byte[][] atEnd = contents(dst);
                Thread.sleep(300);
                assertUnchanged(atEnd, dst);
                assertTrue(cache.stats().readErrors(Tier.REMOTE) > 0, "counted as read errors: " + cache.stats());
            }
        }
    }

    /** Matches {@code keys}, all found on the export, then stops the server (SIGSTOP). */
    private static PrefixMatch matchedThenStopped(KvTierCache cache, BlockKey[] keys, NbdServer server)
            throws Exception {
        PrefixMatch m = cache.match(keys);
        assertEquals(CHAIN, m.hitBlocks(Tier.REMOTE), cache.stats().toString());
        server.signal("STOP");
        assertTrue(server.awaitStopped(), "nbdkit stopped");
        return m;
    }

    private Path disk() throws Exception {
        Path disk = dir.resolve("export.img");
        try (FileChannel ch = FileChannel.open(disk, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(1), (64L << 20) - 1);
        }
        return disk;
    }

    private static KvTierCache cache(NbdServer server) {
        return RemoteWorker.builder(RemoteWorker.remote(server.uri(), 64L << 20)
                        .timeout(Duration.ofMillis(TIMEOUT_MS)).connections(2))
                .dramCapacityBytes(2L * RemoteWorker.BLOCK).storeWait(Duration.ofSeconds(10)).build();
    }

    /**
     * Stores a chain on the export from another cache, closed after, and returns its keys: the
     * cache under test finds every block on the export, none in its DRAM.
     */
    private static BlockKey[] stored(NbdServer server) {
        BlockKey[] keys = RemoteTierTest.chains("continuation", 1, CHAIN).get(0);
        try (KvTierCache writer = cache(server)) {
            assertEquals(CHAIN, writer.store(keys, RemoteTierTest.filled(keys)));
            writer.flush(Duration.ofSeconds(30));
        }
        return keys;
    }

    private static ByteBuffer[] poisoned() {
        ByteBuffer[] b = RemoteTierTest.empty(CHAIN);
        for (ByteBuffer x : b) {
            while (x.hasRemaining()) {
                x.put(POISON);
            }
            x.clear();
        }
        return b;
    }

    private static byte[][] contents(ByteBuffer[] b) {
        byte[][] c = new byte[b.length][];
        for (int i = 0; i < b.length; i++) {
            c[i] = new byte[b[i].capacity()];
            b[i].duplicate().clear().get(c[i]);
        }
        return c;
    }

    private static void assertPoisoned(byte[][] c) {
        for (int i = 0; i < c.length; i++) {
            for (byte x : c[i]) {
                if (x != POISON) {
                    throw new AssertionError("block " + i + " was written though its server was stopped");
                }
            }
        }
    }

    private static void assertUnchanged(byte[][] atEnd, ByteBuffer[] now) {
        byte[][] later = contents(now);
        for (int i = 0; i < atEnd.length; i++) {
            assertTrue(java.util.Arrays.equals(atEnd[i], later[i]), "block " + i + " changed after its load ended");
        }
    }
}
