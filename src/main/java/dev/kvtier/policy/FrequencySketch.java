package dev.kvtier.policy;

/**
 * Approximate, aging access counts of block keys: a count-min sketch of 4-bit counters.
 *
 * <p><b>Algorithm.</b> The table holds {@code 16 * longs} counters, sixteen 4-bit counters per
 * {@code long}. A key picks one {@code long} per row from four independent mixes of its 128
 * bits, and one counter in it per row; {@link #increment} adds one to each of the four that is
 * below 15, {@link #frequency} is their minimum (never below the true count since the last
 * aging, above it only on collisions). After {@code 10 * expected} increments every counter is
 * halved, so old popularity fades and recent popularity counts (the TinyLFU "reset").
 *
 * <p>Source: Einziger, Friedman, Manes, "TinyLFU: A Highly Efficient Cache Admission Policy"
 * (ACM ToS 2017), sections 3.2-3.3; Caffeine's {@code FrequencySketch} packs its counters the
 * same way. Not thread-safe: the cache calls it under its metadata lock. Allocates nothing
 * after construction.
 */
public final class FrequencySketch {
    static final int MAX = 15;
    private static final long RESET_MASK = 0x7777_7777_7777_7777L;
    private static final long[] SEEDS = {0x9E37_79B9_7F4A_7C15L, 0xC2B2_AE3D_27D4_EB4FL, 0x1656_67B1_9E37_79F9L,
        0xD6E8_FEB8_6659_FD93L, 0xA076_1D64_78BD_642FL, 0xE703_7ED1_A0B4_28DBL};

    private final long[] table;
    private final int mask;
    private final int sampleSize;
    private int additions;
    /** Where the key being counted has its counter in each row (kept to read them back without rehashing). */
    private final int[] index = new int[4];
    private final int[] shift = new int[4];
    private long resets;

    /** A sketch sized for about {@code expected} distinct keys in its window (at least 64). */
    public FrequencySketch(int expected) {
        if (expected < 1) {
            throw new IllegalArgumentException("expected keys must be positive: " + expected);
        }
        int longs = Integer.highestOneBit(Math.max(64, Math.min(1 << 26, expected)) - 1) << 1;
        table = new long[longs];
        mask = longs - 1;
        sampleSize = (int) Math.min(Integer.MAX_VALUE / 2, 10L * Math.max(64, expected));
    }

    /** The estimated count of the key since its counters were last halved, 0 to 15. */
    public int frequency(long hi, long lo) {
        int min = MAX;
        for (int row = 0; row < 4; row++) {
            long h = mix(hi, lo, row);
            min = Math.min(min, counter(h));
        }
        return min;
    }

    /**
     * Counts one sighting of the key; ages the whole sketch every {@code 10 * expected} of them.
     * Returns the key's {@link #frequency} after counting (and aging).
     */
    public int increment(long hi, long lo) {
        boolean added = false;
        for (int row = 0; row < 4; row++) {
            long h = mix(hi, lo, row);
            index[row] = (int) (h >>> 40) & mask;
            shift[row] = ((int) h & 15) << 2;
            if (((table[index[row]] >>> shift[row]) & 15) < MAX) {
                table[index[row]] += 1L << shift[row];
                added = true;
            }
        }
        if (added && ++additions >= sampleSize) {
            halve();
        }
        int min = MAX;
        for (int row = 0; row < 4; row++) {
            min = Math.min(min, (int) ((table[index[row]] >>> shift[row]) & 15));
        }
        return min;
    }

    /** How many times the counters were halved. */
    public long resets() {
        return resets;
    }

    private int counter(long h) {
        int index = (int) (h >>> 40) & mask;
        int shift = ((int) h & 15) << 2;
        return (int) ((table[index] >>> shift) & 15);
    }

    private void halve() {
        for (int i = 0; i < table.length; i++) {
            table[i] = (table[i] >>> 1) & RESET_MASK;
        }
        additions >>>= 1;
        resets++;
    }

    /** A 64-bit mix of the key for row {@code row} (a murmur3-style finaliser over both halves). */
    static long mix(long hi, long lo, int row) {
        long h = hi * SEEDS[row] + Long.rotateLeft(lo, 31 - 7 * row);
        h ^= h >>> 33;
        h *= 0xFF51_AFD7_ED55_8CCDL;
        h ^= h >>> 33;
        h *= 0xC4CE_B9FE_1A85_EC53L;
        return h ^ (h >>> 33);
    }

    /** The key's mix as a uniform number in [0, 1), for sampling decisions that must be the same everywhere. */
    static double unit(long hi, long lo, int row) {
        return (mix(hi, lo, row) >>> 11) * 0x1.0p-53;
    }
}
