package dev.kvtier;

import dev.kvtier.format.DeviceLayout;
import dev.kvtier.format.FormatException;
import dev.kvtier.format.SlotHeader;
import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;

/** Fixtures for the SSD tier tests: cache builders, key-derived payloads, and raw access to a closed slot file. */
final class SsdFixtures {
    static final int TOKENS = 16;
    static final int PAGE = 4096;

    private SsdFixtures() {
    }

    /** Bytes an SSD file needs for at least {@code slots} slots of {@code blockBytes} (whole pages). */
    static long ssdBytes(int slots, int blockBytes, boolean direct) {
        int a = direct ? PAGE : 1;
        long slot = align(SlotHeader.BYTES, a) + align(blockBytes, a);
        return align(DeviceLayout.METADATA_BYTES + slots * slot, PAGE);
    }

    private static long align(long n, long a) {
        return (n + a - 1) / a * a;
    }

    /** A builder for a DRAM + SSD cache with room for {@code dramBlocks} and at least {@code ssdSlots} blocks. */
    static KvTierCacheBuilder builder(Path file, int blockBytes, int dramBlocks, int ssdSlots, boolean direct,
            Compression compression) {
        return KvTierCache.builder().blockTokens(TOKENS).blockBytes(blockBytes)
                .dramCapacityBytes((long) dramBlocks * ((blockBytes + 63) & -64))
                .localSsd(file, ssdBytes(ssdSlots, blockBytes, direct)).ssdDirectIo(direct).ssdCompression(compression);
    }

    /**
     * The bytes of block {@code key}, a pure function of the key that LZ4 can shrink: the first
     * quarter is key-derived noise, the rest runs of one key-derived word.
     */
    static void fill(ByteBuffer b, BlockKey key) {
        ByteBuffer d = b.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int n = d.remaining();
        int at = d.position();
        int i = 0;
        for (; i + 8 <= n; i += 8) {
            long v = i < n / 4 ? key.lo() ^ (i * 0x9E3779B97F4A7C15L) ^ key.hi() : key.lo() * 31 + (i >>> 8);
            d.putLong(at + i, v);
        }
        for (; i < n; i++) {
            d.put(at + i, (byte) (key.hi() >>> (i & 7)));
        }
    }

    static ByteBuffer payload(BlockKey key, int n) {
        ByteBuffer b = ByteBuffer.allocateDirect(n);
        fill(b, key);
        return b;
    }

    /** The index of the first byte of {@code b} (its remaining bytes) that is not block {@code key}'s, or -1. */
    static int firstWrongByte(ByteBuffer b, BlockKey key) {
        ByteBuffer want = payload(key, b.remaining());
        int m = b.mismatch(want);
        return m;
    }

    /** A closed slot file read directly: its layout and the valid header of each slot. */
    static final class SlotFile {
        final DeviceLayout layout;
        /** slot → header, for slots whose header decodes. */
        final Map<Integer, SlotHeader> headers = new LinkedHashMap<>();

        SlotFile(Path file) throws IOException, FormatException {
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                ByteBuffer sb = ByteBuffer.allocate(DeviceLayout.SUPERBLOCK_BYTES);
                ch.read(sb, 0);
                layout = DeviceLayout.decode(sb.flip());
                ByteBuffer h = ByteBuffer.allocate(SlotHeader.BYTES).order(ByteOrder.LITTLE_ENDIAN);
                for (int slot = 0; slot < layout.slotCount(); slot++) {
                    ch.read(h.clear(), layout.headerOffset(slot));
                    try {
                        SlotHeader header = new SlotHeader().decode(h, 0, layout.blockBytes());
                        if (header.deviceId == layout.creationId()) {
                            headers.put(slot, header);
                        }
                    } catch (FormatException empty) {
                        // empty or broken
                    }
                }
            }
        }

        /** The slot holding {@code key}, or -1. */
        int slotOf(BlockKey key) {
            for (Map.Entry<Integer, SlotHeader> e : headers.entrySet()) {
                if (e.getValue().keyHi == key.hi() && e.getValue().keyLo == key.lo()) {
                    return e.getKey();
                }
            }
            return -1;
        }
    }

    /** XORs the byte at {@code offset} of {@code file} with {@code mask} (non-zero). */
    static void flipByte(Path file, long offset, int mask) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(1);
            ch.read(b, offset);
            b.put(0, (byte) (b.get(0) ^ mask));
            ch.write(b.clear(), offset);
        }
    }

    static Namespace namespace(String model) {
        return Namespace.builder(model).blockTokens(TOKENS).build();
    }
}
