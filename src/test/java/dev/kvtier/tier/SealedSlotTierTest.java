package dev.kvtier.tier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.kvtier.codec.Codecs;
import dev.kvtier.codec.Lz4Codec;
import dev.kvtier.format.SlotHeader;
import dev.kvtier.format.SlotSeal;
import dev.kvtier.tier.SlotTier.ReadStatus;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * A sealed device: blocks round-trip raw and compressed, the device holds no plaintext, and a
 * payload or header altered with every checksum recomputed fails the tag. A header with an
 * epoch far in the future is neither found nor kept over other blocks of its set.
 */
class SealedSlotTierTest {
    private static final int BLOCK = 4096;
    private static final SlotSeal SEAL = SlotSeal.of("sealed slot tier test secret....".getBytes(StandardCharsets.US_ASCII));

    @Test
    void blocksRoundTripAndTheDeviceHoldsNoPlaintext() throws Exception {
        for (boolean lz4 : new boolean[] {false, true}) {
            MemoryDevice d = new MemoryDevice(1 << 20, 1);
            try (SlotTier t = SlotTier.open(d, 16, BLOCK, lz4 ? Codecs.byId(Lz4Codec.ID_LZ4) : null, false, 4, SEAL)) {
                ByteBuffer block = text(BLOCK);
                t.write(0, block, header(1));
                ByteBuffer out = ByteBuffer.allocateDirect(BLOCK);
                assertEquals(ReadStatus.OK, t.read(0, 1, 1, 7, 7, out));
                assertEquals(block.rewind(), out.rewind(), "lz4 " + lz4);
                assertFalse(contains(d.bytes, "kv of a prompt".getBytes(StandardCharsets.US_ASCII)),
                        "plaintext on the device (lz4 " + lz4 + ")");
            }
        }
    }

    /**
     * A raw block is opened straight into a destination the JDK's cipher takes (heap, direct, a
     * slice of a direct buffer) and through scratch into one it does not (a DRAM page view,
     * whose attachment is Chronicle's store): the same bytes either way, poisoned first.
     */
    @Test
    void blocksOpenIntoEveryKindOfDestination() throws Exception {
        MemoryDevice d = new MemoryDevice(1 << 20, 1);
        try (SlotTier t = SlotTier.open(d, 16, BLOCK, null, false, 4, SEAL); DramTier dram = new DramTier(2L * BLOCK, BLOCK)) {
            ByteBuffer block = text(BLOCK);
            t.write(0, block, header(1));
            ByteBuffer[] into = {ByteBuffer.allocate(BLOCK), ByteBuffer.allocateDirect(BLOCK),
                    ByteBuffer.allocateDirect(3 * BLOCK).position(BLOCK).limit(2 * BLOCK).slice(), dram.window().of(1)};
            boolean[] straight = {true, true, true, false};
            for (int i = 0; i < into.length; i++) {
                ByteBuffer out = into[i];
                assertEquals(straight[i], SlotSeal.cipherTakes(out), "destination " + i);
                for (int k = out.position(); k < out.limit(); k++) {
                    out.put(k, (byte) 0x5A);
                }
                assertEquals(ReadStatus.OK, t.read(0, 1, 1, 7, 7, out), "destination " + i);
                assertEquals(block.rewind(), out, "destination " + i);
            }
        }
    }

    @Test
    void anAlteredPayloadOrHeaderWithValidChecksumsFailsTheTag() throws Exception {
        MemoryDevice d = new MemoryDevice(1 << 20, 1);
        try (SlotTier t = SlotTier.open(d, 16, BLOCK, null, false, 4, SEAL)) {
            t.write(0, text(BLOCK), header(1));
            long headerAt = t.layout().headerOffset(0);
            long payloadAt = t.layout().payloadOffset(0);
            SlotHeader h = new SlotHeader().decode(d.bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN), (int) headerAt,
                    BLOCK);
            d.bytes.put((int) payloadAt + 100, (byte) (d.bytes.get((int) payloadAt + 100) ^ 1));
            java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
            crc.update(d.bytes.duplicate().position((int) payloadAt).limit((int) payloadAt + BLOCK));
            h.payloadCrc = (int) crc.getValue();
            h.encode(d.bytes, (int) headerAt);
            ByteBuffer out = ByteBuffer.allocateDirect(BLOCK);
            assertEquals(ReadStatus.UNAUTHENTIC, t.read(0, 1, 1, 7, 7, out), "a flipped payload bit under valid CRCs");

            t.write(1, text(BLOCK), header(2));
            headerAt = t.layout().headerOffset(1);
            h = new SlotHeader().decode(d.bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN), (int) headerAt, BLOCK);
            h.position = 5; // claims another place in the chain; header CRC recomputed by encode
            h.encode(d.bytes, (int) headerAt);
            assertEquals(ReadStatus.UNAUTHENTIC, t.read(1, 2, 2, 7, 7, out), "an altered header field");
        }
    }

    @Test
    void aHeaderFromTheFarFutureIsNotFoundAndIsReplacedFirst() throws Exception {
        MemoryDevice d = new MemoryDevice(1 << 20, 1);
        try (SlotTier t = SlotTier.open(d, 16, BLOCK, null, false, 4, null)) {
            SharedSlotTier sets = new SharedSlotTier(t, 4);
            long far = 3;
            long near = sameSetAs(sets, far, far);
            long probe = sameSetAs(sets, far, near);
            int[] ranked = new int[4];
            sets.rankSlots(near, near, ranked);
            int nearSlot = ranked[0];
            t.write(nearSlot, text(BLOCK), header(near));
            sets.rankSlots(far, far, ranked);
            int farSlot = ranked[0];
            t.advanceEpoch(System.currentTimeMillis() + 3_600_000L << 12); // a writer an hour ahead
            t.write(farSlot, text(BLOCK), header(far));
            assertEquals(-1, sets.find(far, far, 7, 7), "an epoch an hour ahead is not found");
            assertEquals(nearSlot, sets.find(near, near, 7, 7));
            sets.rankSlots(probe, probe, ranked);
            assertEquals(nearSlot, ranked[3], "the block of the present is kept over the one from the future: "
                    + java.util.Arrays.toString(ranked));
        }
    }

    /** A key (hi = lo) in {@code key}'s set, other than {@code key} and {@code not}. */
    private static long sameSetAs(SharedSlotTier sets, long key, long not) {
        int set = sets.setOf(key, key);
        for (long k = 1000; ; k++) {
            if (k != not && sets.setOf(k, k) == set) {
                return k;
            }
        }
    }

    private static SlotHeader header(long key) {
        SlotHeader h = new SlotHeader();
        h.keyHi = key;
        h.keyLo = key;
        h.namespaceHi = 7;
        h.namespaceLo = 7;
        return h;
    }

    private static ByteBuffer text(int n) {
        byte[] b = new byte[n];
        byte[] s = "kv of a prompt ".getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < n; i++) {
            b[i] = s[i % s.length];
        }
        return ByteBuffer.allocateDirect(n).put(b).flip();
    }

    private static boolean contains(ByteBuffer hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.capacity(); i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay.get(i + j) != needle[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }
}
