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
 * {@code 2^18} entries (6.5 MB per cache, whatever its size) holding the key, its class and the
 * request at which it was last seen: all keys while the table holds 512 requests' worth of
 * them, else a hash sample it holds (Mooncake's conversation trace, 24 keys per request: all;
 * kv-cache-tester's agent sessions, 1,489: a third; following too few keys, or too few
 * requests' worth, both lost hits). A followed key ends one of two ways, each counted in its
 * class at the age it reached (log-scale buckets, four per octave): seen again (a hit, after
 * which it is followed on in its new class) or displaced by another key (censored); a key still
 * waiting has survived to its age so far (counted from a 1/64 sample of the table at each
 * recompute). The survival curve is the Kaplan-Meier estimate: at each age bucket the hazard is
 * the hits there over the keys at risk (those that ended, or are waiting, at that age or
 * later), so displaced and waiting keys tell what they lived through and nothing more. (Left
 * out, waiting keys overstated early hazards and lost hits: Mooncake, 5,859 blocks, 0.183
 * against 0.188.) Counts halve every {@code 2^16} followed
 * sightings, so the estimate follows the workload (halving every 4,096 requests instead lost
 * hits on kv-cache-tester). A class with fewer than 256 keys followed uses the pooled counts of
 * all classes; until 256 keys in all have ended, density falls with age alone (LRU). The table is
 * recomputed every 64 requests inside {@code match}, {@code O(classes * buckets^2)}, about
 * 16,000 multiply-adds.
 *
 * <p>Not thread-safe (called under the cache lock); allocates nothing after construction.
 */
public final class HitDensity {
    /** Frequency classes: seen once, twice, 3 to 5 times, 6 or more. */
    public static final int CLASSES = 4;
    /** Age buckets: 0 to 3 exactly, then four per octave up to {@code 2^17} requests. */
    static final int BUCKETS = 4 * 16;
    private static final int GHOST_BITS = 18;
    /** Requests' worth of followed keys the ghost table holds (a key survives that long about 1/e of the time). */
    private static final double GHOST_HORIZON = 512;
    private static final int RETABLE_EVERY = 64;
    private static final int HALVE_EVERY = 1 << 16;
    private static final double MIN_OUTCOMES = 256;
    private static final double MAX_RETURN = 15.0 / 16;
    private static final int WAITING_STRIDE = 64;
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
    /** Per class (and pooled, last), followed keys seen again at each age bucket. */
    private final double[][] hits = new double[CLASSES + 1][BUCKETS];
    /** Per class (and pooled, last), followed keys displaced at each age bucket. */
    private final double[][] censored = new double[CLASSES + 1][BUCKETS];
    /** Per class (and pooled, last), followed keys still waiting, by the age they have reached (estimated). */
    private final double[][] waiting = new double[CLASSES + 1][BUCKETS];
    private final double[][] table = new double[CLASSES][BUCKETS];
    /** For the class being tabled, per key followed: its hits in each bucket and the requests it spends there. */
    private final double[] hitsIn = new double[BUCKETS];
    private final double[] stayIn = new double[BUCKETS];
    /** Per class, at the best horizon from age 0: hits and slot-requests per key. */
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
            boolean same = ghostHi[slot] == hi && ghostLo[slot] == lo;
            (same ? hits : censored)[ghostClass[slot]][bucket(clock + 1 - ghostAt[slot])]++;
        }
        ghostHi[slot] = hi;
        ghostLo[slot] = lo;
        ghostAt[slot] = clock + 1;
        ghostClass[slot] = (byte) cls;
        if (++sinceHalving >= HALVE_EVERY) {
            halve();
        }
    }

    /** A block of (unweighted) density {@code density} was evicted: it prices slot time for {@link #afterHit}. */
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
        for (int b = 0; b < BUCKETS; b++) {
            hits[pooled][b] = 0;
            censored[pooled][b] = 0;
            for (int c = 0; c < CLASSES; c++) {
                hits[pooled][b] += hits[c][b];
                censored[pooled][b] += censored[c][b];
            }
        }
        if (outcomes(pooled) < MIN_OUTCOMES) {
            recencyTable();
            return;
        }
        countWaiting();
        for (int c = 0; c < CLASSES; c++) {
            survival(followed(c) >= MIN_OUTCOMES ? c : pooled);
            densities(table[c]);
            horizon(c);
        }
        afterHits();
        for (int c = 0; c < CLASSES; c++) {
            for (int b = 0; b < BUCKETS; b++) {
                table[c][b] *= 1 + afterHit[c];
            }
        }
    }

    private double outcomes(int c) {
        double n = 0;
        for (int b = 0; b < BUCKETS; b++) {
            n += hits[c][b] + censored[c][b];
        }
        return n;
    }

    /** Keys followed in class {@code c}: ended (seen again or displaced) or still waiting. */
    private double followed(int c) {
        double n = outcomes(c);
        for (int b = 0; b < BUCKETS; b++) {
            n += waiting[c][b];
        }
        return n;
    }

    /**
     * Kaplan-Meier: fills {@link #hitsIn} and {@link #stayIn} per key followed in class
     * {@code c}, from the hazard at each bucket (hits there over the keys that ended there or
     * later).
     */
    private void survival(int c) {
        double atRisk = followed(c);
        double alive = 1;
        for (int b = 0; b < BUCKETS; b++) {
            double hazard = atRisk > 0 ? hits[c][b] / atRisk : 0;
            hitsIn[b] = alive * hazard;
            stayIn[b] = alive * width(b);
            alive *= 1 - hazard;
            atRisk -= hits[c][b] + censored[c][b] + waiting[c][b];
        }
    }

    /**
     * Counts the followed keys still waiting, by class and age, from one slot in
     * {@value #WAITING_STRIDE} of the ghost table (a different one each time), scaled up.
     */
    private void countWaiting() {
        for (double[] row : waiting) {
            java.util.Arrays.fill(row, 0);
        }
        for (int i = (int) (clock / RETABLE_EVERY % WAITING_STRIDE); i < ghostAt.length; i += WAITING_STRIDE) {
            if (ghostAt[i] != 0) {
                int b = bucket(clock + 1 - ghostAt[i]);
                waiting[ghostClass[i]][b] += WAITING_STRIDE;
                waiting[CLASSES][b] += WAITING_STRIDE;
            }
        }
    }

    /** Records class {@code c}'s hits and slot time per key at its best horizon from age 0. */
    private void horizon(int c) {
        double best = 0;
        double h = 0;
        double slotTime = 0;
        horizonHits[c] = 0;
        horizonSlotTime[c] = 1;
        for (int j = 0; j < BUCKETS; j++) {
            h += hitsIn[j];
            slotTime += stayIn[j];
            if (h / slotTime > best) {
                best = h / slotTime;
                horizonHits[c] = h;
                horizonSlotTime[c] = slotTime;
            }
        }
    }

    /**
     * Per class, the net hits a block can still earn after its next hit, approximated as moving
     * it up a class (a class-2 block seen a fourth time stays in class 2): what the next class
     * earns at its best horizon, less its slot time priced at the evicted blocks' density (never
     * below 0: such a block would be evicted instead). The top class leads to itself, a
     * geometric series, its return probability capped at {@value #MAX_RETURN} so that the series
     * stays bounded.
     */
    private void afterHits() {
        int top = CLASSES - 1;
        double h = Math.min(MAX_RETURN, horizonHits[top]);
        afterHit[top] = Math.max(0, (h - marginal * horizonSlotTime[top]) / (1 - h));
        for (int c = top - 1; c >= 0; c--) {
            afterHit[c] = Math.max(0, horizonHits[c + 1] * (1 + afterHit[c + 1]) - marginal * horizonSlotTime[c + 1]);
        }
    }

    /** Fills {@code row} with the best-horizon hit density of each age bucket, from {@link #survival}. */
    private void densities(double[] row) {
        for (int a = 0; a < BUCKETS; a++) {
            double best = 0;
            double h = 0;
            double slotTime = 0;
            for (int j = a; j < BUCKETS; j++) {
                h += hitsIn[j];
                slotTime += stayIn[j];
                if (slotTime > 0 && h / slotTime > best) {
                    best = h / slotTime;
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
            for (int b = 0; b < BUCKETS; b++) {
                hits[c][b] /= 2;
                censored[c][b] /= 2;
            }
        }
        sinceHalving = 0;
    }
}
