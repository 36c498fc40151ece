package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** {@link ByteSize}: binary units, exact, and a clear refusal of negative or overflowing counts. */
class ByteSizeTest {
    @Test
    void unitsAreBinaryAndExact() {
        assertEquals(3 * 1024L, ByteSize.kib(3));
        assertEquals(2L << 20, ByteSize.mib(2));
        assertEquals(64L << 30, ByteSize.gib(64));
        assertEquals(8L << 40, ByteSize.tib(8));
        assertEquals(0, ByteSize.gib(0));
    }

    @Test
    void negativeAndOverflowingCountsAreRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ByteSize.mib(-1));
        assertTrue(e.getMessage().contains("must not be negative, was -1"), e.getMessage());
        assertThrows(ArithmeticException.class, () -> ByteSize.tib(1L << 23));
        assertEquals(((1L << 23) - 1) << 40, ByteSize.tib((1L << 23) - 1), "the largest count that fits");
    }
}
