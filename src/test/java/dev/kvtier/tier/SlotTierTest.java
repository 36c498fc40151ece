package dev.kvtier.tier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.longs;

import dev.kvtier.TargetTempDir;
import dev.kvtier.codec.BlockCodec;
import dev.kvtier.codec.Lz4Codec;
import dev.kvtier.device.BlockDevice;
import dev.kvtier.device.DirectFileDevice;
import dev.kvtier.device.BufferedFileDevice;
import dev.kvtier.format.DeviceLayout;
import dev.kvtier.format.SlotHeader;
import dev.kvtier.tier.SlotTier.ReadStatus;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The slot tier on real devices (files through the page cache and with O_DIRECT) and on a memory device that
 * fails or reorders writes: exact round trips with every codec, and every way a slot can be
 * wrong (key, namespace, payload, header, wiped, torn, from an earlier life) read as a miss.
 */
class SlotTierTest {
    static final int TOKENS = 16;
    static final int BLOCK = 4999; // not a multiple of any alignment
    static final long NS_HI = 0x1111_2222_3333_4444L;
    static final long NS_LO = 0x5555_6666_7777_8888L;
    static final long MIB = 1 << 20;

    @TempDir(factory = TargetTempDir.class)
    Path dir;

    enum Dev { BUFFERED, DIRECT }

    enum Codec {
        RAW(null), LZ4(new Lz4Codec(false)), LZ4_SHUFFLE2(new Lz4Codec(true));

        final BlockCodec codec;

        Codec(BlockCodec codec) {
            this.codec = codec;
        }
    }

    static Stream<Arguments> devicesAndCodecs() {
        List<Arguments> a = new ArrayList<>();
        for (Dev d : Dev.values()) {
            for (Codec c : Codec.values()) {
                a.add(Arguments.of(d, c));
            }
        }
        return a.stream();
    }

    static Stream<Dev> devices() {
        return Stream.of(Dev.values());
    }

    BlockDevice device(Dev d, String name, long size) throws IOException {
        Path file = dir.resolve(name);
        return d == Dev.BUFFERED ? BufferedFileDevice.open(file, size, false) : DirectFileDevice.open(file, size, false);
    }

    /** Block {@code key}'s bytes: kind 0 random (stored raw), 1 runs (LZ4 shrinks it), 2 zeros. */
    static byte[] block(long key, int n) {
        Random rnd = new Random(key);
        byte[] b = new byte[n];
        switch ((int) Math.floorMod(key, 3L)) {
            case 0 -> rnd.nextBytes(b);
            case 1 -> {
                for (int i = 0; i < n; i++) {
                    b[i] = (byte) (i / 64 + key);
                }
            }
            default -> { }
        }
        return b;
    }

    static SlotHeader header(long key) {
        SlotHeader h = new SlotHeader();
        h.keyHi = key * 31;
        h.keyLo = key;
        h.parentHi = key * 31 - 31;
        h.parentLo = key - 1;
        h.namespaceHi = NS_HI;
        h.namespaceLo = NS_LO;
        h.position = (int) key;
        return h;
    }

    static ByteBuffer direct(byte[] b) {
        return ByteBuffer.allocateDirect(b.length).put(b).flip();
    }

    static ReadStatus read(SlotTier t, int slot, long key, ByteBuffer dst) {
        return t.read(slot, key * 31, key, NS_HI, NS_LO, dst);
    }

    /** Reads {@code key} from {@code slot}: its bytes when OK, else null; the guard bytes around must survive. */
    static byte[] readBytes(SlotTier t, int slot, long key) {
        ByteBuffer dst = ByteBuffer.allocateDirect(BLOCK + 16).position(8).limit(8 + BLOCK);
        ReadStatus st = read(t, slot, key, dst);
        assertEquals(8, dst.position());
        assertEquals(8 + BLOCK, dst.limit());
        if (st != ReadStatus.OK) {
            return null;
        }
        byte[] out = new byte[BLOCK];
        dst.duplicate().get(out);
        return out;
    }

    @ParameterizedTest
    @MethodSource("devicesAndCodecs")
    void writeThenReadGivesTheExactBytes(Dev dev, Codec codec) throws Exception {
        try (SlotTier t = SlotTier.open(device(dev, "slots", 4 * MIB), TOKENS, BLOCK, codec.codec, false)) {
            assertTrue(t.slotCount() >= 12, "slots " + t.slotCount());
            for (int slot = 0; slot < 12; slot++) {
                long key = 100 + slot;
                SlotHeader h = header(key);
                ByteBuffer src = slot % 2 == 0 ? direct(block(key, BLOCK))
                        : ByteBuffer.wrap(block(key, BLOCK)); // heap blocks too
                t.write(slot, src, h);
                assertEquals(0, src.position(), "write leaves the block's position");
                assertEquals(BLOCK, h.blockLength);
                assertEquals(t.layout().creationId(), h.deviceId);
                boolean compressible = key % 3 != 0;
                if (codec.codec != null && compressible) {
                    assertEquals(codec.codec.id(), h.codec, "key " + key);
                    assertTrue(h.storedLength < BLOCK);
                } else {
                    assertEquals(0, h.codec, "stored raw");
                    assertEquals(BLOCK, h.storedLength);
                }
            }
            for (int slot = 0; slot < 12; slot++) {
                long key = 100 + slot;
                assertArrayEquals(block(key, BLOCK), readBytes(t, slot, key), dev + " " + codec + " slot " + slot);
                ByteBuffer heap = ByteBuffer.allocate(BLOCK);
                assertEquals(ReadStatus.OK, read(t, slot, key, heap));
                assertArrayEquals(block(key, BLOCK), heap.array(), "into a heap buffer");
            }
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void aSlotHoldingAnotherKeyOrNamespaceIsAMismatch(Dev dev) throws Exception {
        try (SlotTier t = SlotTier.open(device(dev, "slots", MIB), TOKENS, BLOCK, null, false)) {
            t.write(0, direct(block(7, BLOCK)), header(7));
            ByteBuffer dst = guarded();
            assertEquals(ReadStatus.MISMATCH, t.read(0, 7 * 31, 8, NS_HI, NS_LO, dst), "key lo");
            assertEquals(ReadStatus.MISMATCH, t.read(0, 8 * 31, 7, NS_HI, NS_LO, dst), "key hi");
            assertEquals(ReadStatus.MISMATCH, t.read(0, 7 * 31, 7, NS_HI + 1, NS_LO, dst), "namespace hi");
            assertEquals(ReadStatus.MISMATCH, t.read(0, 7 * 31, 7, NS_HI, NS_LO ^ 1, dst), "namespace lo");
            assertEquals(ReadStatus.MISMATCH, t.read(0, 7 * 31, 7, NS_HI, NS_LO, ByteBuffer.allocateDirect(BLOCK - 1)),
                    "a buffer of another length");
            assertGuarded(dst);
            assertArrayEquals(block(7, BLOCK), readBytes(t, 0, 7));
        }
    }

    @ParameterizedTest
    @MethodSource("devicesAndCodecs")
    void aFlippedPayloadOrHeaderByteIsCorrupt(Dev dev, Codec codec) throws Exception {
        try (BlockDevice d = device(dev, "slots", 4 * MIB)) {
            SlotTier t = SlotTier.open(d, TOKENS, BLOCK, codec.codec, false);
            DeviceLayout l = t.layout();
            Random rnd = new Random(dev.ordinal() * 10 + codec.ordinal());
            int n = Math.min(t.slotCount(), 40);
            SlotHeader[] written = new SlotHeader[n];
            for (int slot = 0; slot < n; slot++) {
                written[slot] = header(slot);
                t.write(slot, direct(block(slot, BLOCK)), written[slot]);
            }
            for (int slot = 0; slot < n; slot++) {
                boolean inHeader = slot % 2 == 0;
                int at = inHeader ? rnd.nextInt(SlotHeader.BYTES) : rnd.nextInt(written[slot].storedLength);
                long offset = (inHeader ? l.headerOffset(slot) : l.payloadOffset(slot)) + at;
                flip(d, offset, 1 + rnd.nextInt(255));
                ByteBuffer dst = guarded();
                ReadStatus st = read(t, slot, slot, dst);
                assertEquals(ReadStatus.CORRUPT, st, (inHeader ? "header" : "payload") + " byte " + at + " of slot "
                        + slot);
            }
            // a corrupt header is not handed to the scan; a corrupt payload is (payloads are checked on read)
            List<Integer> scanned = new ArrayList<>();
            int bad = scan(t, (slot, h) -> scanned.add(slot));
            assertEquals(n / 2, bad);
            for (int slot = 0; slot < n; slot++) {
                assertEquals(slot % 2 == 1, scanned.contains(slot), "slot " + slot);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void aWipedSlotReadsAsAMissAndTheScanSkipsIt(Dev dev) throws Exception {
        try (SlotTier t = SlotTier.open(device(dev, "slots", MIB), TOKENS, BLOCK, null, false)) {
            t.write(0, direct(block(1, BLOCK)), header(1));
            t.write(1, direct(block(2, BLOCK)), header(2));
            t.wipe(0);
            assertTrue(readBytes(t, 0, 1) == null, "a wiped slot serves nothing");
            List<Integer> scanned = new ArrayList<>();
            assertEquals(0, scan(t, (slot, h) -> scanned.add(slot)), "a wiped slot is empty, not bad");
            assertEquals(List.of(1), scanned);
        }
    }

    @ParameterizedTest
    @MethodSource("devicesAndCodecs")
    void theScanReturnsExactlyTheWrittenHeadersAfterAReopen(Dev dev, Codec codec) throws Exception {
        Map<Integer, List<Object>> written = new LinkedHashMap<>();
        long creation;
        int slots;
        try (SlotTier t = SlotTier.open(device(dev, "slots", 4 * MIB), TOKENS, BLOCK, codec.codec, false)) {
            creation = t.layout().creationId();
            slots = t.slotCount();
            for (int slot = 0; slot < slots; slot += 3) {
                SlotHeader h = header(1000 + slot);
                t.write(slot, direct(block(1000 + slot, BLOCK)), h);
                written.put(slot, fields(h));
            }
            SlotHeader h = header(5);
            t.write(0, direct(block(5, BLOCK)), h); // rewrite: the newer block replaces the older
            written.put(0, fields(h));
        }
        try (SlotTier t = SlotTier.open(device(dev, "slots", 4 * MIB), TOKENS, BLOCK, null, false)) {
            assertEquals(creation, t.layout().creationId(), "the same device life");
            assertEquals(slots, t.slotCount());
            Map<Integer, List<Object>> scanned = new LinkedHashMap<>();
            assertEquals(0, scan(t, (slot, h) -> scanned.put(slot, fields(h))));
            assertEquals(written, scanned);
            for (int slot : written.keySet()) {
                long key = slot == 0 ? 5 : 1000 + slot;
                assertArrayEquals(block(key, BLOCK), readBytes(t, slot, key), "slot " + slot + " after reopen");
            }
            assertTrue(readBytes(t, 0, 1000) == null, "the overwritten block is gone");
            // epochs go on rising after a reopen
            SlotHeader h = header(6);
            t.write(1, direct(block(6, BLOCK)), h);
            long maxBefore = written.values().stream().mapToLong(f -> (Long) f.get(11)).max().orElseThrow();
            assertTrue(h.epoch > maxBefore, "epoch " + h.epoch + " after " + maxBefore);
        }
    }

    static List<Object> fields(SlotHeader h) {
        return List.of(h.codec, h.keyHi, h.keyLo, h.parentHi, h.parentLo, h.namespaceHi, h.namespaceLo, h.position,
                h.storedLength, h.blockLength, h.payloadCrc, h.epoch, h.deviceId);
    }

    @ParameterizedTest
    @MethodSource("devices")
    void anotherBlockSizeIsRefusedWithTheReasonOrReinitialized(Dev dev) throws Exception {
        try (SlotTier t = SlotTier.open(device(dev, "slots", 4 * MIB), TOKENS, BLOCK, null, false)) {
            for (int slot = 0; slot < 5; slot++) {
                t.write(slot, direct(block(slot, BLOCK)), header(slot));
            }
        }
        try (BlockDevice d = device(dev, "slots", 4 * MIB)) {
            IOException e = assertThrows(IOException.class, () -> SlotTier.open(d, TOKENS, 8192, null, false));
            assertTrue(e.getMessage().contains("it holds blocks of " + BLOCK + " bytes, this cache uses 8192"),
                    e.getMessage());
            assertTrue(e.getMessage().contains("cannot be used"), e.getMessage());
            IOException tokens = assertThrows(IOException.class, () -> SlotTier.open(d, 32, BLOCK, null, false));
            assertTrue(tokens.getMessage().contains("it holds blocks of 16 tokens, this cache uses 32"),
                    tokens.getMessage());
        }
        long oldCreation;
        try (BlockDevice d = device(dev, "slots", 4 * MIB)) {
            SlotTier t = SlotTier.open(d, TOKENS, BLOCK, null, false);
            oldCreation = t.layout().creationId();
            List<Integer> found = new ArrayList<>();
            scan(t, (s, h) -> found.add(s));
            assertEquals(List.of(0, 1, 2, 3, 4), found, "a refused open changed nothing");
        }
        try (BlockDevice d = device(dev, "slots", 4 * MIB)) {
            SlotTier t = SlotTier.open(d, 32, BLOCK, null, true);
            assertNotEquals(oldCreation, t.layout().creationId(), "formatted afresh: a new device life");
            assertEquals(32, t.layout().blockTokens());
            List<Integer> found = new ArrayList<>();
            int stale = scan(t, (s, h) -> found.add(s));
            assertEquals(List.of(), found, "the old blocks are gone");
            assertEquals(5, stale, "their headers are stale");
            assertTrue(readBytes(t, 0, 0) == null, "a block of the device's earlier life");
        }
        try (BlockDevice d = device(dev, "slots", 4 * MIB)) {
            SlotTier t = SlotTier.open(d, TOKENS, 8192, null, true);
            List<Integer> found = new ArrayList<>();
            scan(t, (s, h) -> found.add(s));
            assertEquals(List.of(), found, "another slot size: the old blocks are gone");
        }
    }

    /** Scans {@code t}, handing valid headers to {@code found}; returns how many slots were unusable. */
    private static int scan(SlotTier t, java.util.function.BiConsumer<Integer, SlotHeader> found) {
        int[] unusable = {0};
        t.scan(new SlotTier.ScanVisitor() {
            @Override
            public void slot(int slot, SlotHeader h) {
                found.accept(slot, h);
            }

            @Override
            public void unusable(int slot) {
                unusable[0]++;
            }

            @Override
            public void unreadable(int slot) {
                throw new AssertionError("slot " + slot + " could not be read");
            }
        });
        return unusable[0];
    }

    @Test
    void aDeviceTooSmallForOneSlotIsRefused() {
        MemoryDevice d = new MemoryDevice(DeviceLayout.METADATA_BYTES + SlotHeader.BYTES + BLOCK - 1, 1);
        IOException e = assertThrows(IOException.class, () -> SlotTier.open(d, TOKENS, BLOCK, null, false));
        assertTrue(e.getMessage().contains("holds 0 slots of 4999-byte blocks"), e.getMessage());
    }

    static Stream<Arguments> torn() {
        List<Arguments> a = new ArrayList<>();
        for (String dev : new String[] {"BUFFERED", "DIRECT", "MEMORY_512"}) {
            for (Codec c : Codec.values()) {
                a.add(Arguments.of(dev, c));
            }
        }
        return a.stream();
    }

    /**
     * A rewrite of a slot that fails at its first, second or third device write (wipe, payload,
     * header), with none or some of that write's bytes on the device: the slot then holds the
     * old block intact, or reads as a miss; never the new key, never wrong bytes; before and
     * after a reopen.
     */
    @ParameterizedTest
    @MethodSource("torn")
    void aFailedOrTornRewriteNeverServesTheWrongBlock(String dev, Codec codec) throws Exception {
        for (int failing = 1; failing <= 3; failing++) {
            for (int prefix : new int[] {0, 1, 64, 127, 512, 2048, 4096, 1 << 20}) {
                String name = "slots-" + failing + "-" + prefix;
                BlockDevice raw = dev.equals("BUFFERED") ? device(Dev.BUFFERED, name, MIB)
                        : dev.equals("DIRECT") ? device(Dev.DIRECT, name, MIB) : new MemoryDevice((int) MIB, 512);
                try (FaultyDevice d = new FaultyDevice(raw)) {
                    SlotTier t = SlotTier.open(d, TOKENS, BLOCK, codec.codec, false);
                    long oldKey = 4;
                    long newKey = 5;
                    t.write(0, direct(block(oldKey, BLOCK)), header(oldKey));
                    t.write(1, direct(block(9, BLOCK)), header(9));
                    d.failWrite(failing, prefix);
                    String what = dev + " " + codec + " write " + failing + " torn after " + prefix;
                    assertThrows(IOException.class, () -> t.write(0, direct(block(newKey, BLOCK)), header(newKey)),
                            what);
                    for (SlotTier tier : new SlotTier[] {t, SlotTier.open(d, TOKENS, BLOCK, null, false)}) {
                        // a header write that failed after all its bytes landed leaves the new block whole
                        byte[] fresh = readBytes(tier, 0, newKey);
                        assertTrue(fresh == null || Arrays.equals(block(newKey, BLOCK), fresh), what);
                        if (failing < 3) {
                            // (a torn header write may still leave a valid header, when the bytes it
                            // missed happen to hold their new values already: then the block is whole)
                            assertTrue(fresh == null, what + ": the new block's header was never written");
                        }
                        byte[] old = readBytes(tier, 0, oldKey);
                        assertTrue(old == null || Arrays.equals(block(oldKey, BLOCK), old), what);
                        if (failing == 1 && prefix < d.alignment()) {
                            assertArrayEquals(block(oldKey, BLOCK), old, what + ": nothing was written");
                        }
                        assertArrayEquals(block(9, BLOCK), readBytes(tier, 1, 9), what + ": the neighbour");
                        List<Long> keys = new ArrayList<>();
                        scan(tier, (s, h) -> keys.add(h.keyLo));
                        assertTrue(keys.equals(List.of(9L)) || keys.equals(List.of(oldKey, 9L))
                                || (fresh != null && keys.equals(List.of(newKey, 9L))), what + " " + keys);
                    }
                }
            }
        }
    }

    static Stream<Arguments> alignmentsAndCodecs() {
        List<Arguments> a = new ArrayList<>();
        for (int alignment : new int[] {1, 512}) {
            for (Codec c : Codec.values()) {
                a.add(Arguments.of(alignment, c));
            }
        }
        return a.stream();
    }

    /**
     * A crash after a rewrite began, with a page cache or drive that persisted only some of its
     * writes, in any order, and some of them only in part (whole 512-byte sectors, or 8-byte
     * words as an interrupted memcpy into a mapping leaves them): whatever
     * survives reads as the old block, the new block, or a miss, byte-exact.
     */
    @ParameterizedTest
    @MethodSource("alignmentsAndCodecs")
    void anyPartOfARewriteSurvivingACrashIsServedExactlyOrNotAtAll(int alignment, Codec c) {
        BlockCodec codec = c.codec;
        qt().withExamples(300).forAll(longs().all()).checkAssert(seed -> {
            MemoryDevice d = new MemoryDevice(64 * 1024, alignment);
            try {
                SlotTier t = SlotTier.open(d, TOKENS, BLOCK, codec, false);
                Random rnd = new Random(seed);
                long oldKey = 1 + rnd.nextInt(6);
                long newKey = oldKey + 1 + rnd.nextInt(6);
                t.write(0, direct(block(oldKey, BLOCK)), header(oldKey));
                d.recording = true;
                t.write(0, direct(block(newKey, BLOCK)), header(newKey));
                d.recording = false;
                for (MemoryDevice.Write w : d.log) {
                    int choice = rnd.nextInt(3);
                    if (choice == 0) {
                        continue; // lost
                    }
                    ByteBuffer src = ByteBuffer.wrap(w.bytes());
                    if (choice == 1) {
                        d.write(w.offset(), src);
                        continue;
                    }
                    int unit = rnd.nextBoolean() ? 512 : 8;
                    for (int s = 0; s < w.bytes().length; s += unit) { // some sectors or words only
                        if (rnd.nextBoolean()) {
                            int len = Math.min(unit, w.bytes().length - s);
                            d.bytes.duplicate().position((int) w.offset() + s)
                                    .put(src.duplicate().position(s).limit(s + len));
                        }
                    }
                }
                SlotTier after = SlotTier.open(d, TOKENS, BLOCK, null, false);
                byte[] gotNew = readBytes(after, 0, newKey);
                byte[] gotOld = readBytes(after, 0, oldKey);
                assertTrue(gotNew == null || Arrays.equals(block(newKey, BLOCK), gotNew), "new block, wrong bytes");
                assertTrue(gotOld == null || Arrays.equals(block(oldKey, BLOCK), gotOld), "old block, wrong bytes");
                List<Long> keys = new ArrayList<>();
                scan(after, (s, h) -> keys.add(h.keyLo));
                for (long k : keys) {
                    assertTrue(k == oldKey || k == newKey, "scan found key " + k);
                }
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        });
    }

    @ParameterizedTest
    @MethodSource("devices")
    void allocationHandsOutEachSlotOnce(Dev dev) throws Exception {
        try (SlotTier t = SlotTier.open(device(dev, "slots", MIB), TOKENS, BLOCK, null, false)) {
            int n = t.slotCount();
            assertEquals(n, t.freeSlots());
            boolean[] seen = new boolean[n];
            for (int i = 0; i < n; i++) {
                int s = t.allocate();
                assertTrue(s >= 0 && s < n && !seen[s], "slot " + s);
                seen[s] = true;
            }
            assertEquals(-1, t.allocate());
            t.release(3);
            assertEquals(3, t.allocate());
            t.release(3);
            t.markUsed(3);
            assertEquals(-1, t.allocate());
        }
    }

    private static ByteBuffer guarded() {
        ByteBuffer b = ByteBuffer.allocateDirect(BLOCK);
        for (int i = 0; i < BLOCK; i++) {
            b.put(i, (byte) 0xA5);
        }
        return b;
    }

    private static void assertGuarded(ByteBuffer b) {
        for (int i = 0; i < BLOCK; i++) {
            assertEquals((byte) 0xA5, b.get(i), "byte " + i + " of a buffer a failed read must not touch");
        }
    }

    /** XORs the byte at {@code offset} with {@code mask}, in whole aligned blocks as the device needs. */
    static void flip(BlockDevice d, long offset, int mask) throws IOException {
        int a = Math.max(d.alignment(), 1);
        long start = offset & -(long) a;
        int len = Math.max(a, 1);
        ByteBuffer b = ByteBuffer.allocateDirect(len + 8192).alignedSlice(4096).limit(len).slice();
        d.read(start, b);
        int i = (int) (offset - start);
        b.put(i, (byte) (b.get(i) ^ mask));
        d.write(start, b);
    }
}
