package dev.kvtier.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.zip.CRC32C;

/**
 * The durable record of invalidated namespaces, the 4 KiB page after the superblock
 * ({@link DeviceLayout}): a block of namespace {@code n} whose write epoch is at most the
 * epoch recorded for {@code n} is invalid, on this device, for good; blocks written after are
 * not. Recovery and lookups on a shared device skip invalid blocks, so an invalidation holds
 * across a {@code kill -9} and for every server attached to the device, whether or not the
 * slots were wiped. Immutable: {@link #with} returns a new table.
 *
 * <p>Page layout, little-endian: {@value #RECORDS} records of {@value #RECORD_BYTES} bytes:
 *
 * <pre>
 * offset size field
 *      0    8 namespace hi     (0, 0) in record 0: the floor, which applies to every namespace
 *      8    8 namespace lo
 *     16    8 epoch            blocks written at or before it are invalid
 *     24    4 CRC32C           of bytes 0..23
 *     28    4 reserved         0
 * </pre>
 *
 * An all-zero record is empty; a record whose CRC does not match is ignored. When every record
 * is taken, the table folds into the floor: it then invalidates every block written before the
 * newest epoch it held, of any namespace (misses, never wrong bytes).
 */
public final class InvalidationTable {
    public static final int BYTES = 4096;
    public static final int RECORD_BYTES = 32;
    public static final int RECORDS = BYTES / RECORD_BYTES;
    /** An empty table. */
    public static final InvalidationTable EMPTY = new InvalidationTable(new long[RECORDS], new long[RECORDS],
            new long[RECORDS]);

    private final long[] nsHi;
    private final long[] nsLo;
    /** Per record, its epoch; 0 for an empty record. */
    private final long[] epoch;

    private InvalidationTable(long[] nsHi, long[] nsLo, long[] epoch) {
        this.nsHi = nsHi;
        this.nsLo = nsLo;
        this.epoch = epoch;
    }

    /** Reads a table from {@code src[0, BYTES)}; records that fail their CRC are left out. */
    public static InvalidationTable decode(ByteBuffer src) {
        ByteBuffer b = src.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        long[] hi = new long[RECORDS];
        long[] lo = new long[RECORDS];
        long[] ep = new long[RECORDS];
        for (int i = 0; i < RECORDS; i++) {
            int at = i * RECORD_BYTES;
            if (b.getLong(at + 16) != 0 && b.getInt(at + 24) == crc(b, at)) {
                hi[i] = b.getLong(at);
                lo[i] = b.getLong(at + 8);
                ep[i] = b.getLong(at + 16);
            }
        }
        return new InvalidationTable(hi, lo, ep);
    }

    /** Writes this table into {@code dst[0, BYTES)}. */
    public void encode(ByteBuffer dst) {
        ByteBuffer b = dst.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < RECORDS; i++) {
            int at = i * RECORD_BYTES;
            boolean used = epoch[i] != 0;
            b.putLong(at, used ? nsHi[i] : 0).putLong(at + 8, used ? nsLo[i] : 0).putLong(at + 16, epoch[i]);
            b.putInt(at + 24, used ? crc(b, at) : 0).putInt(at + 28, 0);
        }
    }

    /**
     * This table with namespace {@code (hi, lo)} invalidated up to {@code at} (an epoch of the
     * device; a namespace already recorded keeps the later of the two). When no record is free,
     * the records fold into the floor first (see the class comment).
     */
    public InvalidationTable with(long hi, long lo, long at) {
        if (at <= 0) {
            throw new IllegalArgumentException("an invalidation epoch must be positive, was " + at);
        }
        long[] h = nsHi.clone();
        long[] l = nsLo.clone();
        long[] e = epoch.clone();
        int free = -1;
        for (int i = 1; i < RECORDS; i++) {
            if (e[i] != 0 && h[i] == hi && l[i] == lo) {
                e[i] = Math.max(e[i], at);
                return new InvalidationTable(h, l, e);
            }
            free = free < 0 && e[i] == 0 ? i : free;
        }
        if (free < 0) {
            long floor = Arrays.stream(e).max().orElse(0);
            Arrays.fill(h, 0);
            Arrays.fill(l, 0);
            Arrays.fill(e, 0);
            e[0] = floor;
            free = 1;
        }
        h[free] = hi;
        l[free] = lo;
        e[free] = at;
        return new InvalidationTable(h, l, e);
    }

    /** This table with its floor raised to {@code at}: every block written up to then is invalid. */
    public InvalidationTable withFloor(long at) {
        long[] e = epoch.clone();
        e[0] = Math.max(e[0], at);
        return new InvalidationTable(nsHi.clone(), nsLo.clone(), e);
    }

    /** Whether a block of namespace {@code (hi, lo)} written at epoch {@code written} is invalid. */
    public boolean invalidates(long hi, long lo, long written) {
        if (written <= epoch[0]) {
            return true;
        }
        for (int i = 1; i < RECORDS; i++) {
            if (epoch[i] != 0 && nsHi[i] == hi && nsLo[i] == lo) {
                return written <= epoch[i];
            }
        }
        return false;
    }

    /** The epoch namespace {@code (hi, lo)} is invalidated up to (the floor's, if later), 0 when none. */
    public long invalidatedUpTo(long hi, long lo) {
        long at = epoch[0];
        for (int i = 1; i < RECORDS; i++) {
            if (epoch[i] != 0 && nsHi[i] == hi && nsLo[i] == lo) {
                at = Math.max(at, epoch[i]);
            }
        }
        return at;
    }

    /** The newest epoch of a record (the floor's included) not above {@code atMost}; 0 when none. */
    public long newestEpoch(long atMost) {
        long newest = 0;
        for (long e : epoch) {
            newest = e <= atMost ? Math.max(newest, e) : newest;
        }
        return newest;
    }

    /** Calls {@code visitor} with each record (namespace, epoch); the floor as namespace (0, 0). */
    public void forEach(RecordVisitor visitor) {
        for (int i = 0; i < RECORDS; i++) {
            if (epoch[i] != 0) {
                visitor.record(nsHi[i], nsLo[i], epoch[i]);
            }
        }
    }

    /** One record of a table. */
    @FunctionalInterface
    public interface RecordVisitor {
        void record(long nsHi, long nsLo, long epoch);
    }

    private static int crc(ByteBuffer b, int at) {
        CRC32C c = new CRC32C();
        c.update(b.duplicate().limit(at + 24).position(at));
        return (int) c.getValue();
    }
}
