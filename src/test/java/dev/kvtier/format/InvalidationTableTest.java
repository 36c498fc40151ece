package dev.kvtier.format;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.integers;
import static org.quicktheories.generators.SourceDSL.lists;

import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The invalidation table against a model (namespace → latest epoch, and a floor that takes
 * every record's epoch when the table is full), through an encode/decode round trip after every
 * step; a record with a broken CRC is ignored, never read as another namespace.
 */
class InvalidationTableTest {
    @Test
    void recordsFollowTheModelThroughEveryRoundTrip() {
        qt().withExamples(200).forAll(lists().of(integers().between(0, 400)).ofSizeBetween(1, 300))
                .checkAssert(InvalidationTableTest::run);
    }

    private static void run(List<Integer> namespaces) {
        InvalidationTable t = InvalidationTable.EMPTY;
        Map<Integer, Long> model = new HashMap<>();
        long floor = 0;
        long epoch = 1000;
        for (int ns : namespaces) {
            epoch += 3;
            if (!model.containsKey(ns) && model.size() == InvalidationTable.RECORDS - 1) {
                floor = model.values().stream().mapToLong(Long::longValue).max().orElse(0);
                model.clear();
            }
            model.merge(ns, epoch, Math::max);
            t = roundTrip(t.with(ns + 1, -ns, epoch));
            for (int probe = 0; probe <= 400; probe += 37) {
                long at = Math.max(floor, model.getOrDefault(probe, 0L));
                assertEquals(at, t.invalidatedUpTo(probe + 1, -probe), "namespace " + probe);
                assertTrue(at == 0 || t.invalidates(probe + 1, -probe, at));
                assertFalse(t.invalidates(probe + 1, -probe, at + 1), "a later write stays valid");
            }
        }
    }

    @Test
    void aRecordWithABrokenCrcIsIgnored() {
        InvalidationTable t = InvalidationTable.EMPTY.with(7, 8, 500).with(9, 10, 600);
        ByteBuffer page = ByteBuffer.allocate(InvalidationTable.BYTES);
        t.encode(page);
        page.put(InvalidationTable.RECORD_BYTES + 3, (byte) (page.get(InvalidationTable.RECORD_BYTES + 3) ^ 1));
        InvalidationTable read = InvalidationTable.decode(page);
        assertEquals(0, read.invalidatedUpTo(7, 8), "the damaged first record");
        assertEquals(600, read.invalidatedUpTo(9, 10));
        assertEquals(0, InvalidationTable.decode(ByteBuffer.allocate(InvalidationTable.BYTES)).invalidatedUpTo(7, 8));
        assertThrows(IllegalArgumentException.class, () -> t.with(1, 2, 0));
        assertEquals(700, t.withFloor(700).invalidatedUpTo(42, 43));
    }

    private static InvalidationTable roundTrip(InvalidationTable t) {
        ByteBuffer page = ByteBuffer.allocateDirect(InvalidationTable.BYTES);
        t.encode(page);
        return InvalidationTable.decode(page);
    }
}
