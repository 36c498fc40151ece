package dev.kvtier.policy;

/**
 * How many hits per slot and per request a cached block can still be expected to earn, by its
 * class (how often its key was seen) and its age (requests since it was last used), learnt from
 * how soon looked-up keys come back.
 *
 * <p><b>Why not recency.</b> On production traces a block's chance of coming back is not
 * highest just after its use: on Mooncake's conversation trace almost no block is reused within
 * 32 requests, the rate peaks between 128 and 512 (the user's next turn) and falls after 2,048.
 * LRU evicts such blocks just before they pay off. Ranking by hit density instead keeps a block
 * while its expected hits per slot-time are high, whatever its age.
 *
 * <p><b>Algorithm.</b> Least Hit Density (Beckmann, Chen and Cidon, "LHD: Improving Cache Hit
 * Rate by Maximizing Hit Density", NSDI 2018), with two changes. (1) The reuse distribution of
 * each class is measured on a ghost sample of looked-up keys, cached or not, so a policy that
 * evicts a class early still learns what keeping it longer would earn (LHD's own histograms of
 * hits and evictions only see what the cache kept). (2) A block is valued at the best horizon
 * to keep it for, not until it is evicted: for a block of age in bucket {@code a},
 * {@code density(a) = max over j >= a of hits(a..j) / slotTime(a..j)}, where {@code hits} sums
 * the reuse gaps that fall in buckets {@code a..j} and {@code slotTime} the requests the keys
 * still waiting spend in them. Taking the best horizon is the convex hull of the hit curve that
 * Talus (Beckmann and Sanchez, HPCA 2015) reaches by sampling; comparing a new block's
 * {@code density(0)} with the victim's is how admission decides.
 *
 * <p><b>Measurement.</b> Looked-up keys are followed in a direct-mapped ghost table of
 * {@code 2^18} entries holding the key, its class and the request at which it was last seen:
 * all keys while the table spans 512 requests of them, else a hash sample that it spans
 * (Mooncake's conversation trace, 24 keys per request: all; kv-cache-tester's agent sessions,
 * 1,489: a third; following too few keys or for too short a span both lost hits). When a key is seen again
 * the gap is counted in its class's histogram (log-scale buckets, four per octave) and it is
 * followed on in its new class. A followed key displaced by another is censored. Histograms
 * halve every {@code 2^16} samples, so the estimate follows the workload (halving every 4,096
 * requests instead lost hits on kv-cache-tester: 0.100 against 0.108 at 1,000 blocks). A class with fewer
 * than 256 samples uses the pooled histogram of all classes; until there are 256 samples in
 * all, density falls with age alone (LRU). The table is recomputed every 64 requests,
 * {@code O(classes * buckets^2)}.
 *
 * <p>Not thread-safe (called under the cache lock); allocates nothing after construction.
 */
public final class HitDensity {
    /** Frequency classes: seen once, twice, 3 to 5 times, 6 or more. */
    public static final int CLASSES = 4;
    /** Age buckets: 0 to 3 exactly, then four per octave up to {@code 2^17} requests. */
    static final int BUCKETS = 4 * 16;
    private static final int GHOST_BITS = 18;
    /** Requests a followed key should stay in the ghost table without being displaced. */
    private static final double GHOST_HORIZON = 512;
    private static final int RETABLE_EVERY = 64;
    private static final int HALVE_EVERY = 1 << 16;
    private static final double MIN_SAMPLES = 256;
    private static final double VICTIM_MEAN = 256;

    private final long[] ghostHi = new long[1 << GHOST_BITS];
    private final long[] ghostLo = new long[1 << GHOST_BITS];
    /** Request at which the followed key was last seen, plus one (0: slot empty). */
    private final long[] ghostAt = new long[1 << GHOST_BITS];
    private final byte[] ghostClass = new byte[1 << GHOST_BITS];
    /** Share of keys followed (by hash), chosen so that the ghost table spans {@link #GHOST_HORIZON} requests. */
    private double sampleShare = 1;
    private double keysPerRequest;
    private long keysThisRequest;
    private final double[][] gaps = new double[CLASSES + 1][BUCKETS];
    private final double[] samples = new double[CLASSES + 1];
    private final double[][] table = new double[CLASSES][BUCKETS];
    private final double[] survivors = new double[BUCKETS];
    /** Per class, at the best horizon from age 0: hits and slot-requests per sample. */
    private final double[] horizonHits = new double[CLASSES];
    private final double[] horizonSlotTime = new double[CLASSES];
    private final double[] afterHit = new double[CLASSES];
    /** Running mean of the density of the blocks chosen as victims: what a slot earns at the margin. */
    private double marginal;
    private long sinceHalving;
    private long clock;

    public HitDensity() {
        recencyTable();
    }

    /** The class of a key seen {@code frequency} times. */
    public static int classOf(int frequency) {
        return frequency <= 1 ? 0 : frequency == 2 ? 1 : frequency <= 5 ? 2 : 3;
    }

    /** A request arrived (one {@code match}); the clock ages every block by one. */
    public void onRequest() {
        keysPerRequest += (keysThisRequest - keysPerRequest) / RETABLE_EVERY;
        keysThisRequest = 0;
        if (++clock % RETABLE_EVERY == 0) {
            sampleShare = Math.min(1, (1 << GHOST_BITS) / Math.max(1, keysPerRequest * GHOST_HORIZON));
            retable();
        }
    }

    /** Requests so far. */
    public long clock() {
        return clock;
    }

    /** Key {@code (hi, lo)} was looked up and now falls in class {@code cls}. */
    public void onLookup(long hi, long lo, int cls) {
        keysThisRequest++;
        if (sampleShare < 1 && FrequencySketch.unit(hi, lo, 4) >= sampleShare) {
            return;
        }
        int slot = (int) (FrequencySketch.mix(hi, lo, 5) >>> (64 - GHOST_BITS));
        if (ghostAt[slot] != 0) {
            int was = ghostClass[slot];
            if (ghostHi[slot] == hi && ghostLo[slot] == lo) {
                gaps[was][bucket(clock + 1 - ghostAt[slot])]++;
            } else {
                samples[was] = Math.max(0, samples[was] - 1); // censored: its outcome will not be known
            }
        }
        ghostHi[slot] = hi;
        ghostLo[slot] = lo;
        ghostAt[slot] = clock + 1;
        ghostClass[slot] = (byte) cls;
        samples[cls]++;
        if (++sinceHalving >= HALVE_EVERY) {
            halve();
        }
    }

    /** A block of density {@code density} was chosen as a victim (it prices slot time for {@link #afterHit}). */
    public void onVictim(double density) {
        marginal += (density - marginal) / VICTIM_MEAN;
    }

    /** Expected hits per slot per request of a block of class {@code cls} last used {@code age} requests ago. */
    public double density(int cls, long age) {
        return table[cls][bucket(age)];
    }

    static int bucket(long age) {
        if (age < 4) {
            return (int) Math.max(0, age);
        }
        int octave = 63 - Long.numberOfLeadingZeros(age);
        return Math.min(BUCKETS - 1, 4 * (octave - 1) + (int) ((age >>> (octave - 2)) & 3));
    }

    /** Requests an age spends in bucket {@code b}. */
    static long width(int b) {
        return b < 4 ? 1 : 1L << (b / 4 - 1);
    }

    private void retable() {
        int pooled = CLASSES;
        java.util.Arrays.fill(gaps[pooled], 0);
        samples[pooled] = 0;
        for (int c = 0; c < CLASSES; c++) {
            samples[pooled] += samples[c];
            for (int b = 0; b < BUCKETS; b++) {
                gaps[pooled][b] += gaps[c][b];
            }
        }
        if (samples[pooled] < MIN_SAMPLES) {
            recencyTable();
            return;
        }
        for (int c = 0; c < CLASSES; c++) {
            int from = samples[c] >= MIN_SAMPLES ? c : pooled;
            densities(gaps[from], samples[from], table[c]);
            horizon(gaps[from], samples[from], c);
        }
        afterHits();
        for (int c = 0; c < CLASSES; c++) {
            for (int b = 0; b < BUCKETS; b++) {
                table[c][b] *= 1 + afterHit[c];
            }
        }
    }

    /** Records class {@code c}'s hits and slot time per sample at its best horizon from age 0. */
    private void horizon(double[] g, double n, int c) {
        double best = 0;
        double hits = 0;
        double slotTime = 0;
        horizonHits[c] = 0;
        horizonSlotTime[c] = 1;
        for (int j = 0; j < BUCKETS; j++) {
            hits += g[j];
            slotTime += survivors[j] * width(j);
            if (slotTime > 0 && hits / slotTime > best) {
                best = hits / slotTime;
                horizonHits[c] = hits / n;
                horizonSlotTime[c] = slotTime / n;
            }
        }
    }

    /**
     * Per class, the net hits a block can still earn after its next hit moves it up a class:
     * what the next class earns at its best horizon, less its slot time priced at the victims'
     * density (never below 0: such a block would be evicted instead). The top class leads to
     * itself, a geometric series.
     */
    private void afterHits() {
        int top = CLASSES - 1;
        double h = horizonHits[top];
        afterHit[top] = h < 1 ? Math.max(0, (h - marginal * horizonSlotTime[top]) / (1 - h)) : 0;
        for (int c = top - 1; c >= 0; c--) {
            afterHit[c] = Math.max(0, horizonHits[c + 1] * (1 + afterHit[c + 1]) - marginal * horizonSlotTime[c + 1]);
        }
    }

    /** Fills {@code row} with the best-horizon hit density of each age bucket (and {@link #survivors}). */
    private void densities(double[] g, double n, double[] row) {
        double alive = n;
        for (int b = 0; b < BUCKETS; b++) {
            survivors[b] = Math.max(0, alive);
            alive -= g[b];
        }
        for (int a = 0; a < BUCKETS; a++) {
            double best = 0;
            double hits = 0;
            double slotTime = 0;
            for (int j = a; j < BUCKETS; j++) {
                hits += g[j];
                slotTime += survivors[j] * width(j);
                if (slotTime > 0 && hits / slotTime > best) {
                    best = hits / slotTime;
                }
            }
            row[a] = best;
        }
    }

    /** Before anything is measured: the younger the better, the same for every class. */
    private void recencyTable() {
        for (double[] row : table) {
            for (int b = 0; b < BUCKETS; b++) {
                row[b] = 1.0 / (1 + b);
            }
        }
    }

    private void halve() {
        for (int c = 0; c < CLASSES; c++) {
            samples[c] /= 2;
            for (int b = 0; b < BUCKETS; b++) {
                gaps[c][b] /= 2;
            }
        }
        sinceHalving = 0;
    }
}
