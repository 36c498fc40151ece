package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.kvtier.key.BlockKey;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kill -9 at random moments: a child JVM ({@link CrashWorker}) runs prompts against a DRAM + SSD
 * cache, storing, demoting, evicting and reusing slots, and verifying every block it loads; the
 * test kills it with SIGKILL 300-1500 ms after it opened the cache, opens the same file itself
 * and checks every block it can find, then starts the next worker on the file. Zero wrong bytes
 * anywhere, in the parent or in any child; no read that fails its checks (the write protocol
 * leaves nothing half-written behind a valid header); and the SSD keeps blocks across most
 * kills. 4 cycles per device kind by default, 50 with {@code -Dkvtier.soak=true}.
 */
class CrashRecoveryTest {
    private static final boolean SOAK = Boolean.getBoolean("kvtier.soak");
    private static final int CYCLES = SOAK ? 50 : 4;
    private static final long OPEN_GUARD_SECONDS = 60;

    @TempDir(factory = TargetTempDir.class)
    Path dir;

    @Test
    void aMappedFileServesExactBytesAfterEveryKill() throws Exception {
        run(false, new Compression[] {Compression.NONE, Compression.LZ4_SHUFFLE2, Compression.LZ4});
    }

    @Test
    void anODirectFileServesExactBytesAfterEveryKill() throws Exception {
        run(true, new Compression[] {Compression.NONE, Compression.LZ4_SHUFFLE2});
    }

    private void run(boolean direct, Compression[] compressions) throws Exception {
        Path file = dir.resolve("crash.slots");
        long seed = Long.getLong("kvtier.crash.seed", System.nanoTime());
        Random rnd = new Random(seed);
        String context = "seed " + seed + " (rerun with -Dkvtier.crash.seed=" + seed + ")";
        List<BlockKey[]> chains = new CrashWorkload(0).chains();
        int cyclesWithRecoveredBlocks = 0;
        long verified = 0;
        List<String> summary = new ArrayList<>();
        for (int cycle = 0; cycle < CYCLES; cycle++) {
            Compression c = compressions[cycle % compressions.length];
            long killAfterMs = 300 + rnd.nextInt(1201);
            List<String> out = runAndKill(file, direct, c, rnd.nextLong(), killAfterMs, context + ", cycle " + cycle);
            String progress = out.stream().filter(l -> l.startsWith("PROGRESS")).reduce((a, b) -> b).orElse("-");
            if (!progress.equals("-")) {
                assertTrue(!progress.contains(" storedSsd=0 ") && progress.endsWith(" demoteFailed=0"),
                        "the worker's demotions failed on a healthy disk: " + progress + "; " + context);
            }
            try (KvTierCache cache = CrashWorker.builder(file, direct, c).build()) {
                CacheStats opened = cache.stats();
                long recovered = opened.recoveredBlocks(Tier.SSD);
                cyclesWithRecoveredBlocks += recovered > 0 ? 1 : 0;
                long served = verifyAll(cache, chains, context + ", cycle " + cycle);
                verified += served;
                CacheStats s = cache.stats();
                assertEquals(0, s.corruptBlocks(Tier.SSD), "a read failed its checks after a kill: " + context
                        + "; " + s);
                assertEquals(0, s.mismatchedBlocks(Tier.SSD), "an index entry named the wrong slot: " + context);
                assertEquals(0, s.readErrors(Tier.SSD), context);
                assertEquals(0, s.loadLostBlocks(), "every matched block loads: " + context + "; " + s);
                if (recovered > 0) {
                    assertTrue(served > 0, "recovered blocks are served: " + context + "; " + s);
                }
                ((TieredCache) cache).checkInvariants();
                summary.add("cycle " + cycle + " " + c + " killed after " + killAfterMs + " ms: recovered " + recovered
                        + ", discarded " + opened.recoveryDiscardedSlots(Tier.SSD) + ", served " + served + "; "
                        + progress);
            }
        }
        String report = context + "\n" + String.join("\n", summary);
        System.out.println((direct ? "O_DIRECT" : "mapped") + " crash cycles, " + report);
        assertTrue(cyclesWithRecoveredBlocks * 2 >= CYCLES, "blocks survived too few kills: " + report);
        assertTrue(verified > 0, report);
    }

    /** Starts a worker, kills it {@code killAfterMs} after it opened the cache, returns what it printed. */
    private List<String> runAndKill(Path file, boolean direct, Compression c, long seed, long killAfterMs,
            String context) throws Exception {
        List<String> flags = ChildJvm.cacheFlags();
        flags.add("-Xmx128m");
        flags.add("-XX:+UseSerialGC");
        Process p = ChildJvm.start(flags, CrashWorker.class, file.toString(), direct ? "direct" : "mapped", c.name(),
                String.valueOf(seed));
        List<String> lines = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch opened = new CountDownLatch(1);
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(),
                    StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    lines.add(line);
                    if (line.startsWith("OPENED")) {
                        opened.countDown();
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } finally {
                opened.countDown();
            }
        }, "crash-worker-output");
        reader.start();
        try {
            if (!opened.await(OPEN_GUARD_SECONDS, TimeUnit.SECONDS)) {
                fail("the worker did not open its cache: " + context + "\n" + String.join("\n", lines));
            }
            if (p.isAlive()) {
                Thread.sleep(killAfterMs);
            }
            boolean wasAlive = p.isAlive();
            p.destroyForcibly();
            int exit = p.waitFor();
            reader.join();
            String output = String.join("\n", lines);
            for (String line : lines) {
                assertFalse(line.startsWith("FAIL"), "the worker loaded a wrong block: " + context + "\n" + output);
            }
            assertTrue(wasAlive && exit == 137, "the worker died before it was killed (exit " + exit + "): "
                    + context + "\n" + output);
            assertTrue(lines.stream().anyMatch(l -> l.startsWith("OPENED")), output);
            return lines;
        } finally {
            p.destroyForcibly();
        }
    }

    /** Matches and loads every chain; every block loaded must be exact. Returns how many were loaded. */
    private static long verifyAll(KvTierCache cache, List<BlockKey[]> chains, String context) {
        ByteBuffer[] dst = new ByteBuffer[CrashWorkload.MAX_BLOCKS];
        for (int i = 0; i < dst.length; i++) {
            dst[i] = ByteBuffer.allocateDirect(CrashWorker.BLOCK);
        }
        long served = 0;
        for (BlockKey[] chain : chains) {
            PrefixMatch m = cache.match(chain);
            int n = cache.load(m, dst).join();
            for (int i = 0; i < n; i++) {
                int wrong = SsdFixtures.firstWrongByte(dst[i].clear(), chain[i]);
                assertEquals(-1, wrong, "wrong byte in block " + i + " (" + m.tier(i) + ") after a kill: " + context);
            }
            served += n;
        }
        return served;
    }
}
