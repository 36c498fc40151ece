package dev.kvtier;

import static dev.kvtier.SsdFixtures.builder;
import static dev.kvtier.SsdFixtures.payload;
import static dev.kvtier.SsdFixtures.ssdBytes;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The SSD settings of the builder: each bad one refused naming itself; incompatible or busy
 * devices refused with the reason; a reformat only when asked for.
 */
class SsdBuilderTest {
    private static final int BLOCK = 4096;

    @TempDir(factory = TargetTempDir.class)
    Path dir;

    private KvTierCacheBuilder base() {
        return KvTierCache.builder().blockTokens(16).blockBytes(BLOCK).dramCapacityBytes(16 * BLOCK);
    }

    @Test
    void badSsdSettingsAreRefusedNamingTheSetting() throws Exception {
        Path missing = dir.resolve("no-such-dir").resolve("kv.slots");
        expectArgument(base().localSsd(missing, 1 << 20),
                "localSsd: directory " + missing.getParent() + " does not exist");
        Path sub = Files.createDirectory(dir.resolve("sub"));
        expectArgument(base().localSsd(sub, 1 << 20), "localSsd: " + sub + " is a directory; name a file in it");
        expectArgument(base().localSsd(dir.resolve("small"), 4096 + 4096),
                "localSsd capacity (8192 bytes) must hold at least one slot of a 4096-byte block");
        expectArgument(base().localSsd(dir.resolve("small"), 0), "localSsd capacity (0 bytes)");
        expectArgument(base().localSsd(dir.resolve("small"), -1), "localSsd capacity (-1 bytes)");
        expectArgument(base().localSsd(dir.resolve("small"), ssdBytes(1, BLOCK, true) - 1).ssdDirectIo(true),
                "localSsd capacity (" + (ssdBytes(1, BLOCK, true) - 1) + " bytes) must hold at least one slot");
        for (double bad : new double[] {0, -0.5, 1.0001, 2, Double.NaN}) {
            expectArgument(base().localSsd(dir.resolve("x"), 1 << 20).demoteAhead(bad),
                    "demoteAhead must be in (0, 1], was " + bad);
        }
        assertThrows(NullPointerException.class, () -> base().localSsd(null, 1 << 20));
        assertThrows(NullPointerException.class, () -> base().ssdCompression(null));
        assertFalse(Files.exists(dir.resolve("small")), "a refused build creates no file");
        assertFalse(Files.exists(dir.resolve("x")), "a refused build creates no file");
        // the smallest capacities that fit one slot are accepted
        try (KvTierCache c = base().localSsd(dir.resolve("one"), ssdBytes(1, BLOCK, false)).build()) {
            assertEquals(1, c.stats().capacityBlocks(Tier.SSD));
        }
        try (KvTierCache c = base().localSsd(dir.resolve("one-direct"), ssdBytes(1, BLOCK, true)).ssdDirectIo(true)
                .build()) {
            assertEquals(1, c.stats().capacityBlocks(Tier.SSD));
        }
        try (KvTierCache c = base().localSsd(dir.resolve("ahead"), 1 << 20).demoteAhead(1).build()) {
            assertEquals(0, c.stats().recoveredBlocks(Tier.SSD));
        }
    }

    private static void expectArgument(KvTierCacheBuilder b, String message) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, b::build, message);
        assertTrue(e.getMessage().contains(message), "expected \"" + message + "\" in: " + e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void aFileWrittenWithAnotherBlockSizeIsRefusedOrReinitialized(boolean direct) {
        Path file = dir.resolve("kv.slots");
        Namespace ns = SsdFixtures.namespace("builder");
        BlockKey[] keys = ns.keysFromHashes(new long[] {1, 2, 3, 4, 5, 6});
        try (KvTierCache c = builder(file, BLOCK, 8, 64, direct, Compression.NONE).demoteAhead(1).build()) {
            assertEquals(6, c.store(keys, buffers(keys, 0, 6)));
            c.awaitIdle();
            assertEquals(6, c.stats().storedBlocks(Tier.SSD), c.stats().toString());
        }
        long size = ssdBytes(64, BLOCK, direct);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> KvTierCache.builder().blockTokens(16)
                .blockBytes(2 * BLOCK).dramCapacityBytes(8 * BLOCK).localSsd(file, size).ssdDirectIo(direct).build());
        assertTrue(e.getMessage().contains("it holds blocks of 4096 bytes, this cache uses 8192"), e.getMessage());
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
        IllegalStateException tokens = assertThrows(IllegalStateException.class, () -> KvTierCache.builder()
                .blockTokens(32).blockBytes(BLOCK).dramCapacityBytes(8 * BLOCK).localSsd(file, size)
                .ssdDirectIo(direct).build());
        assertTrue(tokens.getMessage().contains("it holds blocks of 16 tokens, this cache uses 32"),
                tokens.getMessage());
        IllegalStateException capacity = assertThrows(IllegalStateException.class,
                () -> builder(file, BLOCK, 4, 128, direct, Compression.NONE).build());
        assertTrue(capacity.getMessage().contains("is " + size + " bytes but the tier is configured for "),
                capacity.getMessage());
        IllegalStateException io = assertThrows(IllegalStateException.class, () -> KvTierCache.builder()
                .blockTokens(16).blockBytes(BLOCK).dramCapacityBytes(8 * BLOCK).localSsd(file, size)
                .ssdDirectIo(!direct).build());
        assertTrue(io.getMessage().contains("its slots are"), "another I/O mode, another slot size: "
                + io.getMessage());
        // the refusals closed the file: it opens again, with its blocks
        try (KvTierCache c = builder(file, BLOCK, 4, 64, direct, Compression.NONE).build()) {
            assertEquals(6, c.stats().recoveredBlocks(Tier.SSD));
            assertEquals(6, c.match(keys).hitBlocks());
        }
        // reinitializing a compatible device keeps its blocks
        try (KvTierCache c = builder(file, BLOCK, 4, 64, direct, Compression.NONE)
                .reinitializeIncompatibleDevices(true).build()) {
            assertEquals(6, c.stats().recoveredBlocks(Tier.SSD));
        }
        try (KvTierCache c = KvTierCache.builder().blockTokens(16).blockBytes(2 * BLOCK).dramCapacityBytes(8 * BLOCK)
                .localSsd(file, size).ssdDirectIo(direct).reinitializeIncompatibleDevices(true).build()) {
            assertEquals(0, c.stats().recoveredBlocks(Tier.SSD));
            assertTrue(c.stats().capacityBlocks(Tier.SSD) > 0);
        }
        try (KvTierCache c = builder(file, BLOCK, 4, 64, direct, Compression.NONE)
                .reinitializeIncompatibleDevices(true).build()) {
            assertEquals(0, c.stats().recoveredBlocks(Tier.SSD), "the 4096-byte blocks went with the reformat");
            assertEquals(0, c.match(keys).hitBlocks());
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void aDeviceInUseByAnotherCacheInThisJvmIsRefused(boolean direct) {
        Path file = dir.resolve("busy.slots");
        try (KvTierCache first = builder(file, BLOCK, 4, 16, direct, Compression.NONE).build()) {
            Throwable t = assertThrows(Throwable.class,
                    () -> builder(file, BLOCK, 4, 16, direct, Compression.NONE).build().close());
            // (OverlappingFileLockException is an IllegalStateException too, but names nothing)
            assertTrue(t instanceof IllegalStateException && String.valueOf(t.getMessage()).contains("in use"),
                    "expected an IllegalStateException saying the device is in use, got " + t);
            BlockKey[] keys = SsdFixtures.namespace("busy").keysFromHashes(new long[] {1});
            assertEquals(1, first.store(keys, buffers(keys, 0, 1)), "the first cache goes on working");
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void aDeviceInUseByAnotherProcessIsRefused(boolean direct) throws Exception {
        Path file = dir.resolve("busy.slots");
        long size = ssdBytes(16, BLOCK, direct);
        try (KvTierCache first = builder(file, BLOCK, 4, 16, direct, Compression.NONE).build()) {
            ChildJvm.Result r = ChildJvm.run(ChildJvm.cacheFlags(), CacheOpener.class, file.toString(),
                    String.valueOf(size), String.valueOf(BLOCK), direct ? "direct" : "mapped");
            assertTrue(r.output().contains("thrown dev.kvtier.DeviceUnavailableException: KvTierCache: " + file
                    + " is in use by another process"), r.output());
        }
        ChildJvm.Result r = ChildJvm.run(ChildJvm.cacheFlags(), CacheOpener.class, file.toString(),
                String.valueOf(size), String.valueOf(BLOCK), direct ? "direct" : "mapped");
        assertTrue(r.output().contains("built recovered=0"), "free once closed: " + r.output());
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void aFifoOrCharacterDeviceIsRefusedNamingWhatItIsWithoutOpeningIt(boolean direct) throws Exception {
        Path fifo = OddFiles.mkfifo(dir.resolve("kv.fifo"));
        refusedCleanly(fifo, direct, fifo + " is a FIFO, not a regular file");
        refusedCleanly(Path.of("/dev/null"), direct, "/dev/null is a character device, not a regular file");
        refusedCleanly(Path.of("/dev/zero"), direct, "/dev/zero is a character device, not a regular file");
        assertTrue(Files.readAttributes(fifo, BasicFileAttributes.class).isOther(), "the FIFO is left as it was");
        Path sub = Files.createDirectory(dir.resolve("sub"));
        IllegalArgumentException d = assertTimeoutPreemptively(Duration.ofSeconds(5), () -> assertThrows(
                IllegalArgumentException.class, () -> builder(sub, BLOCK, 4, 16, direct, Compression.NONE).build()));
        assertTrue(d.getMessage().contains(sub + " is a directory"), d.getMessage());
        try (KvTierCache c = builder(dir.resolve("good"), BLOCK, 4, 16, direct, Compression.NONE).build()) {
            assertTrue(c.stats().capacityBlocks(Tier.SSD) >= 16);
        }
    }

    /** Refused twice alike (the first refusal left no claim, lock or descriptor behind), and promptly. */
    private static void refusedCleanly(Path path, boolean direct, String message) throws IOException {
        long before = OddFiles.descriptorsOn(path);
        for (int attempt = 0; attempt < 2; attempt++) {
            IllegalStateException e = assertTimeoutPreemptively(Duration.ofSeconds(5), () -> assertThrows(
                    IllegalStateException.class, () -> builder(path, BLOCK, 4, 16, direct, Compression.NONE).build()));
            assertTrue(e.getMessage() != null && e.getMessage().contains(message), "expected \"" + message
                    + "\" in: " + e.getMessage());
            assertTrue(e.getMessage().contains(direct ? ", not a regular file or block device"
                    : ", not a regular file (a block device is used with O_DIRECT only)"),
                    e.getMessage());
        }
        assertEquals(before, OddFiles.descriptorsOn(path), "descriptors of " + path + " left open");
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void anEmptyFileIsSizedAndFormattedLikeAnAbsentOne(boolean direct) throws Exception {
        // what a crash between creating the file and sizing it leaves behind
        Path file = Files.createFile(dir.resolve("empty.slots"));
        BlockKey[] keys = SsdFixtures.namespace("empty").keysFromHashes(new long[] {1, 2, 3});
        try (KvTierCache c = builder(file, BLOCK, 4, 16, direct, Compression.NONE).demoteAhead(1).build()) {
            assertEquals(3, c.store(keys, buffers(keys, 0, 3)));
            c.awaitIdle();
            assertEquals(3, c.stats().storedBlocks(Tier.SSD), c.stats().toString());
        }
        assertEquals(ssdBytes(16, BLOCK, direct), Files.size(file));
        try (KvTierCache c = builder(file, BLOCK, 4, 16, direct, Compression.NONE).build()) {
            assertEquals(3, c.stats().recoveredBlocks(Tier.SSD));
            assertEquals(3, c.match(keys).hitBlocks());
        }
    }

    private static ByteBuffer[] buffers(BlockKey[] keys, int from, int count) {
        ByteBuffer[] b = new ByteBuffer[count];
        for (int i = 0; i < count; i++) {
            b[i] = payload(keys[from + i], BLOCK);
        }
        return b;
    }
}
