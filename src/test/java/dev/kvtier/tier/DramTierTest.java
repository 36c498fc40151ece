package dev.kvtier.tier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ReadOnlyBufferException;
import java.util.HashSet;
import java.util.Set;
import net.openhft.chronicle.core.Jvm;
import net.openhft.chronicle.core.UnsafeMemory;
import net.openhft.chronicle.core.io.BackgroundResourceReleaser;
import org.junit.jupiter.api.Test;

/**
 * The off-heap DRAM tier: page count and stride from the capacity (never more native bytes than
 * asked for), the page allocator, byte-exact copies in and out of direct buffers, heap buffers and raw
 * addresses that leave buffer positions and neighbouring pages alone, read-only zero-copy views,
 * pages across 1 GiB chunks, and release of the native memory on close.
 */
class DramTierTest {
    private static final int BLOCK = 100; // not a multiple of the 64-byte page alignment

    @Test
    void pageCountIsCapacityOverTheAlignedStride() {
        try (DramTier t = new DramTier(1000, BLOCK)) {
            assertEquals(7, t.pageCount(), "1000 / 128");
            assertEquals(7 * 128, t.reservedBytes());
            assertEquals(7, t.freePages());
            assertEquals(BLOCK, t.blockBytes());
        }
        try (DramTier t = new DramTier(640, 64)) {
            assertEquals(10, t.pageCount());
        }
    }

    @Test
    void reservedBytesNeverExceedTheCapacity() {
        for (int block : new int[] {1, 63, 64, 65, 100, 4096, 4099}) {
            for (long capacity : new long[] {block + 63L, 5L * block, 3L * ((block + 63) & -64) - 1, 100_000}) {
                if (capacity < ((block + 63) & -64)) {
                    continue;
                }
                try (DramTier t = new DramTier(capacity, block)) {
                    assertTrue(t.reservedBytes() <= capacity, block + "/" + capacity);
                    assertTrue(t.reservedBytes() + ((block + 63) & -64) > capacity, "uses what fits: " + block + "/" + capacity);
                }
            }
        }
    }

    @Test
    void nativeMemoryTakenNeverExceedsTheCapacity() {
        for (long capacity : new long[] {128, 5 * 128, 5 * 128 + 1, 1000, 64 * 128}) {
            long before = nativeBytesInUse();
            try (DramTier t = new DramTier(capacity, BLOCK)) {
                long taken = nativeBytesInUse() - before;
                assertTrue(taken >= t.reservedBytes(), "pages are backed: " + taken);
                assertTrue(taken <= capacity, "capacity " + capacity + " but " + taken + " native bytes taken");
            }
        }
    }

    @Test
    void capacityBelowOnePageIsRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new DramTier(127, BLOCK));
        assertTrue(e.getMessage().contains("127"), e.getMessage());
    }

    @Test
    void allocateHandsOutEveryPageOnceThenMinusOne() {
        try (DramTier t = new DramTier(5 * 128, BLOCK)) {
            Set<Integer> pages = new HashSet<>();
            Set<Long> addresses = new HashSet<>();
            for (int i = 0; i < 5; i++) {
                int p = t.allocate();
                assertTrue(p >= 0 && p < 5, "page " + p);
                assertTrue(pages.add(p));
                assertTrue(addresses.add(t.address(p)));
            }
            assertEquals(-1, t.allocate());
            assertEquals(0, t.freePages());
            t.free(3);
            assertEquals(3, t.allocate());
            assertEquals(-1, t.allocate());
            assertEquals(128, t.address(1) - t.address(0), "pages are one aligned stride apart");
            assertThrows(IndexOutOfBoundsException.class, () -> t.free(5));
            assertThrows(IndexOutOfBoundsException.class, () -> t.address(-1));
        }
    }

    @Test
    void directBufferRoundTripLeavesPositionsAndNeighboursAlone() {
        try (DramTier t = filledTier()) {
            ByteBuffer src = ByteBuffer.allocateDirect(BLOCK + 20);
            src.put(pattern(7, BLOCK + 20)).position(10).limit(10 + BLOCK);
            t.copyIn(src, 1);
            assertEquals(10, src.position());
            assertEquals(10 + BLOCK, src.limit());
            ByteBuffer dst = ByteBuffer.allocateDirect(BLOCK + 30);
            dst.put(pattern(99, BLOCK + 30)).position(5).limit(5 + BLOCK);
            t.copyOut(1, dst);
            assertEquals(5, dst.position());
            assertEquals(5 + BLOCK, dst.limit());
            assertArrayEquals(slice(pattern(7, BLOCK + 20), 10, BLOCK), read(dst, 5, BLOCK));
            assertArrayEquals(slice(pattern(99, BLOCK + 30), 0, 5), read(dst, 0, 5), "before the position");
            assertArrayEquals(slice(pattern(99, BLOCK + 30), 5 + BLOCK, 25), read(dst, 5 + BLOCK, 25), "after the block");
            assertNeighboursIntact(t);
        }
    }

    @Test
    void heapBufferRoundTripLeavesPositionsAndNeighboursAlone() {
        try (DramTier t = filledTier()) {
            ByteBuffer src = ByteBuffer.wrap(pattern(8, BLOCK + 40)).position(3).slice().position(12).limit(12 + BLOCK);
            t.copyIn(src, 1);
            assertEquals(12, src.position());
            assertEquals(12 + BLOCK, src.limit());
            ByteBuffer dst = ByteBuffer.wrap(pattern(98, BLOCK + 30)).position(4).limit(4 + BLOCK);
            t.copyOut(1, dst);
            assertEquals(4, dst.position());
            assertEquals(4 + BLOCK, dst.limit());
            assertArrayEquals(slice(pattern(8, BLOCK + 40), 15, BLOCK), read(dst, 4, BLOCK));
            assertArrayEquals(slice(pattern(98, BLOCK + 30), 0, 4), read(dst, 0, 4), "before the position");
            assertArrayEquals(slice(pattern(98, BLOCK + 30), 4 + BLOCK, 26), read(dst, 4 + BLOCK, 26), "after the block");
            assertNeighboursIntact(t);
        }
    }

    @Test
    void rawAddressRoundTrip() {
        try (DramTier t = filledTier()) {
            ByteBuffer src = ByteBuffer.allocateDirect(BLOCK);
            src.put(pattern(9, BLOCK));
            t.copyIn(Jvm.address(src), 1);
            ByteBuffer dst = ByteBuffer.allocateDirect(BLOCK + 1);
            dst.put(BLOCK, (byte) 0x5A);
            t.copyOut(1, Jvm.address(dst));
            assertArrayEquals(pattern(9, BLOCK), read(dst, 0, BLOCK));
            assertEquals(0x5A, dst.get(BLOCK), "one byte past the block");
            assertNeighboursIntact(t);
        }
    }

    @Test
    void viewIsReadOnlyAndZeroCopy() {
        try (DramTier t = new DramTier(4 * 128, BLOCK)) {
            ByteBuffer view = t.view(2);
            assertTrue(view.isReadOnly());
            assertTrue(view.isDirect());
            assertEquals(0, view.position());
            assertEquals(BLOCK, view.capacity());
            assertEquals(BLOCK, view.limit());
            t.copyIn(ByteBuffer.wrap(pattern(3, BLOCK)), 2);
            assertArrayEquals(pattern(3, BLOCK), read(view, 0, BLOCK), "a view taken before the copy sees it");
            UnsafeMemory.MEMORY.writeByte(t.address(2) + BLOCK - 1, (byte) 0x77);
            assertEquals(0x77, view.get(BLOCK - 1), "the view is the page's memory");
            assertThrows(ReadOnlyBufferException.class, () -> view.put(0, (byte) 1));
        }
    }

    @Test
    void pagesAcrossGigabyteChunksAreDistinctMemory() {
        int block = (256 << 20) + 1; // 3 pages per 1 GiB chunk, so 4 pages take two chunks
        int stride = (block + 63) & -64;
        try (DramTier t = new DramTier(4L * stride, block)) {
            assertEquals(4, t.pageCount());
            for (int p = 0; p < 4; p++) {
                UnsafeMemory.MEMORY.writeByte(t.address(p), (byte) (p + 1));
                UnsafeMemory.MEMORY.writeByte(t.address(p) + block - 1, (byte) (p + 11));
            }
            for (int p = 0; p < 4; p++) {
                ByteBuffer view = t.view(p);
                assertEquals(block, view.capacity());
                assertEquals(p + 1, view.get(0), "first byte of page " + p);
                assertEquals(p + 11, view.get(block - 1), "last byte of page " + p);
            }
        }
    }

    @Test
    void closeReleasesTheNativeMemoryOnce() {
        DramTier t = new DramTier(4 * 128, BLOCK);
        assertFalse(t.isReleased());
        t.close();
        assertTrue(t.isReleased());
        t.close();
        assertTrue(t.isReleased());
        assertThrows(IndexOutOfBoundsException.class, () -> t.address(0), "no address into freed memory");
        assertThrows(IndexOutOfBoundsException.class, () -> t.view(0));
    }

    private static long nativeBytesInUse() {
        BackgroundResourceReleaser.releasePendingResources();
        return UnsafeMemory.MEMORY.nativeMemoryUsed();
    }

    /** A tier of 3 pages, pages 0 and 2 holding patterns 100 and 102. */
    private static DramTier filledTier() {
        DramTier t = new DramTier(3 * 128, BLOCK);
        t.copyIn(ByteBuffer.wrap(pattern(100, BLOCK)), 0);
        t.copyIn(ByteBuffer.wrap(pattern(102, BLOCK)), 2);
        return t;
    }

    private static void assertNeighboursIntact(DramTier t) {
        assertArrayEquals(pattern(100, BLOCK), read(t.view(0), 0, BLOCK), "page 0");
        assertArrayEquals(pattern(102, BLOCK), read(t.view(2), 0, BLOCK), "page 2");
    }

    private static byte[] pattern(int seed, int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (seed * 31 + i * 7 + (i >> 8));
        }
        return b;
    }

    private static byte[] slice(byte[] b, int from, int n) {
        byte[] s = new byte[n];
        System.arraycopy(b, from, s, 0, n);
        return s;
    }

    private static byte[] read(ByteBuffer b, int from, int n) {
        byte[] s = new byte[n];
        b.duplicate().clear().position(from).get(s);
        return s;
    }
}
