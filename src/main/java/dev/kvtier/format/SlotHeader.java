package dev.kvtier.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * The header at the start of every slot, {@link #BYTES} bytes, little-endian:
 *
 * <pre>
 * offset size field
 *      0    4 magic              0x4C53564B ("KVSL")
 *      4    2 format version     {@link DeviceLayout#FORMAT_VERSION}
 *      6    1 codec id           0 raw, 1 LZ4, 2 LZ4 after a 2-byte shuffle
 *      7    1 reserved           0
 *      8    8 key hi             the block's 128-bit key
 *     16    8 key lo
 *     24    8 parent hi          the parent block's key, or the namespace root for position 0
 *     32    8 parent lo
 *     40    8 namespace hi       the namespace fingerprint (key chain root)
 *     48    8 namespace lo
 *     56    4 position           0 for a prompt's first block
 *     60    4 stored length      payload bytes on the device (compressed or raw)
 *     64    4 block length       payload bytes after decoding
 *     68    4 payload CRC32C     of the stored payload bytes
 *     72    8 write epoch        increases with every write to the device
 *     80    8 device id          the superblock's creation id; a slot from an earlier life is stale
 *     88   12 nonce              on a sealed device ({@link SlotSeal}): the AES-GCM nonce; else 0
 *    100   16 tag                on a sealed device: the AES-GCM tag over the payload, with bytes
 *                                0..87 (payload CRC as 0) as associated data; else 0
 *    116    8 reserved           0
 *    124    4 header CRC32C      of bytes 0..123
 * </pre>
 *
 * A slot is valid only if its header decodes; its payload only if the payload CRC matches as
 * well (and, sealed, only if its tag does). The header checksum is separate from the payload checksum, so headers can be scanned
 * at open without reading payloads. A zeroed header (magic 0) marks an empty slot.
 *
 * <p>Mutable, so that a thread can decode many headers into one instance; not thread-safe. With
 * a little-endian buffer, encode and decode allocate nothing.
 */
public final class SlotHeader {
    public static final int BYTES = 128;
    public static final int MAGIC = 0x4C53564B;
    private static final int CRC_OFFSET = 124;
    private static final int NONCE_OFFSET = 88;
    private static final int TAG_OFFSET = NONCE_OFFSET + SlotSeal.NONCE_BYTES;
    /** Header bytes a sealed slot's tag covers besides its payload. */
    public static final int AAD_BYTES = NONCE_OFFSET;

    public int codec;
    public long keyHi;
    public long keyLo;
    public long parentHi;
    public long parentLo;
    public long namespaceHi;
    public long namespaceLo;
    public int position;
    public int storedLength;
    public int blockLength;
    public int payloadCrc;
    public long epoch;
    public long deviceId;
    /** AES-GCM nonce of a sealed slot (see {@link SlotSeal}). */
    public final byte[] nonce = new byte[SlotSeal.NONCE_BYTES];
    /** AES-GCM tag of a sealed slot. */
    public final byte[] tag = new byte[SlotSeal.TAG_BYTES];

    private final CRC32C crc = new CRC32C();

    /** Writes this header into {@code dst[at, at+BYTES)} without moving its position. */
    public void encode(ByteBuffer dst, int at) {
        ByteBuffer b = littleEndian(dst);
        b.putInt(at, MAGIC).putShort(at + 4, (short) DeviceLayout.FORMAT_VERSION).put(at + 6, (byte) codec)
                .put(at + 7, (byte) 0)
                .putLong(at + 8, keyHi).putLong(at + 16, keyLo).putLong(at + 24, parentHi)
                .putLong(at + 32, parentLo).putLong(at + 40, namespaceHi).putLong(at + 48, namespaceLo)
                .putInt(at + 56, position).putInt(at + 60, storedLength).putInt(at + 64, blockLength)
                .putInt(at + 68, payloadCrc).putLong(at + 72, epoch).putLong(at + 80, deviceId);
        b.put(at + NONCE_OFFSET, nonce).put(at + TAG_OFFSET, tag);
        for (int i = TAG_OFFSET + SlotSeal.TAG_BYTES; i < CRC_OFFSET; i++) {
            b.put(at + i, (byte) 0);
        }
        b.putInt(at + CRC_OFFSET, crc(b, at));
    }

    /**
     * Writes the bytes a sealed slot authenticates ({@link #AAD_BYTES}: the header up to the
     * nonce, with the payload CRC as 0, which is computed after sealing) into {@code dst[0, AAD_BYTES)}.
     */
    public void encodeAad(ByteBuffer dst) {
        int crc = payloadCrc;
        payloadCrc = 0;
        encode(dst, 0);
        payloadCrc = crc;
    }

    /** Writes an empty (invalid) header: all zero. Its position and limit are unchanged. */
    public static void encodeEmpty(ByteBuffer dst, int at) {
        for (int i = 0; i < BYTES; i++) {
            dst.put(at + i, (byte) 0);
        }
    }

    /** True when {@code src[at, at+BYTES)} is all zero (a slot never written or wiped). */
    public static boolean isEmpty(ByteBuffer src, int at) {
        for (int i = 0; i < BYTES; i++) {
            if (src.get(at + i) != 0) {
                return false;
            }
        }
        return true;
    }

    /**
     * Reads a header from {@code src[at, at+BYTES)}, reading nothing outside that range.
     *
     * @throws FormatException when the bytes are not a valid header of this format
     */
    public SlotHeader decode(ByteBuffer src, int at, int maxBlockLength) throws FormatException {
        if (at < 0 || src.limit() - at < BYTES) {
            throw new FormatException("slot header needs " + BYTES + " bytes at " + at + ", buffer has "
                    + Math.max(0, src.limit() - at));
        }
        ByteBuffer b = littleEndian(src);
        int magic = b.getInt(at);
        if (magic != MAGIC) {
            throw new FormatException(String.format("slot header magic %08x, expected %08x", magic, MAGIC));
        }
        if (b.getInt(at + CRC_OFFSET) != crc(b, at)) {
            throw new FormatException("slot header checksum mismatch");
        }
        int version = b.getShort(at + 4) & 0xFFFF;
        if (version != DeviceLayout.FORMAT_VERSION) {
            throw new FormatException("slot header format version " + version + ", expected "
                    + DeviceLayout.FORMAT_VERSION);
        }
        codec = b.get(at + 6) & 0xFF;
        keyHi = b.getLong(at + 8);
        keyLo = b.getLong(at + 16);
        parentHi = b.getLong(at + 24);
        parentLo = b.getLong(at + 32);
        namespaceHi = b.getLong(at + 40);
        namespaceLo = b.getLong(at + 48);
        position = b.getInt(at + 56);
        storedLength = b.getInt(at + 60);
        blockLength = b.getInt(at + 64);
        payloadCrc = b.getInt(at + 68);
        epoch = b.getLong(at + 72);
        deviceId = b.getLong(at + 80);
        b.get(at + NONCE_OFFSET, nonce).get(at + TAG_OFFSET, tag);
        if (position < 0) {
            throw outOfRange("position " + position);
        }
        if (blockLength <= 0 || blockLength > maxBlockLength) {
            throw outOfRange("block length " + blockLength);
        }
        if (storedLength <= 0 || storedLength > blockLength) {
            throw outOfRange("stored length " + storedLength);
        }
        if (codec > 2) {
            throw outOfRange("codec " + codec);
        }
        if (codec == 0 && storedLength != blockLength) {
            throw outOfRange("raw payload of " + storedLength + " bytes for a block of " + blockLength);
        }
        return this;
    }

    private static FormatException outOfRange(String what) {
        return new FormatException("slot header field out of range: " + what);
    }

    private int crc(ByteBuffer b, int at) {
        int position = b.position();
        int limit = b.limit();
        crc.reset();
        crc.update(b.limit(at + CRC_OFFSET).position(at));
        b.limit(limit).position(position);
        return (int) crc.getValue();
    }

    private static ByteBuffer littleEndian(ByteBuffer b) {
        return b.order() == ByteOrder.LITTLE_ENDIAN ? b : b.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    }
}
