package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.key.BlockKey;
import dev.kvtier.nbd.NbdServer;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * An NBD server that restarts blank (a memory-backed export, killed and started again) is
 * noticed within about a second and re-attached: the running cache formats it (or adopts the
 * format of a server that was first), forgets the blocks it believed were there, and from then
 * on shares the device with servers attaching afterwards. Before, it went on writing under its
 * old device id, and neither it nor a newcomer ever found the other's blocks.
 */
class RestartedBlankServerTest {
    private static final long BYTES = 16L << 20;

    @Test
    void aServerRestartedBlankIsReattachedAsOneSharedDevice() throws Exception {
        try (NbdServer server = NbdServer.nbdkit("memory", "32M");
                KvTierCache a = builder(server).build()) {
            List<BlockKey[]> chains = RemoteTierTest.chains("restarted", 4, 4);
            store(a, chains.get(0));
            store(a, chains.get(3)); // pushes chain 0 out of DRAM: it is on the export only
            assertEquals(4, a.match(chains.get(0)).hitBlocks(Tier.REMOTE), a.stats().toString());
            server.restart(); // blank memory, same port
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (a.match(chains.get(0)).hitBlocks() > 0 && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertEquals(0, a.match(chains.get(0)).hitBlocks(), "the blocks of the export's last life are forgotten: "
                    + a.stats());
            store(a, chains.get(1));
            try (KvTierCache b = builder(server).build()) {
                assertEquals(4, b.match(chains.get(1)).hitBlocks(Tier.REMOTE), "a newcomer finds what the running "
                        + "cache wrote after the restart: " + b.stats());
                store(b, chains.get(2));
                assertEquals(4, a.match(chains.get(2)).hitBlocks(Tier.REMOTE), "and the running cache the newcomer's: "
                        + a.stats());
            }
        }
    }

    private static void store(KvTierCache c, BlockKey[] keys) {
        assertEquals(keys.length, c.store(keys, RemoteTierTest.filled(keys)));
        c.flush(Duration.ofSeconds(30));
        assertTrue(c.stats().storedBlocks(Tier.REMOTE) > 0);
    }

    private static KvTierCacheBuilder builder(NbdServer server) {
        return RemoteWorker.builder(RemoteWorker.remote(server.uri(), BYTES).timeout(Duration.ofSeconds(1)))
                .dramCapacityBytes(4L * RemoteWorker.BLOCK).storeWait(Duration.ofSeconds(10));
    }
}
