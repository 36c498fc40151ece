package dev.kvtier.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * The on-device layout shared by every persistent tier, defined in this one place:
 *
 * <pre>
 * [0, 4096)                                superblock (below), zero-padded
 * [4096, 8192)                             {@link InvalidationTable}: namespaces invalidated, each with an epoch
 * [8192 + i * slotBytes, ...)              slot i, for i in [0, slotCount):
 *     [0, headerBytes)                      {@link SlotHeader}, zero-padded
 *     [headerBytes, slotBytes)              payload: stored length bytes, then unused
 * </pre>
 *
 * {@code headerBytes} is {@link SlotHeader#BYTES} rounded up to the device alignment (at most
 * 4096, so the metadata pages stay aligned); {@code slotBytes} is
 * {@code headerBytes} plus the block size rounded up to the alignment, so every header and
 * payload starts aligned (as O_DIRECT needs).
 *
 * <p>Superblock, little-endian:
 *
 * <pre>
 * offset size field
 *      0    8 magic            0x425352454954564B: the bytes "KVTIERSB"
 *      8    4 format version   {@link #FORMAT_VERSION}; bumped on every change to this layout
 *     12    4 alignment        bytes
 *     16    4 header bytes
 *     20    4 slot bytes
 *     24    8 slot count
 *     32    4 block tokens
 *     36    4 block bytes      largest payload after decoding
 *     40    8 creation id      random, chosen when the device is formatted
 *     48    4 ways             slots per set of a shared device ({@code SharedSlotTier}); 0 for a local one
 *     52    8 key check        a sealed device's {@link SlotSeal#keyCheck} of its creation id; 0 unsealed
 *     60    4 CRC32C           of bytes 0..59
 * </pre>
 */
public final class DeviceLayout {
    /**
     * Version of the superblock, invalidation table and slot header layouts. 2: the invalidation
     * table. 3: ways and key check in the superblock, nonce and tag in the slot header.
     */
    public static final int FORMAT_VERSION = 3;
    public static final long MAGIC = 0x425352454954564BL;
    public static final int SUPERBLOCK_BYTES = 4096;
    /** Where the slots begin: after the superblock and the invalidation table. */
    public static final int METADATA_BYTES = SUPERBLOCK_BYTES + InvalidationTable.BYTES;
    private static final int SUPERBLOCK_USED = 64;

    private final int alignment;
    private final int headerBytes;
    private final int slotBytes;
    private final long slotCount;
    private final int blockTokens;
    private final int blockBytes;
    private final long creationId;
    private final int ways;
    private final long keyCheck;

    /** A local, unsealed device's layout. */
    public DeviceLayout(int alignment, long slotCount, int blockTokens, int blockBytes, long creationId) {
        this(alignment, slotCount, blockTokens, blockBytes, creationId, 0, 0);
    }

    /**
     * @param ways slots per set of a shared device, 0 for a local one
     * @param keyCheck a sealed device's key check ({@link SlotSeal#keyCheck}), 0 unsealed
     */
    public DeviceLayout(int alignment, long slotCount, int blockTokens, int blockBytes, long creationId, int ways,
            long keyCheck) {
        if (alignment < 1 || Integer.bitCount(alignment) != 1 || alignment > SUPERBLOCK_BYTES) {
            throw new IllegalArgumentException("alignment must be a power of two up to 4096, was " + alignment);
        }
        this.alignment = alignment;
        this.headerBytes = align(SlotHeader.BYTES, alignment);
        this.slotBytes = headerBytes + align(blockBytes, alignment);
        this.slotCount = slotCount;
        this.blockTokens = blockTokens;
        this.blockBytes = blockBytes;
        this.creationId = creationId;
        this.ways = ways;
        this.keyCheck = keyCheck;
    }

    /** This layout for a device shared in sets of {@code ways} and sealed with {@code keyCheck} (0: unsealed). */
    public DeviceLayout withPlacement(int ways, long keyCheck) {
        return new DeviceLayout(alignment, slotCount, blockTokens, blockBytes, creationId, ways, keyCheck);
    }

    /** The most slots of this geometry that fit in {@code deviceBytes}. */
    public static long slotsThatFit(long deviceBytes, int alignment, int blockBytes) {
        long slot = align(SlotHeader.BYTES, alignment) + (long) align(blockBytes, alignment);
        return Math.max(0, (deviceBytes - METADATA_BYTES) / slot);
    }

    /** The fewest device bytes that hold {@code slots} slots of this geometry. */
    public static long bytesFor(long slots, int alignment, int blockBytes) {
        long slot = align(SlotHeader.BYTES, alignment) + (long) align(blockBytes, alignment);
        return METADATA_BYTES + slots * slot;
    }

    public int alignment() {
        return alignment;
    }

    public int headerBytes() {
        return headerBytes;
    }

    public int slotBytes() {
        return slotBytes;
    }

    public long slotCount() {
        return slotCount;
    }

    public int blockTokens() {
        return blockTokens;
    }

    public int blockBytes() {
        return blockBytes;
    }

    public long creationId() {
        return creationId;
    }

    /** Slots per set of a shared device; 0 for a local one. */
    public int ways() {
        return ways;
    }

    /** Whether the device's slots are sealed ({@link SlotSeal}). */
    public boolean sealed() {
        return keyCheck != 0;
    }

    public long keyCheck() {
        return keyCheck;
    }

    /** Bytes of the device this layout uses. */
    public long deviceBytes() {
        return METADATA_BYTES + slotCount * slotBytes;
    }

    /** Device offset of slot {@code slot}'s header. */
    public long headerOffset(long slot) {
        return METADATA_BYTES + slot * slotBytes;
    }

    /** Device offset of slot {@code slot}'s payload. */
    public long payloadOffset(long slot) {
        return headerOffset(slot) + headerBytes;
    }

    /** {@code n} rounded up to the alignment. */
    public int aligned(int n) {
        return align(n, alignment);
    }

    /** Writes the superblock into {@code dst[0, SUPERBLOCK_BYTES)}. */
    public void encode(ByteBuffer dst) {
        ByteBuffer b = dst.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < SUPERBLOCK_BYTES; i++) {
            b.put(i, (byte) 0);
        }
        b.putLong(0, MAGIC).putInt(8, FORMAT_VERSION).putInt(12, alignment).putInt(16, headerBytes)
                .putInt(20, slotBytes).putLong(24, slotCount).putInt(32, blockTokens).putInt(36, blockBytes)
                .putLong(40, creationId).putInt(48, ways).putLong(52, keyCheck);
        b.putInt(60, crc(b));
    }

    /**
     * Reads a superblock from {@code src[0, SUPERBLOCK_BYTES)}.
     *
     * @throws FormatException when it is not a valid superblock of this format version
     */
    public static DeviceLayout decode(ByteBuffer src) throws FormatException {
        if (src.limit() < SUPERBLOCK_USED) {
            throw new FormatException("superblock needs " + SUPERBLOCK_USED + " bytes, got " + src.limit());
        }
        ByteBuffer b = src.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        if (b.getLong(0) != MAGIC) {
            throw new FormatException(String.format("no kvtier superblock (magic %016x)", b.getLong(0)));
        }
        if (b.getInt(60) != crc(b)) {
            throw new FormatException("superblock checksum mismatch");
        }
        int version = b.getInt(8);
        if (version != FORMAT_VERSION) {
            throw new FormatException("device format version " + version + ", this kvtier reads version "
                    + FORMAT_VERSION);
        }
        int alignment = b.getInt(12);
        long slots = b.getLong(24);
        int blockBytes = b.getInt(36);
        if (alignment < 1 || Integer.bitCount(alignment) != 1 || alignment > SUPERBLOCK_BYTES || slots < 0
                || blockBytes < 1 || blockBytes > (1 << 30)) {
            throw new FormatException("superblock fields out of range: alignment " + alignment + ", slots "
                    + slots + ", block bytes " + blockBytes);
        }
        int ways = b.getInt(48);
        if (ways < 0 || ways > 64) {
            throw new FormatException("superblock ways out of range: " + ways);
        }
        DeviceLayout layout = new DeviceLayout(alignment, slots, b.getInt(32), blockBytes, b.getLong(40), ways,
                b.getLong(52));
        if (layout.headerBytes != b.getInt(16) || layout.slotBytes != b.getInt(20)) {
            throw new FormatException("superblock slot geometry " + b.getInt(16) + "+" + b.getInt(20)
                    + " does not follow from its alignment and block size");
        }
        return layout;
    }

    /** Why a device with this layout cannot serve {@code wanted}, or null when it can. */
    public String incompatibility(DeviceLayout wanted) {
        if (blockTokens != wanted.blockTokens) {
            return "it holds blocks of " + blockTokens + " tokens, this cache uses " + wanted.blockTokens;
        }
        if (blockBytes != wanted.blockBytes) {
            return "it holds blocks of " + blockBytes + " bytes, this cache uses " + wanted.blockBytes;
        }
        if (slotBytes != wanted.slotBytes) {
            return "its slots are " + slotBytes + " bytes, this cache needs " + wanted.slotBytes;
        }
        if (slotCount != wanted.slotCount) {
            return "it has " + slotCount + " slots, this cache is configured for " + wanted.slotCount;
        }
        if (ways != wanted.ways) {
            return "its slots are placed in sets of " + ways + ", this cache uses " + wanted.ways
                    + " (every server sharing it must set the same RemoteTier ways, or leave them unset to take the export's)";
        }
        if (sealed() != wanted.sealed()) {
            return sealed() ? "its blocks are sealed with a secret and this cache has none (set RemoteTier.Builder.secret)"
                    : "its blocks are not sealed and this cache has a secret; reformat it to seal them";
        }
        return null;
    }

    private static int crc(ByteBuffer b) {
        CRC32C crc = new CRC32C();
        crc.update(b.duplicate().position(0).limit(60));
        return (int) crc.getValue();
    }

    private static int align(int n, int alignment) {
        return (n + alignment - 1) & -alignment;
    }

    @Override
    public String toString() {
        return "DeviceLayout[v" + FORMAT_VERSION + ", " + slotCount + " slots of " + slotBytes + " bytes, block "
                + blockTokens + " tokens / " + blockBytes + " bytes, alignment " + alignment
                + (ways > 0 ? ", sets of " + ways : "") + (sealed() ? ", sealed" : "") + "]";
    }
}
