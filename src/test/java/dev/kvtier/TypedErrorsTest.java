package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.key.BlockKey;
import dev.kvtier.nbd.NbdServer;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A server can act on what {@code build()} and a closed cache throw without parsing messages:
 * a device it cannot reach, a device in another format (each naming its tier), a closed cache.
 */
class TypedErrorsTest {
    @TempDir(factory = TargetTempDir.class)
    Path dir;

    @Test
    void anNbdServerThatDoesNotAnswerIsAnUnavailableRemoteTier() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort(); // closed again: nothing listens there
        }
        DeviceUnavailableException e = assertThrows(DeviceUnavailableException.class, () -> RemoteWorker.builder(
                RemoteWorker.remote(URI.create("nbd://127.0.0.1:" + port + "/"), 8L << 20).timeout(Duration.ofSeconds(1))).build());
        assertEquals(Tier.REMOTE, e.tier());
        try (KvTierCache withoutIt = KvTierCache.builder().blockTokens(SsdFixtures.TOKENS).blockBytes(RemoteWorker.BLOCK)
                .dramCapacityBytes(4L * RemoteWorker.BLOCK).build()) {
            assertEquals(0, withoutIt.stats().capacityBlocks(Tier.REMOTE), "the server starts without that tier");
        }
    }

    @Test
    void anSsdFileOfAnotherBlockSizeIsAnIncompatibleSsdTier() {
        Path file = dir.resolve("other.slots");
        SsdFixtures.builder(file, 4096, 4, 16, false, Compression.NONE).build().close();
        DeviceIncompatibleException e = assertThrows(DeviceIncompatibleException.class,
                () -> SsdFixtures.builder(file, 8192, 4, 8, false, Compression.NONE).build());
        assertEquals(Tier.SSD, e.tier());
        assertTrue(e.getMessage().contains("reinitialize"), e.getMessage());
    }

    @Test
    void aSealedExportWithoutTheSecretIsAnIncompatibleRemoteTier() throws Exception {
        byte[] secret = "typed errors test secret, 32 B!!".getBytes(StandardCharsets.US_ASCII);
        try (NbdServer server = NbdServer.nbdkit("memory", "16M")) {
            RemoteWorker.builder(RemoteWorker.remote(server.uri(), 8L << 20).secret(secret)).build().close();
            DeviceIncompatibleException e = assertThrows(DeviceIncompatibleException.class,
                    () -> RemoteWorker.builder(server.uri(), 8L << 20).build());
            assertEquals(Tier.REMOTE, e.tier());
        }
    }

    /** The geometry is stored on the export: a server with other ways or another capacity is refused, naming it. */
    @Test
    void anExportOfAnotherGeometryIsAnIncompatibleRemoteTier() throws Exception {
        try (NbdServer server = NbdServer.nbdkit("memory", "16M")) {
            RemoteWorker.builder(RemoteWorker.remote(server.uri(), 8L << 20).ways(4)).build().close();
            DeviceIncompatibleException ways = assertThrows(DeviceIncompatibleException.class,
                    () -> RemoteWorker.builder(RemoteWorker.remote(server.uri(), 8L << 20).ways(8)).build());
            assertEquals(Tier.REMOTE, ways.tier());
            assertTrue(ways.getMessage().contains("sets of 4, this cache uses 8"), ways.getMessage());
            DeviceIncompatibleException size = assertThrows(DeviceIncompatibleException.class,
                    () -> RemoteWorker.builder(RemoteWorker.remote(server.uri(), 4L << 20).ways(4)).build());
            assertTrue(size.getMessage().contains("slots, this cache is configured for"), size.getMessage());
        }
    }

    /**
     * Without ways set, a cache takes an export's own ways and formats a blank one with
     * {@value RemoteTier#DEFAULT_WAYS}, or, listed before or after formatted ones, with theirs;
     * exports of one tier with different ways are refused, naming both, before any is formatted.
     */
    @Test
    void unsetWaysAreTheExportsOwn() throws Exception {
        try (NbdServer four = NbdServer.nbdkit("memory", "16M"); NbdServer blank = NbdServer.nbdkit("memory", "16M");
                NbdServer first = NbdServer.nbdkit("memory", "16M"); NbdServer untouched = NbdServer.nbdkit("memory", "16M")) {
            RemoteWorker.builder(RemoteWorker.remote(four.uri(), 8L << 20).ways(4)).build().close();
            RemoteWorker.builder(RemoteTier.builder(four.uri(), 8L << 20)).build().close();
            RemoteWorker.builder(RemoteTier.builder(blank.uri(), 8L << 20)).build().close();
            DeviceIncompatibleException sixteen = assertThrows(DeviceIncompatibleException.class,
                    () -> RemoteWorker.builder(RemoteWorker.remote(blank.uri(), 8L << 20).ways(4)).build());
            assertTrue(sixteen.getMessage().contains("sets of " + RemoteTier.DEFAULT_WAYS + ", this cache uses 4"),
                    sixteen.getMessage());
            DeviceIncompatibleException mixed = assertThrows(DeviceIncompatibleException.class,
                    () -> RemoteWorker.builder(RemoteTier.builder(List.of(four.uri(), blank.uri()), 8L << 20)).build());
            assertTrue(mixed.getMessage().contains("in sets of 4; the exports of one remote tier must have the same ways"),
                    mixed.getMessage());
            assertThrows(DeviceIncompatibleException.class, () -> RemoteWorker.builder(
                    RemoteTier.builder(List.of(untouched.uri(), four.uri(), blank.uri()), 8L << 20)).build());
            RemoteWorker.builder(RemoteWorker.remote(untouched.uri(), 8L << 20).ways(8)).build().close(); // still blank
            RemoteWorker.builder(RemoteTier.builder(List.of(first.uri(), four.uri()), 8L << 20)).build().close();
            RemoteWorker.builder(RemoteWorker.remote(first.uri(), 8L << 20).ways(4)).build().close(); // took four's ways
        }
    }

    @Test
    void aClosedCacheSaysSo() {
        KvTierCache cache = KvTierCache.builder().blockTokens(16).blockBytes(64).dramCapacityBytes(64 * 64).build();
        BlockKey[] keys = SsdFixtures.namespace("closed").keysFromHashes(new long[] {1});
        cache.close();
        assertThrows(CacheClosedException.class, () -> cache.match(keys));
        assertThrows(CacheClosedException.class, () -> cache.awaitIdle());
    }
}
