package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.format.DeviceLayout;
import dev.kvtier.key.BlockKey;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import dev.kvtier.nbd.NbdServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The SSD file truncated by another process (to its superblock) under a running cache, with
 * 100 blocks on the SSD only, a chain in DRAM and a chain whose first blocks were promoted to
 * DRAM: a failed tier, not a hung cache. Loads complete (a preemptive timeout would fail a
 * hang) with the leading blocks delivered before the first SSD block, every one exact; the
 * first failed read forgets every SSD copy at once (the other chains then miss without a read);
 * the DRAM chain loads whole; chains the SSD lost can be stored again and load whole from DRAM; new
 * stores succeed and nothing more is written to the SSD; {@code flush}, {@code awaitIdle} and
 * {@code close} return; the counters and the SSD's failed flag show it, the file is never
 * extended again, and the fault is logged once. On a page-cache file and an O_DIRECT one.
 * Before the fix, on JDK 17 the mapped file's I/O threads died of {@code InternalError} (SIGBUS,
 * reported after the copy) and the first load never completed; on an O_DIRECT file, and on JDK
 * 25, the blocks the SSD lost stayed in the index, so storing them again stored nothing.
 */
class TruncatedSsdFileTest {
    static final int CHAIN = WarmRestartTest.BLOCKS_PER_CHAIN;
    static final int PROMOTED = 4;

    @TempDir(factory = TargetTempDir.class)
    Path dir;

    @ParameterizedTest(name = "direct {0}")
    @ValueSource(booleans = {false, true})
    void aTruncatedSsdFileFailsItsTierAndTheCacheGoesOn(boolean direct) throws Exception {
        Path file = dir.resolve("truncated.slots");
        List<BlockKey[]> onSsd = WarmRestartTest.chains("ssd");
        try (KvTierCache cache = WarmRestartTest.builder(file, 128, direct).build()) {
            assertEquals(onSsd.size() * CHAIN, WarmRestartTest.storeAll(cache, onSsd));
        }
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        PrintStream err = System.err;
        KvTierCache cache = WarmRestartTest.builder(file, 32, direct).build();
        try {
            // everything, the close too, under the timeout: a hung cache fails the test, not the run
            assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
                assertEquals(onSsd.size() * CHAIN, cache.stats().recoveredBlocks(Tier.SSD));
                BlockKey[] inDram = WarmRestartTest.chains("dram").get(0);
                assertEquals(CHAIN, WarmRestartTest.storeAll(cache, List.<BlockKey[]>of(inDram)));
                BlockKey[] promoted = onSsd.get(0);
                assertEquals(PROMOTED, load(cache, Arrays.copyOf(promoted, PROMOTED)));
                cache.awaitIdle(); // promotions done; no demotion in flight: none can extend the file it truncates
                assertEquals(PROMOTED, cache.match(promoted).hitBlocks(Tier.DRAM));
                long storedOnSsd = cache.stats().storedBlocks(Tier.SSD);
                System.setErr(new PrintStream(new Tee(err, log), true, StandardCharsets.UTF_8));
                truncate(file, DeviceLayout.SUPERBLOCK_BYTES);

                assertEquals(PROMOTED, load(cache, promoted), "the DRAM prefix, then a miss");
                for (BlockKey[] chain : onSsd.subList(1, onSsd.size())) {
                    assertEquals(0, load(cache, chain));
                }
                assertTrue(cache.stats().deviceIo(Tier.SSD).failed());
                assertEquals(CHAIN, load(cache, inDram), "DRAM goes on serving");
                for (BlockKey[] chain : onSsd) {
                    int stored = WarmRestartTest.storeAll(cache, List.<BlockKey[]>of(chain));
                    assertEquals(chain == promoted ? CHAIN - PROMOTED : CHAIN, stored,
                            "the lost blocks are stored again");
                    assertEquals(CHAIN, load(cache, chain), "and load from DRAM");
                }
                List<BlockKey[]> more = WarmRestartTest.chains("more");
                assertEquals(more.size() * CHAIN, WarmRestartTest.storeAll(cache, more));
                cache.awaitIdle();
                cache.flush(Duration.ofSeconds(5));
                cache.close();
                CacheStats s = cache.stats();
                assertEquals(1, s.readErrors(Tier.SSD), "one failed read: then the tier's copies were forgotten");
                assertEquals(0, s.residentBlocks(Tier.SSD), "no block is believed to be on the failed SSD");
                assertEquals(storedOnSsd, s.storedBlocks(Tier.SSD), "nothing was written to the truncated file");
            });
        } finally {
            System.setErr(err);
        }
        assertEquals(DeviceLayout.SUPERBLOCK_BYTES, Files.size(file), "no write extended the truncated file");
        String logged = log.toString(StandardCharsets.UTF_8);
        assertEquals(1, logged.split("probably truncated", -1).length - 1, "logged once:\n" + logged);
        assertTrue(!logged.contains("Exception in thread"), logged);
    }

    /** Matches and loads {@code chain} into poisoned buffers; every block delivered must be exact. */
    /** With a remote tier beside the failed SSD, DRAM writes down to the remote tier from then on. */
    @Test
    void afterTheSsdFailsDramWritesDownToTheRemoteTier() throws Exception {
        Path file = dir.resolve("failing.slots");
        List<BlockKey[]> first = WarmRestartTest.chains("before");
        try (NbdServer server = NbdServer.nbdkit("memory", "64M");
                KvTierCache cache = WarmRestartTest.builder(file, 32, false).storeWait(Duration.ofSeconds(30)) // nothing dropped
                        .remote(RemoteTier.builder(server.uri(), KvTierCacheBuilder.deviceBytesFor(256, WarmRestartTest.BLOCK)).build()).build()) {
            assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
                WarmRestartTest.storeAll(cache, first);
                cache.flush(Duration.ofSeconds(10));
                truncate(file, DeviceLayout.SUPERBLOCK_BYTES);
                for (BlockKey[] chain : first) {
                    load(cache, chain); // the first SSD read fails the tier
                }
                assertTrue(cache.stats().deviceIo(Tier.SSD).failed(), "the truncation failed the SSD: " + cache.stats());
                assertEquals(0, cache.stats().residentBlocks(Tier.SSD), "its copies are forgotten: " + cache.stats());
                long remoteBefore = cache.stats().storedBlocks(Tier.REMOTE);
                List<BlockKey[]> after = WarmRestartTest.chains("after");
                WarmRestartTest.storeAll(cache, after);
                cache.flush(Duration.ofSeconds(10));
                assertTrue(cache.stats().storedBlocks(Tier.REMOTE) > remoteBefore,
                        "the blocks stored after the failure went to the remote tier: " + cache.stats());
                ((TieredCache) cache).checkInvariants();
            });
        }
    }

    private static int load(KvTierCache cache, BlockKey[] chain) {
        return WarmRestartTest.loadAll(cache, List.<BlockKey[]>of(chain));
    }

    static void truncate(Path file, long bytes) throws Exception {
        Process p = new ProcessBuilder("truncate", "-s", String.valueOf(bytes), file.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        assertEquals(bytes, Files.size(file));
    }

    /** Writes to two streams. */
    private static final class Tee extends OutputStream {
        private final OutputStream a;
        private final OutputStream b;

        Tee(OutputStream a, OutputStream b) {
            this.a = a;
            this.b = b;
        }

        @Override
        public synchronized void write(int c) throws IOException {
            a.write(c);
            b.write(c);
        }

        @Override
        public synchronized void write(byte[] buf, int off, int len) throws IOException {
            a.write(buf, off, len);
            b.write(buf, off, len);
        }
    }
}
