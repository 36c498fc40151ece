package dev.kvtier.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.integers;
import static org.quicktheories.generators.SourceDSL.lists;
import static org.quicktheories.generators.SourceDSL.longs;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.quicktheories.core.Gen;

/**
 * The slot header codec: round trips, the documented byte layout, and that no input, however
 * broken, makes decode throw anything but {@link FormatException} or look outside its 128 bytes.
 */
class SlotHeaderTest {
    private static final int MAX_BLOCK = 1 << 30;

    /** A header with every field drawn at random, within the ranges decode accepts. */
    static Gen<SlotHeader> headers() {
        return lists().of(longs().all()).ofSize(8).zip(integers().between(0, Integer.MAX_VALUE),
                integers().between(1, MAX_BLOCK), integers().between(0, 2), (l, position, block, codec) -> {
                    SlotHeader h = new SlotHeader();
                    h.keyHi = l.get(0);
                    h.keyLo = l.get(1);
                    h.parentHi = l.get(2);
                    h.parentLo = l.get(3);
                    h.namespaceHi = l.get(4);
                    h.namespaceLo = l.get(5);
                    h.epoch = l.get(6);
                    h.deviceId = l.get(7);
                    h.position = position;
                    h.blockLength = block;
                    h.codec = codec;
                    h.storedLength = codec == 0 ? block : 1 + (int) Math.floorMod(l.get(7) ^ l.get(0), (long) block);
                    h.payloadCrc = (int) (l.get(6) >>> 17);
                    return h;
                }).describedAs(SlotHeaderTest::describe);
    }

    static List<Object> fields(SlotHeader h) {
        return List.of(h.codec, h.keyHi, h.keyLo, h.parentHi, h.parentLo, h.namespaceHi, h.namespaceLo, h.position,
                h.storedLength, h.blockLength, h.payloadCrc, h.epoch, h.deviceId);
    }

    static String describe(SlotHeader h) {
        return "SlotHeader" + fields(h);
    }

    @Test
    void encodeThenDecodeGivesTheSameFields() {
        qt().forAll(headers(), integers().between(0, 300)).checkAssert((h, at) -> {
            for (ByteBuffer buf : new ByteBuffer[] {ByteBuffer.allocate(at + SlotHeader.BYTES),
                    ByteBuffer.allocateDirect(at + SlotHeader.BYTES + 7).order(ByteOrder.LITTLE_ENDIAN)}) {
                h.encode(buf, at);
                assertEquals(0, buf.position());
                SlotHeader d = decodeOrFail(buf, at, h.blockLength);
                assertEquals(fields(h), fields(d));
                // the same decoder instance, reused, forgets nothing of the new header
                SlotHeader again = new SlotHeader();
                again.keyHi = ~h.keyHi;
                assertEquals(fields(h), fields(decodeOrFail(buf, at, MAX_BLOCK, again)));
            }
        });
    }

    @Test
    void theBytesAreWhereTheLayoutSaysLittleEndian() throws FormatException {
        SlotHeader h = new SlotHeader();
        h.codec = 2;
        h.keyHi = 0x0102030405060708L;
        h.keyLo = 0x1112131415161718L;
        h.parentHi = 0x2122232425262728L;
        h.parentLo = 0x3132333435363738L;
        h.namespaceHi = 0x4142434445464748L;
        h.namespaceLo = 0x5152535455565758L;
        h.position = 0x61626364;
        h.storedLength = 0x00717273;
        h.blockLength = 0x00818283;
        h.payloadCrc = 0x91929394;
        for (int k = 0; k < 12; k++) {
            h.nonce[k] = (byte) (0xC0 + k);
        }
        for (int k = 0; k < 16; k++) {
            h.tag[k] = (byte) (0xD0 + k);
        }
        h.epoch = 0xA1A2A3A4A5A6A7A8L;
        h.deviceId = 0xB1B2B3B4B5B6B7B8L;
        int at = 24;
        // big-endian heap buffer, pre-filled: the encoding must not depend on its byte order
        // and must not touch anything outside [at, at+128)
        byte[] raw = new byte[at + SlotHeader.BYTES + 24];
        Arrays.fill(raw, (byte) 0xEE);
        ByteBuffer buf = ByteBuffer.wrap(raw);
        h.encode(buf, at);
        for (int i = 0; i < raw.length; i++) {
            if (i < at || i >= at + SlotHeader.BYTES) {
                assertEquals((byte) 0xEE, raw[i], "byte " + i + " outside the header was written");
            }
        }
        byte[] b = Arrays.copyOfRange(raw, at, at + SlotHeader.BYTES);
        assertArrayEquals(new byte[] {'K', 'V', 'S', 'L'}, Arrays.copyOfRange(b, 0, 4), "magic");
        assertArrayEquals(new byte[] {3, 0}, Arrays.copyOfRange(b, 4, 6), "format version 3, little-endian");
        assertEquals(DeviceLayout.FORMAT_VERSION, 3);
        assertEquals(2, b[6], "codec id");
        assertEquals(0, b[7], "reserved");
        assertArrayEquals(le(0x0102030405060708L), Arrays.copyOfRange(b, 8, 16), "key hi");
        assertArrayEquals(le(0x1112131415161718L), Arrays.copyOfRange(b, 16, 24), "key lo");
        assertArrayEquals(le(0x2122232425262728L), Arrays.copyOfRange(b, 24, 32), "parent hi");
        assertArrayEquals(le(0x3132333435363738L), Arrays.copyOfRange(b, 32, 40), "parent lo");
        assertArrayEquals(le(0x4142434445464748L), Arrays.copyOfRange(b, 40, 48), "namespace hi");
        assertArrayEquals(le(0x5152535455565758L), Arrays.copyOfRange(b, 48, 56), "namespace lo");
        assertArrayEquals(new byte[] {0x64, 0x63, 0x62, 0x61}, Arrays.copyOfRange(b, 56, 60), "position");
        assertArrayEquals(new byte[] {0x73, 0x72, 0x71, 0x00}, Arrays.copyOfRange(b, 60, 64), "stored length");
        assertArrayEquals(new byte[] {(byte) 0x83, (byte) 0x82, (byte) 0x81, 0x00}, Arrays.copyOfRange(b, 64, 68),
                "block length");
        assertArrayEquals(new byte[] {(byte) 0x94, (byte) 0x93, (byte) 0x92, (byte) 0x91},
                Arrays.copyOfRange(b, 68, 72), "payload CRC");
        assertArrayEquals(le(0xA1A2A3A4A5A6A7A8L), Arrays.copyOfRange(b, 72, 80), "epoch");
        assertArrayEquals(le(0xB1B2B3B4B5B6B7B8L), Arrays.copyOfRange(b, 80, 88), "device id");
        for (int i = 0; i < 12; i++) {
            assertEquals((byte) (0xC0 + i), b[88 + i], "nonce byte " + i);
        }
        for (int i = 0; i < 16; i++) {
            assertEquals((byte) (0xD0 + i), b[100 + i], "tag byte " + i);
        }
        for (int i = 116; i < 124; i++) {
            assertEquals(0, b[i], "reserved byte " + i);
        }
        assertArrayEquals(h.nonce, new SlotHeader().decode(buf, at, 0x00818283).nonce, "nonce read back");
        assertArrayEquals(h.tag, new SlotHeader().decode(buf, at, 0x00818283).tag, "tag read back");
        CRC32C crc = new CRC32C();
        crc.update(b, 0, 124);
        int c = (int) crc.getValue();
        assertArrayEquals(new byte[] {(byte) c, (byte) (c >>> 8), (byte) (c >>> 16), (byte) (c >>> 24)},
                Arrays.copyOfRange(b, 124, 128), "header CRC32C of bytes 0..123, little-endian");
        assertEquals(fields(h), fields(new SlotHeader().decode(buf, at, 0x00818283)));
    }

    @Test
    void everySingleBitFlipIsDetected() {
        qt().withExamples(40).forAll(headers()).checkAssert(h -> {
            ByteBuffer buf = ByteBuffer.allocate(SlotHeader.BYTES);
            h.encode(buf, 0);
            for (int bit = 0; bit < 8 * SlotHeader.BYTES; bit++) {
                ByteBuffer flipped = copy(buf);
                flipped.put(bit / 8, (byte) (flipped.get(bit / 8) ^ (1 << (bit % 8))));
                int b = bit;
                assertThrows(FormatException.class, () -> new SlotHeader().decode(flipped, 0, MAX_BLOCK),
                        () -> "flipped bit " + b + " of " + describe(h));
            }
        });
    }

    @Test
    void randomBytesOnlyEverGiveFormatExceptionAndOnlyTheirOwn128BytesCount() {
        // Four kinds of input, from pure noise to valid headers with a few bytes overwritten,
        // so that every check in decode is reached, not just the magic.
        Gen<byte[]> inputs = integers().between(0, 3).zip(headers(), longs().all(), (kind, h, seed) -> {
            Random rnd = new Random(seed);
            byte[] b = new byte[SlotHeader.BYTES];
            if (kind == 3) {
                ByteBuffer buf = ByteBuffer.wrap(b);
                h.encode(buf, 0);
                for (int i = 0, n = 1 + rnd.nextInt(4); i < n; i++) {
                    b[rnd.nextInt(b.length)] = (byte) rnd.nextInt();
                }
                return b;
            }
            rnd.nextBytes(b);
            ByteBuffer buf = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
            if (kind >= 1) {
                buf.putInt(0, SlotHeader.MAGIC);
            }
            if (kind >= 2) {
                if (rnd.nextBoolean()) {
                    buf.putShort(4, (short) DeviceLayout.FORMAT_VERSION);
                }
                if (rnd.nextBoolean()) {
                    buf.put(6, (byte) rnd.nextInt(4));
                }
                if (rnd.nextBoolean()) {
                    buf.putInt(60, rnd.nextInt(5000) - 10).putInt(64, rnd.nextInt(5000) - 10);
                }
                buf.putInt(124, crc(b, 0));
            }
            return b;
        });
        qt().withExamples(3000).forAll(inputs, integers().between(0, 200), longs().all())
                .checkAssert((header, at, seed) -> {
                    Random rnd = new Random(seed);
                    // the buffer ends exactly at at+128; two different prefixes must not matter
                    byte[] a = new byte[at + SlotHeader.BYTES];
                    byte[] b = new byte[at + SlotHeader.BYTES];
                    rnd.nextBytes(a);
                    rnd.nextBytes(b);
                    System.arraycopy(header, 0, a, at, header.length);
                    System.arraycopy(header, 0, b, at, header.length);
                    int maxBlock = 1 + rnd.nextInt(MAX_BLOCK);
                    String first = outcome(ByteBuffer.wrap(a), at, maxBlock);
                    int position = rnd.nextInt(b.length + 1);
                    ByteBuffer direct = ByteBuffer.allocateDirect(b.length).order(ByteOrder.LITTLE_ENDIAN).put(b)
                            .position(position);
                    String second = outcome(direct, at, maxBlock);
                    assertEquals(first, second, "decode looked outside [at, at+128)");
                    assertEquals(position, direct.position(), "decode moved the buffer's position");
                    assertEquals(b.length, direct.limit(), "decode moved the buffer's limit");
                });
    }

    /** The decoded fields, or the FormatException's message; anything else thrown fails the test. */
    private static String outcome(ByteBuffer buf, int at, int maxBlock) {
        try {
            SlotHeader h = new SlotHeader().decode(buf, at, maxBlock);
            assertTrue(h.blockLength >= 1 && h.blockLength <= maxBlock, describe(h));
            assertTrue(h.storedLength >= 1 && h.storedLength <= h.blockLength, describe(h));
            assertTrue(h.codec >= 0 && h.codec <= 2 && h.position >= 0, describe(h));
            return describe(h);
        } catch (FormatException e) {
            assertTrue(e.getMessage() != null && !e.getMessage().isEmpty());
            return "FormatException: " + e.getMessage();
        }
    }

    @Test
    void aBufferTooShortOrANegativeOffsetIsAFormatException() {
        SlotHeader h = new SlotHeader();
        FormatException e = assertThrows(FormatException.class, () -> h.decode(ByteBuffer.allocate(200), 73, 10));
        assertTrue(e.getMessage().contains("needs 128 bytes at 73, buffer has 127"), e.getMessage());
        assertThrows(FormatException.class, () -> h.decode(ByteBuffer.allocate(200), -1, 10));
        assertThrows(FormatException.class, () -> h.decode(ByteBuffer.allocate(200), Integer.MAX_VALUE, 10));
        assertThrows(FormatException.class, () -> h.decode(ByteBuffer.allocate(0), 0, 10));
    }

    @Test
    void aWrongMagicOrVersionIsNamed() {
        SlotHeader h = valid();
        ByteBuffer buf = ByteBuffer.allocate(SlotHeader.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        h.encode(buf, 0);
        buf.putShort(4, (short) 2).putInt(124, crc(buf.array(), 0));
        FormatException v = assertThrows(FormatException.class, () -> new SlotHeader().decode(buf, 0, 4096));
        assertEquals("slot header format version 2, expected 3", v.getMessage());

        h.encode(buf, 0);
        buf.putInt(0, 0x12345678).putInt(124, crc(buf.array(), 0));
        FormatException m = assertThrows(FormatException.class, () -> new SlotHeader().decode(buf, 0, 4096));
        assertEquals("slot header magic 12345678, expected 4c53564b", m.getMessage());

        h.encode(buf, 0);
        buf.put(100, (byte) 1);
        FormatException c = assertThrows(FormatException.class, () -> new SlotHeader().decode(buf, 0, 4096));
        assertEquals("slot header checksum mismatch", c.getMessage(), "a reserved byte is covered by the CRC");
    }

    @Test
    void fieldsOutOfRangeAreRejectedEvenWithAValidChecksum() throws FormatException {
        ByteBuffer buf = ByteBuffer.allocate(SlotHeader.BYTES);
        String[] expected = {"position -1", "block length 0", "block length 4097", "stored length 0",
            "stored length 101", "codec 3", "raw payload of 50 bytes for a block of 100"};
        for (int i = 0; i < expected.length; i++) {
            SlotHeader h = valid();
            switch (i) {
                case 0 -> h.position = -1;
                case 1 -> h.blockLength = 0;
                case 2 -> h.blockLength = h.storedLength = 4097;
                case 3 -> h.storedLength = 0;
                case 4 -> h.storedLength = 101;
                case 5 -> h.codec = 3;
                default -> {
                    h.codec = 0;
                    h.storedLength = 50;
                }
            }
            h.encode(buf, 0);
            FormatException e = assertThrows(FormatException.class, () -> new SlotHeader().decode(buf, 0, 4096));
            assertEquals("slot header field out of range: " + expected[i], e.getMessage());
        }
        SlotHeader h = valid();
        h.codec = 0;
        h.storedLength = h.blockLength = 4096;
        h.encode(buf, 0);
        assertEquals(4096, new SlotHeader().decode(buf, 0, 4096).blockLength, "the maximum itself is allowed");
    }

    @Test
    void anEmptyHeaderIsAllZeroAndDoesNotDecode() {
        byte[] raw = new byte[300];
        Arrays.fill(raw, (byte) 7);
        ByteBuffer buf = ByteBuffer.wrap(raw);
        valid().encode(buf, 50);
        assertFalse(SlotHeader.isEmpty(buf, 50));
        SlotHeader.encodeEmpty(buf, 50);
        assertTrue(SlotHeader.isEmpty(buf, 50));
        assertEquals(7, raw[49]);
        assertEquals(7, raw[178]);
        FormatException e = assertThrows(FormatException.class, () -> new SlotHeader().decode(buf, 50, 4096));
        assertTrue(e.getMessage().startsWith("slot header magic 00000000"), e.getMessage());
        assertFalse(SlotHeader.isEmpty(buf, 49), "a single non-zero byte makes it non-empty");
    }

    static SlotHeader valid() {
        SlotHeader h = new SlotHeader();
        h.codec = 1;
        h.keyHi = 1;
        h.keyLo = 2;
        h.parentHi = 3;
        h.parentLo = 4;
        h.namespaceHi = 5;
        h.namespaceLo = 6;
        h.position = 7;
        h.storedLength = 50;
        h.blockLength = 100;
        h.payloadCrc = 8;
        h.epoch = 9;
        h.deviceId = 10;
        return h;
    }

    static int crc(byte[] b, int at) {
        CRC32C crc = new CRC32C();
        crc.update(b, at, 124);
        return (int) crc.getValue();
    }

    private static byte[] le(long v) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array();
    }

    private static ByteBuffer copy(ByteBuffer b) {
        ByteBuffer c = ByteBuffer.allocate(b.capacity());
        c.put(b.duplicate().clear()).clear();
        return c;
    }

    private static SlotHeader decodeOrFail(ByteBuffer buf, int at, int maxBlock) {
        return decodeOrFail(buf, at, maxBlock, new SlotHeader());
    }

    private static SlotHeader decodeOrFail(ByteBuffer buf, int at, int maxBlock, SlotHeader into) {
        try {
            return into.decode(buf, at, maxBlock);
        } catch (FormatException e) {
            return fail("a header just encoded does not decode: " + e.getMessage());
        }
    }
}
