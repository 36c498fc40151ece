package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kvtier.key.BlockKey;
import dev.kvtier.nbd.NbdServer;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * Two servers attaching one blank export at the same moment both format it; before, each kept
 * its own creation id and took the other's slots for stale, so neither ever found the other's
 * blocks. Now a server that formatted a shared device reads the superblock back after a settle
 * time and adopts the one that won: both share one device.
 */
class BlankExportRaceTest {
    private static final long BYTES = 8L << 20;

    @Test
    void twoServersFormattingOneBlankExportAtOnceShareIt() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            for (int attempt = 0; attempt < 3; attempt++) {
                try (NbdServer server = NbdServer.nbdkit("memory", "16M")) {
                    CyclicBarrier together = new CyclicBarrier(2);
                    Callable<KvTierCache> attach = () -> {
                        together.await();
                        return RemoteWorker.builder(server.uri(), BYTES).build();
                    };
                    Future<KvTierCache> fa = pool.submit(attach);
                    Future<KvTierCache> fb = pool.submit(attach);
                    try (KvTierCache a = fa.get(); KvTierCache b = fb.get()) {
                        List<BlockKey[]> chains = RemoteTierTest.chains("race-" + attempt, 2, 4);
                        a.store(chains.get(0), RemoteTierTest.filled(chains.get(0)));
                        b.store(chains.get(1), RemoteTierTest.filled(chains.get(1)));
                        a.awaitIdle();
                        b.awaitIdle();
                        a.flush(java.time.Duration.ofSeconds(10));
                        b.flush(java.time.Duration.ofSeconds(10));
                        assertEquals(4, b.match(chains.get(0)).hitBlocks(Tier.REMOTE), "b finds a's blocks: " + b.stats());
                        assertEquals(4, a.match(chains.get(1)).hitBlocks(Tier.REMOTE), "a finds b's blocks: " + a.stats());
                    }
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
