package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.key.BlockKey;
import dev.kvtier.nbd.NbdServer;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A stalled server (SIGSTOP) never holds a load longer than {@code remoteTimeoutMillis} plus a
 * margin, queue wait and reconnect handshakes included: every device request runs under the
 * deadline of its submission ({@code RequestDeadline}). Each episode starts a load that fills the
 * engine's readers, then half a timeout later a second one whose reads wait behind them and then
 * find the connections closed and must reconnect to a server that does not answer (before, that
 * second load took up to two and a half timeouts).
 */
class StalledServerTest {
    private static final long TIMEOUT_MS = 1_000;
    /** Scheduling on a loaded 2-core machine, and the watchdog's tick. */
    private static final long MARGIN_MS = 500;
    /** Three times the reads the engine runs at once (2 connections, 8 in flight): most wait in its queue. */
    private static final int CHAIN = 24;

    /**
     * SIGSTOP, restarting the server first if it exited; returns once the kernel shows it stopped
     * ({@code kill} returns before it is). A server that exits meanwhile (a broken pipe from the
     * last episode's closed connection) is restarted and stopped again.
     */
    private static void stop(NbdServer server) throws Exception {
        for (int attempt = 0; ; attempt++) {
            if (!server.isAlive()) {
                server.restart();
            }
            try {
                server.signal("STOP");
                if (server.awaitStopped()) {
                    return;
                }
            } catch (java.io.IOException e) { // it exited meanwhile
                if (attempt == 2) {
                    throw e;
                }
            }
            if (attempt == 2) {
                throw new AssertionError("nbdkit did not stay stopped: " + server.output());
            }
        }
    }

    @TempDir(factory = TargetTempDir.class)
    java.nio.file.Path dir;

    @Test
    void aLoadFromAStalledServerEndsWithinTheTimeout() throws Exception {
        java.nio.file.Path disk = dir.resolve("export.img");
        java.nio.file.Files.write(disk, new byte[0]);
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(disk,
                java.nio.file.StandardOpenOption.WRITE)) {
            ch.truncate(0).write(ByteBuffer.allocate(1), (64L << 20) - 1);
        }
        // file-backed: nbdkit may exit on a broken pipe when a timed-out client closes, and comes back with its data
        try (NbdServer server = NbdServer.nbdkit("file", disk.toString());
                KvTierCache cache = RemoteWorker.builder(RemoteWorker.remote(server.uri(), 64L << 20)
                        .timeout(Duration.ofMillis(TIMEOUT_MS)).connections(2))
                        .dramCapacityBytes(2L * RemoteWorker.BLOCK).storeWait(Duration.ofSeconds(10)).build()) {
            List<BlockKey[]> chains = RemoteTierTest.chains("stalled", 6, CHAIN);
            for (BlockKey[] keys : chains) {
                assertEquals(CHAIN, cache.store(keys, RemoteTierTest.filled(keys)));
            }
            cache.flush(java.time.Duration.ofSeconds(30));
            List<Long> stalled = new ArrayList<>();
            for (int episode = 0; episode < 3; episode++) {
                BlockKey[] first = chains.get(2 * episode);
                BlockKey[] second = chains.get(2 * episode + 1);
                PrefixMatch m1 = cache.match(first);
                PrefixMatch m2 = cache.match(second);
                assertEquals(CHAIN, m1.hitBlocks(Tier.REMOTE) + m2.hitBlocks(Tier.REMOTE) - CHAIN, cache.stats().toString());
                stop(server);
                try {
                    // the first load fills the engine's readers; the second's reads wait behind them,
                    // then find the connections closed and reconnect to a server that does not answer
                    java.util.concurrent.CompletableFuture<Integer> a = cache.load(m1, RemoteTierTest.empty(CHAIN));
                    Thread.sleep(TIMEOUT_MS / 2);
                    long t0 = System.nanoTime();
                    int loaded = cache.load(m2, RemoteTierTest.empty(CHAIN)).join();
                    stalled.add((System.nanoTime() - t0) / 1_000_000);
                    assertEquals(0, loaded + a.join(), "nothing arrives from a stopped server: " + cache.stats());
                } finally {
                    server.signal("CONT");
                }
            }
            long worst = stalled.stream().mapToLong(Long::longValue).max().orElseThrow();
            assertTrue(worst <= TIMEOUT_MS + MARGIN_MS, "loads during a stall took " + stalled + " ms, timeout "
                    + TIMEOUT_MS);
        }
    }
}
