package dev.kvtier.policy;

import java.util.function.IntPredicate;

/**
 * kvtier's default policy: runs miniature simulations of its candidate policies on a hash
 * sample of the keys it sees, and the real cache follows the one that is winning.
 *
 * <p><b>Candidates.</b> {@code lru} (admit everything, evict the least recently used),
 * {@code second-hit} (admit on the second sighting, LRU), and, without a device tier,
 * {@code hit-density} ({@link CostAwareAdmission}'s DRAM admission and eviction). Each runs in a
 * {@link ShadowCache}: the same prefix rules as the real cache, on the keys whose hash falls in
 * a sample of rate {@code R = min(1, }{@value #SHADOW_SLOTS}{@code / capacity)}, with
 * {@code R * capacity} slots. With a device tier each shadow is a {@link TieredShadow}: DRAM's
 * slots over the device tiers' (both scaled by {@code R}, the capacity being the larger of the
 * two), each with LRU and its own admission, so a shadow sees what the real cache's demoter
 * does: a device no larger than DRAM that is written every block holds the same blocks as DRAM
 * and adds no hits, while blocks a candidate does not write still hit in DRAM; the candidates
 * are then lru, second-hit and two shares of chains (below). The candidates' admission reads the same sketches the real cache's would
 * (second-hit's doorkeeper sized as the {@code second-hit} baseline's, hit density's table and
 * classes shared with the real one), so a shadow runs the policy the real cache would run.
 *
 * <p><b>Choice.</b> Each request is one observation of how many more sampled hits each
 * candidate had than each other: per pair {@code (a, b)} the sum of the differences
 * ({@code lead[a][b]}) and of their squares ({@code spread[a][b]}), both halved every
 * {@value #HALF_LIFE} requests (a request, not a key, is the unit: a request's hits come in whole
 * chains, so its keys are not independent). The real cache switches from its current candidate
 * {@code c} to the {@code a} that leads it most when {@code lead[a][c] > z * sqrt(spread[a][c]) +
 * }{@value #MIN_LEAD} (a sign test with threshold {@code z}, {@value #Z} at first). Hysteresis: to
 * switch back, the old candidate must win the whole margin back. It starts as {@code lru}.
 * Switching changes which admission rule and which DRAM order decide from then on; both orders
 * follow every block all along ({@link SwitchingEviction}), so a switch is immediate and moves
 * nothing.
 *
 * <p><b>Guard against switching.</b> Where a workload alternates in phases shorter than the time
 * to detect them, following the winner loses to every fixed candidate (each switch leaves the
 * cache filled by the other rule). One more shadow follows the real cache's own switches; every
 * {@value #CHECK_EVERY} requests it is compared with the fixed candidates the same way, and when
 * one leads it beyond {@value #Z_REGRET} standard deviations the threshold {@code z} doubles (up
 * to {@value #MAX_Z}); when none leads it at all, {@code z} halves back towards {@value #Z}.
 *
 * <p><b>When the guard has stopped switching.</b> At the highest threshold the cache has in
 * effect stopped switching, and it may have stopped on the wrong candidate: on the whole Mooncake
 * trace at 7,812 blocks one early wrong switch took {@code z} to its maximum within 1,000
 * requests and the cache stayed on {@code lru} (0.184) while {@code second-hit} (0.195) and hit
 * density (0.211) pulled ahead. So while {@code z} is at {@value #MAX_Z}, the cache follows
 * whichever of the switcher (the shadow that follows the switches) and the fixed candidates
 * leads the one it follows by {@value #Z_FOLLOW} standard deviations plus {@value #MIN_LEAD}, a
 * fixed candidate only if it leads all the others so too (else the first 2,000 Mooncake requests
 * at 1,024 blocks moved to {@code second-hit}, ahead of the switcher in the early window but
 * behind hit density, which the switcher was on: 0.067 against 0.077)
 * (checked every {@value #CHECK_EVERY} requests; the switcher's shadow keeps its own switches,
 * and the candidate followed decides admission and DRAM order); when {@code z} comes down, it
 * follows the switcher again. Outside that state nothing changes, so the cells the switcher
 * already won are untouched (first halves, DRAM only: the same hit rates to the fourth decimal
 * except 7,812 blocks, +0.013, and 20,000, -0.0005). Letting the cache choose among switcher and
 * fixed candidates at every threshold, or with {@code Z_FOLLOW} = 1, switched between near-equal
 * candidates on generated document bursts and lost up to 0.005 to {@code lru} there.
 *
 * <p><b>Constants</b> ({@code Z}, {@code MIN_LEAD}, {@code HALF_LIFE}, {@code CHECK_EVERY},
 * {@code Z_FOLLOW}) were chosen on the first halves of the Mooncake conversation trace (by
 * time) and of the kv-cache-tester sessions (by files); the follow rule was also checked on
 * generated workloads (seeds 3 and 7) and the CI trace demo. The README reports the second
 * halves.
 *
 * <p><b>Device tiers: what is written.</b> With a device tier the candidates are {@code lru}
 * (every block written), {@code second-hit} (blocks seen twice) and two shares of chains,
 * {@link #HALF_CHAINS} and {@link #THREE_QUARTER_CHAINS}: DRAM admits every block, the device
 * only those whose chain sample is below the share. A store that continues a chain keeps its
 * sample ({@link AdmissionPolicy}), so a share keeps whole conversations: where sessions cycle
 * through more context than the device holds, lru evicts each before it returns, and a share of
 * them kept whole hits more and writes less (the loop case of adaptive insertion: Qureshi et
 * al., "Adaptive Insertion Policies for High Performance Caching", ISCA 2007, whose set dueling
 * is a miniature simulation too). Each shadow counts the keys its device level inserts, the
 * writes its candidate would make (summed per request, halved with the hit sums). After the choice on hits
 * the cache moves to the candidate with the fewest writes, if at most {@value #FRUGAL} of the
 * current one's, among those the current one does not lead on hits by {@value #FRUGAL_TIE} of
 * the switching margin at the base threshold {@link #Z} ({@link #frugal}; while the cache
 * follows a fixed candidate, the same applies to it), once the lru shadow has filled its slots:
 * until then no write has cost an eviction, and with no hit yet every candidate ties (a fresh
 * cache moved to second-hit at once and refused its first stores). A move back needs the whole
 * margin, as any switch; with the whole margin for the move too, a lead hovering at it flipped
 * the cache between lru and second-hit nine times in 1,000 requests (Mooncake, 500 DRAM +
 * 10,000 SSD blocks), each stretch on second-hit keeping new blocks out of DRAM. The shares were
 * chosen on the first half of the kv-cache-tester sessions (1/2 and 3/4 against 1/4 and 1/2:
 * 0.21 against 0.18 hit rate at 500 DRAM + 3,000 SSD blocks); {@value #FRUGAL} was set, not
 * fitted, and {@value #FRUGAL_TIE} chosen on first halves (Mooncake 500 + 10,000 blocks: -0.0019
 * against lru with 1, +0.0002 with 1/2; kv-cache-tester 500 + 3,000: +0.0011 and -0.0007 against
 * second-hit). Writes stay within a {@code writeBudget} when one is set.
 *
 * <p><b>Cost.</b> Per key looked up: one hash for the sample, the sketches' updates and, for a
 * sampled key, one lookup in each shadow (four without a device tier; with one, five shadows
 * of two levels, two lookups each): a hash probe, and an LRU or hit-density update on a hit or
 * insert; per request, a comparison of the candidates. Memory: about 60 bytes per shadow slot,
 * at most {@value #SHADOW_SLOTS} slots per candidate and level.
 *
 * <p>Not thread-safe (called under the cache lock); allocates nothing in steady state.
 */
public final class AdaptiveAdmission implements AdmissionPolicy {
    public static final int LRU = 0;
    public static final int SECOND_HIT = 1;
    public static final int HIT_DENSITY = 2;
    /** With a device tier: every block enters DRAM, the device is written only for half the chains (by chain sample). */
    public static final int HALF_CHAINS = 3;
    /** As {@link #HALF_CHAINS}, for three chains in four. */
    public static final int THREE_QUARTER_CHAINS = 4;
    private static final String[] NAMES = {"lru", "second-hit", "hit-density", "chains-1/2", "chains-3/4"};
    /** Per candidate, the share of chains its device writes admit. */
    private static final double[] SHARES = {1, 1, 1, 0.5, 0.75};
    /** Shadow slots per candidate at most: the sampling rate is this over the capacity simulated. */
    static final int SHADOW_SLOTS = 1 << 14;
    /** Standard deviations of the sign test a challenger must lead by. */
    static final double Z = 0.5;
    /** Sampled lookups a challenger must lead by, on top of the test (early, when counts are small). */
    static final double MIN_LEAD = 8;
    /** Standard deviations by which a fixed candidate must lead the switching cache's own shadow to raise the threshold. */
    static final double Z_REGRET = 1;
    static final double MAX_Z = 8;
    /** At the highest threshold: standard deviations by which the switcher or a fixed candidate must lead what the cache follows. */
    static final double Z_FOLLOW = 2;
    /** Requests between two checks of the switching cache against the fixed candidates. */
    static final int CHECK_EVERY = 64;
    /** A candidate must write at most this share of the current one's writes for {@link #frugal} to move to it. */
    static final double FRUGAL = 0.75;
    /** The share of the switching margin within which {@link #frugal} counts a candidate as tied on hits. */
    static final double FRUGAL_TIE = 0.5;
    /** Requests after which the comparison counts halve. */
    static final int HALF_LIFE = 1024;
    /** Decisions over which the reported DRAM admission share is averaged. */
    private static final double SHARE_DECISIONS = 256;

    private final CostAwareAdmission hitDensity;
    private final FrequencySketch doorkeeper;
    private final BlockFacts facts;
    private final int blockBytes;
    private final WriteBudget[] budgets;
    private final SwitchingEviction dramOrder;
    private final Shadow[] shadows;
    private final long[] requestHits;
    /** Per pair (a, b): the sum over requests of a's sampled hits less b's, and of its square. */
    private final double[][] lead;
    private final double[][] spread;
    /** Per arm: its shadow's inserts (writes) so far, and their sum over requests, halved with {@link #lead}. */
    private final long[] inserted;
    private final double[] writes;
    private final double rate;
    private HitDensityEviction shadowDensityOrder;
    /** Candidates; the shadow at index {@code self = arms} follows the real cache's own switches. */
    private final int arms;
    /** The candidate ({@link #LRU} ...) each arm runs. */
    private final int[] kinds;
    private final int self;
    private SwitchingEviction selfOrder;
    private HitDensityEviction selfDensityOrder;
    /** The sign test's threshold now: doubled when switching made the cache fall behind a fixed candidate. */
    private double z = Z;
    private int current = LRU;
    /** What the real cache follows: -1 for the switcher's choice ({@link #current}), else a fixed candidate. */
    private int followed = -1;
    private long followChanges;
    private long sampled;
    private long requests;
    private long switches;
    private double dramShare = 1;

    /**
     * @param hitDensity      the hit-density candidate (its sketch, table and DRAM order), or null
     *                        for none (with a device tier)
     * @param doorkeeper      second-hit's sketch, sized as the {@code second-hit} baseline's
     * @param entries         index capacity (entry numbers the DRAM order may see)
     * @param slotsAtAndBelow per tier (DRAM, SSD, REMOTE), the block slots of that tier and
     *                        every tier below it (0 for an absent tier)
     * @param budgets         per tier, its write budget or null for none
     */
    public AdaptiveAdmission(CostAwareAdmission hitDensity, FrequencySketch doorkeeper, BlockFacts facts, int entries,
            int blockBytes, long[] slotsAtAndBelow, WriteBudget[] budgets) {
        this.hitDensity = hitDensity;
        this.doorkeeper = doorkeeper;
        this.facts = facts;
        this.blockBytes = blockBytes;
        this.budgets = budgets.clone();
        long dramSlots = slotsAtAndBelow[0] - slotsAtAndBelow[1];
        long deviceSlots = slotsAtAndBelow[1];
        rate = Math.min(1, SHADOW_SLOTS / (double) Math.max(1, Math.max(dramSlots, deviceSlots)));
        kinds = hitDensity == null ? new int[] {LRU, SECOND_HIT, HALF_CHAINS, THREE_QUARTER_CHAINS}
                : new int[] {LRU, SECOND_HIT, HIT_DENSITY};
        arms = kinds.length;
        self = arms;
        shadows = new Shadow[arms + 1];
        LruPrefixEviction lru = new LruPrefixEviction(entries);
        if (hitDensity != null) {
            int slots = scaled(dramSlots);
            shadows[LRU] = lruShadow(slots, (hi, lo, v, c) -> true);
            shadows[SECOND_HIT] = lruShadow(slots, (hi, lo, v, c) -> entersDram(SECOND_HIT, hi, lo));
            HitDensity table = hitDensity.density();
            FrequencySketch sketch = hitDensity.sketch();
            shadows[HIT_DENSITY] = new ShadowCache(slots, s -> shadowDensityOrder = new HitDensityEviction(s.capacity(),
                    table, s::parent, e -> HitDensity.classOf(sketch.frequency(s.keyHi(e), s.keyLo(e))), e -> 1, false),
                    (hi, lo, v, c) -> v < 0 || table.density(HitDensity.classOf(sketch.frequency(hi, lo)), 0)
                            >= shadowDensityOrder.score(v), true);
            dramOrder = new SwitchingEviction(lru, hitDensity.dramOrder());
            shadows[self] = new ShadowCache(slots, s -> selfOrder = new SwitchingEviction(
                    new LruPrefixEviction(s.capacity()), selfDensityOrder = new HitDensityEviction(s.capacity(), table,
                            s::parent, e -> HitDensity.classOf(sketch.frequency(s.keyHi(e), s.keyLo(e))), e -> 1, false)),
                    (hi, lo, v, c) -> kinds[current] == HIT_DENSITY
                            ? v < 0 || table.density(HitDensity.classOf(sketch.frequency(hi, lo)), 0)
                                    >= selfDensityOrder.score(v)
                            : entersDram(kinds[current], hi, lo), true);
        } else {
            int dram = scaled(dramSlots);
            int device = scaled(deviceSlots);
            for (int a = 0; a < arms; a++) {
                int kind = kinds[a];
                shadows[a] = new TieredShadow(lruShadow(dram, (hi, lo, v, c) -> entersDram(kind, hi, lo)),
                        lruShadow(device, (hi, lo, v, c) -> writesToDevice(kind, hi, lo, c)));
            }
            dramOrder = new SwitchingEviction(lru);
            selfOrder = new SwitchingEviction(new LruPrefixEviction(dram));
            shadows[self] = new TieredShadow(
                    new ShadowCache(dram, s -> selfOrder, (hi, lo, v, c) -> entersDram(kinds[current], hi, lo), false),
                    lruShadow(device, (hi, lo, v, c) -> writesToDevice(kinds[current], hi, lo, c)));
        }
        requestHits = new long[arms + 1];
        lead = new double[arms + 1][arms + 1];
        spread = new double[arms + 1][arms + 1];
        inserted = new long[arms + 1];
        writes = new double[arms + 1];
    }

    /** The DRAM eviction order: the current candidate's (LRU, or hit density). */
    public EvictionPolicy dramOrder() {
        return dramOrder;
    }

    /** The candidate the cache follows now: {@link #LRU}, {@link #SECOND_HIT}, {@link #HIT_DENSITY} ... */
    public int current() {
        return kinds[applied()];
    }

    /** Whether the cache follows the switcher now, rather than one fixed candidate. */
    public boolean followsSwitcher() {
        return followed < 0;
    }

    /** Times the cache changed between the switcher and a fixed candidate. */
    public long followChanges() {
        return followChanges;
    }

    private int applied() {
        return followed < 0 ? current : followed;
    }

    /** The name of candidate {@code arm}. */
    public static String name(int arm) {
        return NAMES[arm];
    }

    /** Times the switcher changed candidate. */
    public long switches() {
        return switches;
    }

    /** The share of keys the shadows follow. */
    public double sampleRate() {
        return rate;
    }

    @Override
    public void onRequest() {
        if (hitDensity != null) {
            hitDensity.onRequest();
        }
        account();
        for (Shadow s : shadows) {
            s.onRequest();
        }
        choose();
    }

    @Override
    public void onLookup(long hi, long lo) {
        if (hitDensity != null) {
            hitDensity.onLookup(hi, lo);
        }
        doorkeeper.increment(hi, lo);
        if (rate < 1 && sampleUnit(hi, lo) >= rate) {
            return;
        }
        for (int a = 0; a < shadows.length; a++) {
            if (shadows[a].onLookup(hi, lo)) {
                requestHits[a]++;
            }
        }
        sampled++;
    }

    /**
     * The guard against switching itself: the shadow that follows the real cache's switches is
     * compared with each fixed candidate. When one leads it beyond chance (switching cost more
     * than it won: phases shorter than the time to detect them), the threshold doubles (up to {@value #MAX_Z}), so it switches less; while no candidate
     * leads it, the threshold halves back towards {@link #Z}.
     */
    private void checkRegret() {
        int worst = -1;
        double worstLead = 0;
        for (int a = 0; a < arms; a++) {
            double ahead = lead[a][self];
            if (ahead > Z_REGRET * Math.sqrt(spread[a][self]) + MIN_LEAD && ahead > worstLead) {
                worst = a;
                worstLead = ahead;
            }
        }
        if (worst >= 0) {
            z = Math.min(MAX_Z, 2 * z);
        } else {
            boolean behind = false;
            for (int a = 0; a < arms; a++) {
                behind |= lead[a][self] > 0;
            }
            if (!behind) {
                z = Math.max(Z, z / 2);
            }
        }
    }

    /**
     * While the switcher has stopped (its threshold at {@value #MAX_Z}): the cache moves from
     * what it follows (the switcher, or a fixed candidate) to the one of them that leads that
     * most, by {@value #Z_FOLLOW} standard deviations plus {@value #MIN_LEAD}; to a fixed
     * candidate only if it leads every other one, the switcher included, by as much.
     */
    private void chooseFollowed() {
        int at = followed < 0 ? self : followed;
        int best = at;
        double bestLead = 0;
        for (int a = 0; a <= arms; a++) {
            double ahead = lead[a][at];
            if (a != at && ahead > Z_FOLLOW * Math.sqrt(spread[a][at]) + MIN_LEAD && ahead > bestLead) {
                best = a;
                bestLead = ahead;
            }
        }
        if (best == at) {
            if (followed >= 0 && hitDensity == null && turnedOver() && frugal(followed) != followed) {
                follow(frugal(followed));
            }
            return;
        }
        if (best != self) { // a fixed candidate must lead every other arm too, the switcher included
            for (int b = 0; b <= arms; b++) {
                if (b != best && b != at && !(lead[best][b] > Z_FOLLOW * Math.sqrt(spread[best][b]) + MIN_LEAD)) {
                    return;
                }
            }
        }
        follow(best == self ? -1 : best);
    }

    private void follow(int arm) {
        followed = arm;
        followChanges++;
        dramOrder.use(current() == HIT_DENSITY ? 1 : 0);
    }

    /** The request just looked up is one observation of each pair's difference in hits. */
    private void account() {
        for (int a = 0; a < shadows.length; a++) {
            for (int b = 0; b < shadows.length; b++) {
                double d = requestHits[a] - requestHits[b];
                lead[a][b] += d;
                spread[a][b] += d * d;
            }
            long n = shadows[a].writes();
            writes[a] += n - inserted[a];
            inserted[a] = n;
        }
        java.util.Arrays.fill(requestHits, 0);
    }

    /** Switches to the candidate that leads the current one by the most, if any leads beyond chance. */
    private void choose() {
        if (++requests % CHECK_EVERY == 0) {
            if (z >= MAX_Z) {
                chooseFollowed();
            } else if (followed >= 0) {
                follow(-1);
            }
            checkRegret();
        }
        if (requests % HALF_LIFE == 0) {
            for (int a = 0; a < lead.length; a++) {
                for (int b = 0; b < lead.length; b++) {
                    lead[a][b] /= 2;
                    spread[a][b] /= 2;
                }
                writes[a] /= 2;
            }
        }
        int best = current;
        double bestLead = 0;
        for (int a = 0; a < arms; a++) {
            if (a == current) {
                continue;
            }
            double ahead = lead[a][current];
            double margin = z * Math.sqrt(spread[a][current]) + MIN_LEAD;
            if (ahead > margin && ahead > bestLead) {
                best = a;
                bestLead = ahead;
            }
        }
        if (best == current && hitDensity == null && turnedOver()) {
            best = frugal(current);
        }
        if (best != current) {
            switchTo(best);
        }
    }

    /** Whether the lru shadow has inserted as many keys as it has slots: the simulated tier has filled. */
    private boolean turnedOver() {
        return shadows[LRU].filled();
    }

    /**
     * Whether candidate {@code kind} (any but hit density) lets a new block into DRAM:
     * second-hit on its second sighting, the others always. The real cache and the shadows both ask.
     */
    private boolean entersDram(int kind, long hi, long lo) {
        return kind != SECOND_HIT || doorkeeper.frequency(hi, lo) >= 2;
    }

    /**
     * With a device tier: whether candidate {@code kind} writes a block of a chain of sample
     * {@code chainSample} to the device: what it lets into DRAM, of its share of chains.
     */
    private boolean writesToDevice(int kind, long hi, long lo, double chainSample) {
        return entersDram(kind, hi, lo) && chainSample < SHARES[kind];
    }

    /** A shadow of {@code slots} slots in LRU order. */
    private static ShadowCache lruShadow(int slots, ShadowCache.Admission admission) {
        return new ShadowCache(slots, s -> new LruPrefixEviction(s.capacity()), admission, false);
    }

    /** Shadow slots for {@code realSlots} of the real cache. */
    private int scaled(long realSlots) {
        return (int) Math.max(1, Math.round(rate * realSlots));
    }

    /**
     * With a device tier, writes matter too: among the candidates arm {@code at} does not lead on
     * hits by {@value #FRUGAL_TIE} of the switching margin at the base threshold {@link #Z}, the
     * one with the fewest sampled writes, if below {@value #FRUGAL} of {@code at}'s; else
     * {@code at}. The move back on hits needs the whole margin: a band between the two, so a lead
     * that hovers at the margin does not flip the cache back and forth.
     */
    private int frugal(int at) {
        int best = at;
        for (int a = 0; a < arms; a++) {
            boolean tied = !(lead[at][a] > FRUGAL_TIE * (Z * Math.sqrt(spread[at][a]) + MIN_LEAD));
            if (a != at && tied && writes[a] < FRUGAL * writes[at] && writes[a] < writes[best]) {
                best = a;
            }
        }
        return best;
    }

    private void switchTo(int arm) {
        current = arm;
        dramOrder.use(current() == HIT_DENSITY ? 1 : 0);
        selfOrder.use(kinds[arm] == HIT_DENSITY ? 1 : 0);
        switches++;
    }

    @Override
    public boolean admitNew(long hi, long lo, int position, double chainSample, int victim) {
        int kind = current();
        boolean admit = kind == HIT_DENSITY ? hitDensity.admitNew(hi, lo, position, chainSample, victim)
                : entersDram(kind, hi, lo);
        dramShare += ((admit ? 1 : 0) - dramShare) / SHARE_DECISIONS;
        return admit;
    }

    @Override
    public boolean wantsVictim() {
        return current() == HIT_DENSITY;
    }

    @Override
    public boolean admitWrite(int tier, int entry, double chainSample, double writePressure) {
        return writesToDevice(current(), facts.keyHi(entry), facts.keyLo(entry), chainSample)
                && (budgets[tier] == null || budgets[tier].tryTake(blockBytes));
    }

    @Override
    public boolean admitFlush(int tier, int entry) {
        return budgets[tier] == null || budgets[tier].tryTake(blockBytes);
    }

    /** DRAM: the share of recent new blocks admitted; a device tier: the candidate's share of chains, 0 under second-hit (it samples none). */
    @Override
    public double admitShare(int tier) {
        return tier == 0 ? dramShare : current() == SECOND_HIT ? 0 : SHARES[current()];
    }

    /** The sampling hash: independent of the sketches' and the chain sample's. */
    static double sampleUnit(long hi, long lo) {
        return FrequencySketch.unit(lo, hi, 0);
    }

    /** Forwards every event to each order; the victim comes from the one in use. */
    static final class SwitchingEviction implements EvictionPolicy {
        private final EvictionPolicy[] orders;
        private EvictionPolicy inUse;

        SwitchingEviction(EvictionPolicy... orders) {
            this.orders = orders;
            this.inUse = orders[0];
        }

        void use(int i) {
            inUse = orders[i];
        }

        @Override
        public void onInsert(int entry) {
            for (EvictionPolicy o : orders) {
                o.onInsert(entry);
            }
        }

        @Override
        public void onAccess(int entry) {
            for (EvictionPolicy o : orders) {
                o.onAccess(entry);
            }
        }

        @Override
        public void onRemove(int entry) {
            for (EvictionPolicy o : orders) {
                o.onRemove(entry);
            }
        }

        @Override
        public int victim(IntPredicate evictable, int limit) {
            return inUse.victim(evictable, limit);
        }
    }
}
