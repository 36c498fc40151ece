package dev.kvtier.policy;

/**
 * Chooses how large a share of never-seen chains a cache of a given size should admit.
 *
 * <p><b>Why.</b> On production traces most new blocks are never used again and those that are
 * come back after a long, unpredictable gap (Mooncake's conversation trace: median 500
 * requests, much longer than a 3M-token LRU keeps a block). Admitting every new chain makes
 * them all die young; admitting a fraction {@code q} of them (whole chains, chosen by key hash)
 * lets each admitted one live about {@code 1/q} times longer. With {@code F(t)} the share of
 * new blocks that are seen again within {@code t} further new-block arrivals, the hits from
 * new blocks are about {@code q * F(C / q)} for {@code C} slots spent on them; this class
 * picks the {@code q} of a fixed ladder that maximises it (the largest on ties).
 *
 * <p><b>Measuring F.</b> One new key in eight (by hash) is remembered with the arrival count
 * at which it was first seen, in a direct-mapped ghost table of keys only; its second
 * sighting records the gap in a log-scale histogram (4 buckets per octave). A remembered key
 * pushed out of the ghost table by another is censored (not counted either way). Histogram
 * and counts halve every {@code 2^16} samples, so the estimate follows the workload. Until 256
 * samples exist every chain is admitted.
 *
 * <p>Not thread-safe (called under the cache lock); allocates nothing after construction.
 */
public final class ReuseEstimator {
    static final double[] LADDER = {1.0, 0.7, 0.5, 0.35, 0.25, 0.18, 0.12, 0.08, 0.05};
    private static final int GHOST_BITS = 17;
    private static final int BUCKETS = 4 * 40;
    private static final int MIN_SAMPLES = 256;
    private static final int HALVE_EVERY = 1 << 16;

    private final long[] ghostHi = new long[1 << GHOST_BITS];
    private final long[] ghostLo = new long[1 << GHOST_BITS];
    private final long[] ghostAt = new long[1 << GHOST_BITS];
    private final double[] gaps = new double[BUCKETS];
    private double samples;
    private long sinceHalving;
    private long arrivals;

    /** A key seen for the first time (the sketch had no count for it). */
    public void onFirstSighting(long hi, long lo) {
        arrivals++;
        if (FrequencySketch.unit(hi, lo, 2) < 0.125) {
            int slot = (int) (FrequencySketch.mix(hi, lo, 3) >>> (64 - GHOST_BITS));
            if (ghostAt[slot] != 0) {
                samples = Math.max(0, samples - 1); // censored: its outcome will not be known
            }
            ghostHi[slot] = hi;
            ghostLo[slot] = lo;
            ghostAt[slot] = arrivals;
            samples++;
            if (++sinceHalving >= HALVE_EVERY) {
                halve();
            }
        }
    }

    /** A key seen for the second time. */
    public void onSecondSighting(long hi, long lo) {
        int slot = (int) (FrequencySketch.mix(hi, lo, 3) >>> (64 - GHOST_BITS));
        if (ghostAt[slot] != 0 && ghostHi[slot] == hi && ghostLo[slot] == lo) {
            gaps[bucket(arrivals - ghostAt[slot])]++;
            ghostAt[slot] = 0;
        }
    }

    /** New keys seen so far. */
    public long arrivals() {
        return arrivals;
    }

    /** The share of new chains to admit into {@code capacityBlocks} slots of new-block space. */
    public double choose(long capacityBlocks) {
        if (samples < MIN_SAMPLES) {
            return 1.0;
        }
        double best = -1;
        double bestShare = 1.0;
        for (double q : LADDER) {
            double v = q * reusedWithin(capacityBlocks / q);
            if (v > best + 1e-12) {
                best = v;
                bestShare = q;
            }
        }
        return bestShare;
    }

    /** Estimated share of new blocks seen again within {@code arrivals} further new-block arrivals. */
    double reusedWithin(double arrivalsSpan) {
        double n = 0;
        for (int b = 0; b < BUCKETS && upper(b) <= arrivalsSpan; b++) {
            n += gaps[b];
        }
        return samples == 0 ? 0 : Math.min(1, n / samples);
    }

    private static int bucket(long gap) {
        if (gap < 1) {
            return 0;
        }
        int octave = 63 - Long.numberOfLeadingZeros(gap);
        int sub = octave < 2 ? 0 : (int) ((gap >>> (octave - 2)) & 3);
        return Math.min(BUCKETS - 1, 4 * octave + sub);
    }

    /** The largest gap that falls in bucket {@code b}. */
    private static double upper(int b) {
        int octave = b / 4;
        if (octave < 2) {
            return Math.pow(2, octave + 1) - 1;
        }
        return Math.pow(2, octave) * (1 + (b % 4 + 1) / 4.0) - 1;
    }

    private void halve() {
        for (int b = 0; b < BUCKETS; b++) {
            gaps[b] /= 2;
        }
        samples /= 2;
        sinceHalving = 0;
    }
}
