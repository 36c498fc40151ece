package dev.kvtier;

import static dev.kvtier.SsdFixtures.builder;
import static dev.kvtier.SsdFixtures.firstWrongByte;
import static dev.kvtier.SsdFixtures.flipByte;
import static dev.kvtier.SsdFixtures.payload;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.SsdFixtures.SlotFile;
import dev.kvtier.format.DeviceLayout;
import dev.kvtier.format.SlotHeader;
import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Bytes flipped in the headers and payloads of a closed SSD file: after a reopen, a block with a
 * broken header is not in the index (nor anything below it), a block with a broken payload is a
 * miss when read (and dropped with everything below it), and every other block is served with
 * exactly its bytes. A broken superblock refuses the file, or is formatted afresh on request.
 */
class CorruptionTest {
    private static final int BLOCK = 4096;
    private static final int CHAINS = 24;
    private static final int DEPTH = 8;
    private static final byte GUARD = (byte) 0x5C;

    @TempDir(factory = TargetTempDir.class)
    Path dir;

    static Stream<Arguments> configs() {
        return Stream.of(Arguments.of(false, Compression.NONE), Arguments.of(false, Compression.LZ4_SHUFFLE2),
                Arguments.of(true, Compression.NONE), Arguments.of(true, Compression.LZ4));
    }

    /** Chains of DEPTH blocks over two namespaces; chains 2k and 2k+1 share their first two blocks. */
    static List<BlockKey[]> chains() {
        Namespace[] ns = {SsdFixtures.namespace("corruption-a"), SsdFixtures.namespace("corruption-b")};
        List<BlockKey[]> chains = new ArrayList<>();
        for (int c = 0; c < CHAINS; c++) {
            long[] hashes = new long[DEPTH];
            for (int i = 0; i < DEPTH; i++) {
                hashes[i] = i < 2 ? (c / 2) * 1000L + i : c * 1000L + i;
            }
            chains.add(ns[(c / 2) % 2].keysFromHashes(hashes));
        }
        return chains;
    }

    /** Stores every chain, writes every block through to SSD, closes. Returns the distinct keys. */
    private Set<BlockKey> fillAndClose(Path file, boolean direct, Compression c, List<BlockKey[]> chains) {
        Set<BlockKey> all = new LinkedHashSet<>();
        try (KvTierCache cache = builder(file, BLOCK, 16, 256, direct, c).demoteAhead(1.0).build()) {
            for (BlockKey[] keys : chains) {
                ByteBuffer[] src = new ByteBuffer[keys.length];
                for (int i = 0; i < keys.length; i++) {
                    src[i] = payload(keys[i], BLOCK);
                    all.add(keys[i]);
                }
                cache.store(keys, src);
                cache.awaitIdle();
            }
            CacheStats s = cache.stats();
            assertEquals(all.size(), s.storedBlocks(Tier.SSD), "every block written through: " + s);
            assertEquals(0, s.demoteFailedBlocks(), s.toString());
            for (BlockKey[] keys : chains) {
                assertEquals(DEPTH, cache.match(keys).hitBlocks(), "all kept before the close: " + s);
            }
            if (c != Compression.NONE) {
                assertTrue(s.compressionRatio(Tier.SSD) > 1.2, "payloads compressed: " + s.compressionRatio(Tier.SSD));
            }
        }
        return all;
    }

    @ParameterizedTest
    @MethodSource("configs")
    void corruptedBlocksAreMissesAndEverythingElseIsServedExactly(boolean direct, Compression c) throws Exception {
        Path file = dir.resolve("kv.slots");
        List<BlockKey[]> chains = chains();
        Set<BlockKey> all = fillAndClose(file, direct, c, chains);

        SlotFile f = new SlotFile(file);
        assertEquals(all.size(), f.headers.size(), "one slot per block on the device");
        DeviceLayout l = f.layout;
        List<BlockKey> keys = new ArrayList<>(all);
        Random rnd = new Random(direct ? 17 : 42);
        java.util.Collections.shuffle(keys, rnd);
        Set<BlockKey> brokenHeader = new HashSet<>(keys.subList(0, 6));
        Set<BlockKey> brokenPayload = new HashSet<>(keys.subList(6, 14));
        for (BlockKey k : brokenHeader) {
            int slot = f.slotOf(k);
            flipByte(file, l.headerOffset(slot) + rnd.nextInt(SlotHeader.BYTES), 1 + rnd.nextInt(255));
        }
        for (BlockKey k : brokenPayload) {
            int slot = f.slotOf(k);
            flipByte(file, l.payloadOffset(slot) + rnd.nextInt(f.headers.get(slot).storedLength), 1 << rnd.nextInt(8));
        }

        // what a reopen must find: blocks with no broken header at or above them
        Set<BlockKey> indexed = new HashSet<>();
        for (BlockKey[] chain : chains) {
            for (BlockKey k : chain) {
                if (brokenHeader.contains(k)) {
                    break;
                }
                indexed.add(k);
            }
        }
        Set<BlockKey> dropped = new HashSet<>();
        int corruptReads = 0;
        int served = 0;
        try (KvTierCache cache = builder(file, BLOCK, 16, 256, direct, c).build()) {
            CacheStats s = cache.stats();
            assertEquals(indexed.size(), s.recoveredBlocks(Tier.SSD), s.toString());
            assertEquals(all.size() - indexed.size(), s.recoveryDiscardedSlots(Tier.SSD),
                    "broken headers and the orphans below them");
            for (BlockKey[] chain : chains) {
                int expectMatch = 0;
                while (expectMatch < DEPTH && indexed.contains(chain[expectMatch])
                        && !dropped.contains(chain[expectMatch])) {
                    expectMatch++;
                }
                PrefixMatch m = cache.match(chain);
                assertEquals(expectMatch, m.hitBlocks(), "match of a chain");
                int expectLoad = 0;
                while (expectLoad < expectMatch && !brokenPayload.contains(chain[expectLoad])) {
                    expectLoad++;
                }
                ByteBuffer[] dst = guarded(DEPTH);
                int n = cache.load(m, dst).join();
                assertEquals(expectLoad, n, "a load stops at the first broken payload");
                for (int i = 0; i < n; i++) {
                    assertEquals(-1, firstWrongByte(dst[i], chain[i]), "wrong byte in block " + i);
                    served++;
                }
                if (n < expectMatch) {
                    corruptReads++;
                    // the broken block and everything below it leave the index
                    for (BlockKey[] other : chains) {
                        for (int i = 0; i < DEPTH; i++) {
                            if (other[i].equals(chain[n])) {
                                for (int j = i; j < DEPTH; j++) {
                                    dropped.add(other[j]);
                                }
                            }
                        }
                    }
                    assertEquals(n, cache.match(chain).hitBlocks(), "the broken block is gone");
                }
            }
            s = cache.stats();
            assertTrue(corruptReads > 0, "the seed reaches a broken payload");
            assertEquals(corruptReads, s.corruptBlocks(Tier.SSD), s.toString());
            assertTrue(s.corruptBlocks(Tier.SSD) + s.recoveryDiscardedSlots(Tier.SSD) > 0);
            assertEquals(0, s.mismatchedBlocks(Tier.SSD));
            assertEquals(0, s.readErrors(Tier.SSD));
            assertTrue(served > all.size() / 2, "most blocks served: " + served);
            ((TieredCache) cache).checkInvariants();
        }

        // the blocks dropped for a broken payload and the slots with broken headers were wiped
        Set<BlockKey> left = new HashSet<>(indexed);
        left.removeAll(dropped);
        try (KvTierCache cache = builder(file, BLOCK, 16, 256, direct, c).build()) {
            CacheStats s = cache.stats();
            assertEquals(left.size(), s.recoveredBlocks(Tier.SSD), s.toString());
            assertEquals(0, s.recoveryDiscardedSlots(Tier.SSD), "broken headers and orphans were wiped last time");
            for (BlockKey[] chain : chains) {
                PrefixMatch m = cache.match(chain);
                ByteBuffer[] dst = guarded(DEPTH);
                int n = cache.load(m, dst).join();
                assertEquals(m.hitBlocks(), n);
                for (int i = 0; i < n; i++) {
                    assertTrue(left.contains(chain[i]));
                    assertEquals(-1, firstWrongByte(dst[i], chain[i]), "wrong byte in block " + i);
                }
            }
            assertEquals(0, cache.stats().corruptBlocks(Tier.SSD));
        }
    }

    @Test
    void aCorruptBlockEndsTheLoadAndOnlyTheBlocksBeforeItCount() throws Exception {
        // KvTierCache.load: only the returned count is valid
        for (Compression c : new Compression[] {Compression.LZ4, Compression.NONE}) {
            Path file = dir.resolve("kv-" + c + ".slots");
            List<BlockKey[]> chains = chains().subList(0, 1);
            fillAndClose(file, false, c, chains);
            SlotFile f = new SlotFile(file);
            BlockKey[] chain = chains.get(0);
            int slot = f.slotOf(chain[3]);
            flipByte(file, f.layout.payloadOffset(slot) + 10, 0xFF);
            try (KvTierCache cache = builder(file, BLOCK, 16, 256, false, c).build()) {
                ByteBuffer[] dst = guarded(DEPTH);
                assertEquals(3, cache.load(cache.match(chain), dst).join(), c.toString());
                for (int i = 0; i < 3; i++) {
                    assertEquals(-1, firstWrongByte(dst[i], chain[i]), c + ": wrong byte in block " + i);
                }
                assertEquals(3, cache.match(chain).hitBlocks(), c + ": the corrupt block and those below it are gone");
                assertEquals(1, cache.stats().corruptBlocks(Tier.SSD));
            }
        }
    }

    @ParameterizedTest
    @MethodSource("configs")
    void aBrokenSuperblockRefusesTheFileOrIsFormattedAfresh(boolean direct, Compression c) throws Exception {
        Path file = dir.resolve("kv.slots");
        List<BlockKey[]> chains = chains().subList(0, 4);
        Set<BlockKey> all = fillAndClose(file, direct, c, chains);
        String[] problems = {"no kvtier superblock", "superblock checksum mismatch", "superblock checksum mismatch"};
        int[] offsets = {3, 28, 61};
        for (int i = 0; i < offsets.length; i++) {
            flipByte(file, offsets[i], 0x10);
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> builder(file, BLOCK, 16, 256, direct, c).build());
            assertTrue(e.getMessage().contains(file + " cannot be used: " + problems[i]), e.getMessage());
            assertTrue(e.getMessage().contains("reinitialize"), "says what to do: " + e.getMessage());
            flipByte(file, offsets[i], 0x10);
        }
        flipByte(file, 40, 0x01); // the creation id: still refused, checksum
        assertThrows(IllegalStateException.class, () -> builder(file, BLOCK, 16, 256, direct, c).build());
        try (KvTierCache cache = builder(file, BLOCK, 16, 256, direct, c).reinitializeIncompatibleDevices(true)
                .build()) {
            CacheStats s = cache.stats();
            assertEquals(0, s.recoveredBlocks(Tier.SSD));
            assertEquals(0, s.recoveryDiscardedSlots(Tier.SSD), "a device formatted now is not scanned");
            for (BlockKey[] chain : chains) {
                assertEquals(0, cache.match(chain).hitBlocks());
            }
        }
        try (KvTierCache cache = builder(file, BLOCK, 16, 256, direct, c).build()) {
            CacheStats s = cache.stats();
            assertEquals(0, s.recoveredBlocks(Tier.SSD), "the fresh superblock is valid");
            assertEquals(all.size(), s.recoveryDiscardedSlots(Tier.SSD), "the old slots are stale: discarded, wiped");
        }
        assertFalse(new SlotFile(file).headers.size() > 0, "no header of the new life");
    }

    private static ByteBuffer[] guarded(int n) {
        ByteBuffer[] b = new ByteBuffer[n];
        for (int i = 0; i < n; i++) {
            b[i] = ByteBuffer.allocateDirect(BLOCK);
            for (int j = 0; j < BLOCK; j++) {
                b[i].put(j, GUARD);
            }
        }
        return b;
    }
}
