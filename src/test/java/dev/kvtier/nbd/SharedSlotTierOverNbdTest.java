package dev.kvtier.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.device.NbdDevice;
import dev.kvtier.format.SlotHeader;
import dev.kvtier.tier.SharedSlotTier;
import dev.kvtier.tier.SlotTier;
import dev.kvtier.tier.SlotTier.ReadStatus;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Set-associative placement on one real nbdkit export attached twice, as two inference servers
 * would: what one writes the other finds by the key alone; a full set gives up its oldest
 * block; and writers racing for the same slots cost misses, never a block served under the
 * wrong key (every payload is a function of its key, so "read OK" must mean "exact bytes").
 */
class SharedSlotTierOverNbdTest {
    private static final int BLOCK = 16 * 1024;
    private static final long NS_HI = 0x1111;
    private static final long NS_LO = 0x2222;

    @Test
    void aBlockOneServerWritesTheOtherFindsByItsKey() throws Exception {
        try (NbdServer server = NbdServer.nbdkit("memory", "64M");
                NbdDevice a = NbdDevice.open(server.uri(), 8L << 20, 1, 5_000);
                NbdDevice b = NbdDevice.open(server.uri(), 8L << 20, 1, 5_000)) {
            SharedSlotTier writer = new SharedSlotTier(SlotTier.open(a, 16, BLOCK, null, false), 4);
            SharedSlotTier reader = new SharedSlotTier(SlotTier.open(b, 16, BLOCK, null, false), 4);
            assertEquals(writer.slots().layout().creationId(), reader.slots().layout().creationId(),
                    "the second server joined the first one's device");
            List<Long> keys = new ArrayList<>();
            for (long k = 1; k <= writer.sets(); k++) {
                long key = k * 0x9E3779B97F4A7C15L;
                writer.write(payload(key), header(key));
                keys.add(key);
            }
            int found = 0;
            for (long key : keys) {
                int slot = reader.find(key, lo(key), NS_HI, NS_LO);
                if (slot >= 0) {
                    found++;
                    ByteBuffer dst = ByteBuffer.allocateDirect(BLOCK);
                    assertEquals(ReadStatus.OK, reader.slots().read(slot, key, lo(key), NS_HI, NS_LO, dst));
                    assertEquals(payload(key), dst);
                }
            }
            assertTrue(found > keys.size() / 2, "most blocks found through the key alone: " + found);
            assertEquals(-1, reader.find(12345, 678, NS_HI, NS_LO), "an absent key");
        }
    }

    @Test
    void aFullSetGivesUpItsOldestBlock() throws Exception {
        try (NbdServer server = NbdServer.nbdkit("memory", "64M");
                NbdDevice d = NbdDevice.open(server.uri(), 8L << 20, 1, 5_000)) {
            SharedSlotTier t = new SharedSlotTier(SlotTier.open(d, 16, BLOCK, null, false), 4);
            long[] sameSet = keysInOneSet(t, 5);
            for (long key : sameSet) {
                t.write(payload(key), header(key));
            }
            assertEquals(-1, t.find(sameSet[0], lo(sameSet[0]), NS_HI, NS_LO), "the oldest went");
            for (int i = 1; i < 5; i++) {
                assertNotEquals(-1, t.find(sameSet[i], lo(sameSet[i]), NS_HI, NS_LO), "block " + i + " stays");
            }
            int refreshed = t.chooseSlot(sameSet[2], lo(sameSet[2]));
            assertEquals(t.find(sameSet[2], lo(sameSet[2]), NS_HI, NS_LO), refreshed, "a rewrite reuses the key's slot");
        }
    }

    @Test
    void writersRacingForOneSetNeverServeAWrongBlock() throws Exception {
        try (NbdServer server = NbdServer.nbdkit("memory", "64M")) {
            NbdDevice[] devices = {NbdDevice.open(server.uri(), 8L << 20, 1, 5_000),
                NbdDevice.open(server.uri(), 8L << 20, 1, 5_000)};
            SharedSlotTier[] tiers = {new SharedSlotTier(SlotTier.open(devices[0], 16, BLOCK, null, false), 4),
                new SharedSlotTier(SlotTier.open(devices[1], 16, BLOCK, null, false), 4)};
            long[] keys = keysInOneSet(tiers[0], 12);
            AtomicLong wrong = new AtomicLong();
            AtomicLong served = new AtomicLong();
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                List<Future<?>> work = new ArrayList<>();
                for (int w = 0; w < 4; w++) {
                    SharedSlotTier t = tiers[w % 2];
                    SplittableRandom rnd = new SplittableRandom(w);
                    work.add(pool.submit(() -> {
                        ByteBuffer dst = ByteBuffer.allocateDirect(BLOCK);
                        for (int i = 0; i < 150; i++) {
                            long key = keys[rnd.nextInt(keys.length)];
                            if (rnd.nextBoolean()) {
                                t.write(payload(key), header(key));
                            } else {
                                int slot = t.find(key, lo(key), NS_HI, NS_LO);
                                if (slot >= 0 && t.slots().read(slot, key, lo(key), NS_HI, NS_LO, dst.clear())
                                        == ReadStatus.OK) {
                                    served.incrementAndGet();
                                    wrong.addAndGet(dst.equals(payload(key)) ? 0 : 1);
                                }
                            }
                        }
                        return null;
                    }));
                }
                for (Future<?> f : work) {
                    f.get(60, TimeUnit.SECONDS);
                }
            } finally {
                pool.shutdown();
                for (NbdDevice d : devices) {
                    d.close();
                }
            }
            assertEquals(0, wrong.get(), "blocks served under the wrong key");
            assertTrue(served.get() > 0, "the race still served blocks");
        }
    }

    /**
     * One server rewrites a block in place (same key, new bytes each time) through 4 connections;
     * nbdkit's blocksize filter applies each write as 4 KiB pieces and the delay filter holds
     * every piece 1 ms, so the slot spends most of the run half written (header and payload are
     * one write, in no order). The other attachment reads the slot all along. Every read that
     * says OK must hold exactly one whole version, and some reads must have met a half-written
     * slot (the race happened) and been refused.
     */
    @Test
    void aBlockRewrittenInPlaceReadsFromTheOtherServerAsOneWholeVersionOrAMiss() throws Exception {
        try (NbdServer server = NbdServer.nbdkit("--filter=blocksize", "--filter=delay", "memory", "64M",
                "maxdata=4k", "wdelay=1ms");
                NbdDevice a = NbdDevice.open(server.uri(), 8L << 20, 4, 30_000); // slow on a loaded machine
                NbdDevice b = NbdDevice.open(server.uri(), 8L << 20, 1, 30_000)) {
            SlotTier writer = SlotTier.open(a, 16, BLOCK, null, false, 4, null);
            SlotTier reader = SlotTier.open(b, 16, BLOCK, null, false, 4, null);
            long key = 77;
            int slot = 3;
            int versions = 20;
            ExecutorService pool = Executors.newSingleThreadExecutor();
            try {
                writer.write(slot, version(key, 0), header(key));
                Future<?> writes = pool.submit(() -> {
                    for (int v = 1; v < versions; v++) {
                        writer.write(slot, version(key, v), header(key));
                    }
                    return null;
                });
                ByteBuffer dst = ByteBuffer.allocateDirect(BLOCK);
                long reads = 0;
                long refused = 0;
                while (!writes.isDone()) {
                    ReadStatus st = reader.read(slot, key, lo(key), NS_HI, NS_LO, dst.clear());
                    reads++;
                    if (st == ReadStatus.OK) {
                        long v = dst.getLong(0);
                        assertTrue(v >= 0 && v < versions && dst.equals(version(key, (int) v)),
                                "read " + reads + " served bytes that are not one whole version (starts with " + v + ")");
                    } else {
                        refused++;
                    }
                    LockSupport.parkNanos(200_000); // a write's pieces are 1 ms apart: reads need not crowd them out
                }
                writes.get(120, TimeUnit.SECONDS);
                assertTrue(refused > 0, "no read of " + reads + " met a half-written slot: the race did not happen");
                assertEquals(ReadStatus.OK, reader.read(slot, key, lo(key), NS_HI, NS_LO, dst.clear()));
                assertEquals(version(key, versions - 1), dst, "the last version stays");
            } finally {
                pool.shutdownNow();
            }
        }
    }

    /** Version {@code v} of a key's block: the version number first, then bytes of key and version. */
    private static ByteBuffer version(long key, int v) {
        ByteBuffer b = ByteBuffer.allocateDirect(BLOCK);
        b.putLong(0, v);
        for (int i = 8; i < BLOCK; i += 8) {
            b.putLong(i, key * 31 + i + (long) v * 1_000_003);
        }
        return b;
    }

    private static long[] keysInOneSet(SharedSlotTier t, int n) {
        long[] keys = new long[n];
        int set = t.setOf(1, lo(1));
        int found = 0;
        for (long k = 1; found < n; k++) {
            if (t.setOf(k, lo(k)) == set) {
                keys[found++] = k;
            }
        }
        return keys;
    }

    /** The low half of a test key: any function that spreads keys over sets. */
    private static long lo(long key) {
        return Long.rotateLeft(key * 0x9E3779B97F4A7C15L, 17) ^ 0x5555;
    }

    private static SlotHeader header(long key) {
        SlotHeader h = new SlotHeader();
        h.keyHi = key;
        h.keyLo = lo(key);
        h.parentHi = NS_HI;
        h.parentLo = NS_LO;
        h.namespaceHi = NS_HI;
        h.namespaceLo = NS_LO;
        return h;
    }

    /** A payload that is a pure function of the key. */
    private static ByteBuffer payload(long key) {
        ByteBuffer b = ByteBuffer.allocateDirect(BLOCK);
        for (int i = 0; i < BLOCK; i += 8) {
            b.putLong(i, key * 31 + i);
        }
        return b;
    }
}
