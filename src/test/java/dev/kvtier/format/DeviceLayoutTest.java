package dev.kvtier.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.integers;
import static org.quicktheories.generators.SourceDSL.longs;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.quicktheories.core.Gen;

/** The superblock codec, the slot geometry derived from it, and the compatibility check. */
class DeviceLayoutTest {
    private static final int SB = DeviceLayout.SUPERBLOCK_BYTES;
    /** Where the slots begin: the superblock, then the invalidation table. */
    private static final int META = DeviceLayout.METADATA_BYTES;

    static Gen<DeviceLayout> layouts() {
        return integers().between(0, 12).zip(longs().between(0, 1L << 40), integers().between(1, 65_536),
                integers().between(1, 1 << 30), (shift, slots, tokens, bytes) ->
                        new DeviceLayout(1 << shift, slots, tokens, bytes, slots * 0x9E3779B97F4A7C15L ^ bytes))
                .describedAs(DeviceLayout::toString);
    }

    static List<Object> fields(DeviceLayout l) {
        return List.of(l.alignment(), l.headerBytes(), l.slotBytes(), l.slotCount(), l.blockTokens(), l.blockBytes(),
                l.creationId(), l.ways(), l.keyCheck());
    }

    @Test
    void encodeThenDecodeGivesTheSameLayout() {
        qt().forAll(layouts(), longs().all()).checkAssert((l, creation) -> {
            DeviceLayout layout = new DeviceLayout(l.alignment(), l.slotCount(), l.blockTokens(), l.blockBytes(),
                    creation);
            for (ByteBuffer buf : new ByteBuffer[] {ByteBuffer.allocate(SB), ByteBuffer.allocateDirect(SB + 100)}) {
                for (int i = 0; i < buf.capacity(); i++) {
                    buf.put(i, (byte) 0x5A);
                }
                layout.encode(buf);
                assertEquals(0, buf.position());
                for (int i = 64; i < SB; i++) {
                    assertEquals(0, buf.get(i), "superblock padding byte " + i);
                }
                assertEquals(0x5A, buf.capacity() > SB ? buf.get(SB) : 0x5A, "wrote past the superblock");
                DeviceLayout d = decodeOrFail(buf);
                assertEquals(fields(layout), fields(d));
                assertNull(d.incompatibility(layout));
            }
        });
    }

    @Test
    void geometryFollowsFromAlignmentAndBlockSize() {
        DeviceLayout mapped = new DeviceLayout(1, 10, 16, 4096, 1);
        assertEquals(128, mapped.headerBytes());
        assertEquals(4224, mapped.slotBytes());
        assertEquals(META + 3 * 4224L, mapped.headerOffset(3));
        assertEquals(META + 3 * 4224L + 128, mapped.payloadOffset(3));
        assertEquals(META + 10 * 4224L, mapped.deviceBytes());

        DeviceLayout direct = new DeviceLayout(4096, 10, 16, 4097, 1);
        assertEquals(4096, direct.headerBytes());
        assertEquals(4096 + 8192, direct.slotBytes());
        assertEquals(META + 2L * 12288, direct.headerOffset(2));
        assertEquals(8192, direct.aligned(4097));
        assertEquals(0, direct.headerOffset(5) % 4096);
        assertEquals(0, direct.payloadOffset(5) % 4096);

        DeviceLayout sector = new DeviceLayout(512, 10, 16, 1000, 1);
        assertEquals(512, sector.headerBytes());
        assertEquals(512 + 1024, sector.slotBytes());

        assertEquals(10, DeviceLayout.slotsThatFit(META + 10 * 4224L, 1, 4096));
        assertEquals(9, DeviceLayout.slotsThatFit(META + 10 * 4224L - 1, 1, 4096));
        assertEquals(0, DeviceLayout.slotsThatFit(META + 4223, 1, 4096));
        assertEquals(0, DeviceLayout.slotsThatFit(100, 1, 4096), "smaller than the superblock: none, not negative");
        assertEquals(1, DeviceLayout.slotsThatFit(META + 8192, 4096, 4096));

        for (int bad : new int[] {0, -4, 3, 8192}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new DeviceLayout(bad, 1, 16, 4096, 1));
            assertTrue(e.getMessage().contains("alignment must be a power of two up to 4096, was " + bad),
                    e.getMessage());
        }
    }

    @Test
    void theBytesAreWhereTheLayoutSaysLittleEndian() throws FormatException {
        DeviceLayout l = new DeviceLayout(512, 0x0102030405L, 16, 4097, 0x1122334455667788L, 8, 0x0A0B0C0D0E0F1011L);
        ByteBuffer buf = ByteBuffer.allocate(SB); // big-endian: must not matter
        l.encode(buf);
        byte[] b = Arrays.copyOf(buf.array(), 64);
        assertEquals("KVTIERSB", new String(b, 0, 8, StandardCharsets.US_ASCII), "magic");
        assertArrayEquals(le4(3), Arrays.copyOfRange(b, 8, 12), "format version");
        assertArrayEquals(le4(512), Arrays.copyOfRange(b, 12, 16), "alignment");
        assertArrayEquals(le4(512), Arrays.copyOfRange(b, 16, 20), "header bytes");
        assertArrayEquals(le4(512 + 4608), Arrays.copyOfRange(b, 20, 24), "slot bytes");
        assertArrayEquals(new byte[] {5, 4, 3, 2, 1, 0, 0, 0}, Arrays.copyOfRange(b, 24, 32), "slot count");
        assertArrayEquals(le4(16), Arrays.copyOfRange(b, 32, 36), "block tokens");
        assertArrayEquals(le4(4097), Arrays.copyOfRange(b, 36, 40), "block bytes");
        assertArrayEquals(new byte[] {(byte) 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11},
                Arrays.copyOfRange(b, 40, 48), "creation id");
        assertArrayEquals(le4(8), Arrays.copyOfRange(b, 48, 52), "ways");
        assertArrayEquals(new byte[] {0x11, 0x10, 0x0F, 0x0E, 0x0D, 0x0C, 0x0B, 0x0A}, Arrays.copyOfRange(b, 52, 60),
                "key check");
        CRC32C crc = new CRC32C();
        crc.update(b, 0, 60);
        assertArrayEquals(le4((int) crc.getValue()), Arrays.copyOfRange(b, 60, 64), "CRC32C of bytes 0..59");
        assertEquals(fields(l), fields(DeviceLayout.decode(buf)));
    }

    @Test
    void everySingleBitFlipInTheUsedBytesIsDetected() {
        qt().withExamples(30).forAll(layouts()).checkAssert(l -> {
            ByteBuffer buf = ByteBuffer.allocate(SB);
            l.encode(buf);
            for (int bit = 0; bit < 64 * 8; bit++) {
                ByteBuffer f = ByteBuffer.allocate(SB).put(buf.duplicate().clear()).clear();
                f.put(bit / 8, (byte) (f.get(bit / 8) ^ (1 << (bit % 8))));
                int b = bit;
                assertThrows(FormatException.class, () -> DeviceLayout.decode(f), () -> "bit " + b + " of " + l);
            }
        });
    }

    @Test
    void randomBytesOnlyEverGiveFormatExceptionAndOnlyTheFirst64BytesCount() {
        Gen<byte[]> inputs = integers().between(0, 3).zip(layouts(), longs().all(), (kind, l, seed) -> {
            Random rnd = new Random(seed);
            byte[] b = new byte[SB];
            ByteBuffer buf = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
            if (kind == 3) {
                l.encode(buf);
                for (int i = 0, n = 1 + rnd.nextInt(3); i < n; i++) {
                    b[rnd.nextInt(60)] = (byte) rnd.nextInt();
                }
                buf.putInt(60, crc(b)); // a consistent checksum over inconsistent fields
                return b;
            }
            rnd.nextBytes(b);
            if (kind >= 1) {
                buf.putLong(0, DeviceLayout.MAGIC);
            }
            if (kind >= 2) {
                if (rnd.nextBoolean()) {
                    buf.putInt(8, DeviceLayout.FORMAT_VERSION);
                }
                if (rnd.nextBoolean()) {
                    buf.putInt(12, 1 << rnd.nextInt(14));
                }
                buf.putInt(60, crc(b));
            }
            return b;
        });
        qt().withExamples(3000).forAll(inputs, integers().between(0, SB - 64), longs().all())
                .checkAssert((sb, cut, seed) -> {
                    String full = outcome(ByteBuffer.wrap(sb));
                    byte[] other = sb.clone();
                    Random rnd = new Random(seed);
                    for (int i = 64; i < SB; i++) {
                        other[i] = (byte) rnd.nextInt();
                    }
                    // only the 64 used bytes count, and a buffer that ends right after them is enough
                    ByteBuffer shorter = ByteBuffer.allocateDirect(SB - cut).put(0, other, 0, SB - cut);
                    assertEquals(full, outcome(shorter));
                    assertEquals(0, shorter.position());
                });
    }

    private static String outcome(ByteBuffer buf) {
        try {
            DeviceLayout l = DeviceLayout.decode(buf);
            assertTrue(Integer.bitCount(l.alignment()) == 1 && l.alignment() <= SB, l.toString());
            assertTrue(l.blockBytes() >= 1 && l.slotCount() >= 0, l.toString());
            return fields(l).toString();
        } catch (FormatException e) {
            return "FormatException: " + e.getMessage();
        }
    }

    @Test
    void badSuperblocksAreNamed() {
        DeviceLayout l = new DeviceLayout(4096, 100, 16, 4096, 42);
        ByteBuffer buf = ByteBuffer.allocate(SB).order(ByteOrder.LITTLE_ENDIAN);

        assertEquals("superblock needs 64 bytes, got 63", message(ByteBuffer.allocate(63)));
        assertEquals("no kvtier superblock (magic 0000000000000000)", message(ByteBuffer.allocate(SB)));

        l.encode(buf);
        buf.putInt(8, 1).putInt(60, crc(buf.array()));
        assertEquals("device format version 1, this kvtier reads version 3", message(buf));

        l.encode(buf);
        buf.put(30, (byte) 1);
        assertEquals("superblock checksum mismatch", message(buf));

        l.encode(buf);
        buf.put(50, (byte) 1);
        assertEquals("superblock checksum mismatch", message(buf), "the reserved bytes are covered");

        l.encode(buf);
        buf.putInt(12, 48).putInt(60, crc(buf.array()));
        assertEquals("superblock fields out of range: alignment 48, slots 100, block bytes 4096", message(buf));

        l.encode(buf);
        buf.putLong(24, -1).putInt(60, crc(buf.array()));
        assertTrue(message(buf).startsWith("superblock fields out of range"), message(buf));

        l.encode(buf);
        buf.putInt(36, 0).putInt(60, crc(buf.array()));
        assertTrue(message(buf).startsWith("superblock fields out of range"), message(buf));

        l.encode(buf);
        buf.putInt(20, 4096 * 3).putInt(60, crc(buf.array()));
        assertEquals("superblock slot geometry 4096+12288 does not follow from its alignment and block size",
                message(buf));

        l.encode(buf);
        buf.putInt(36, 5000).putInt(60, crc(buf.array()));
        assertEquals("superblock slot geometry 4096+8192 does not follow from its alignment and block size",
                message(buf), "a block size that does not fit its slots");
    }

    @Test
    void incompatibilityNamesTheFirstDifference() {
        DeviceLayout found = new DeviceLayout(4096, 100, 16, 4096, 1);
        assertNull(found.incompatibility(new DeviceLayout(4096, 100, 16, 4096, 2)), "creation ids may differ");
        assertNull(new DeviceLayout(128, 100, 16, 4096, 1).incompatibility(new DeviceLayout(1, 100, 16, 4096, 2)),
                "another alignment with the same slots is the same layout");
        assertEquals("it holds blocks of 16 tokens, this cache uses 32",
                found.incompatibility(new DeviceLayout(4096, 100, 32, 4096, 1)));
        assertEquals("it holds blocks of 4096 bytes, this cache uses 8192",
                found.incompatibility(new DeviceLayout(4096, 100, 16, 8192, 1)));
        assertEquals("it holds blocks of 4096 bytes, this cache uses 4000",
                found.incompatibility(new DeviceLayout(4096, 100, 16, 4000, 1)),
                "another block size in the same slot size is still another block size");
        assertEquals("its slots are 8192 bytes, this cache needs 4224",
                found.incompatibility(new DeviceLayout(1, 100, 16, 4096, 1)));
        assertEquals("it has 100 slots, this cache is configured for 99",
                found.incompatibility(new DeviceLayout(4096, 99, 16, 4096, 1)));
    }

    private static String message(ByteBuffer buf) {
        try {
            DeviceLayout l = DeviceLayout.decode(buf);
            return fail("decoded " + l);
        } catch (FormatException e) {
            return e.getMessage();
        }
    }

    private static DeviceLayout decodeOrFail(ByteBuffer buf) {
        try {
            return DeviceLayout.decode(buf);
        } catch (FormatException e) {
            return fail("a superblock just encoded does not decode: " + e.getMessage());
        }
    }

    static int crc(byte[] b) {
        CRC32C crc = new CRC32C();
        crc.update(b, 0, 60);
        return (int) crc.getValue();
    }

    private static byte[] le4(int v) {
        return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array();
    }
}
