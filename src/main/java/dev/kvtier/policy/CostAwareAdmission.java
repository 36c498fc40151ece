package dev.kvtier.policy;

/**
 * kvtier's default policy: keep what saves the most prefill time per slot and per byte
 * written.
 *
 * <p><b>Signals.</b> A {@link FrequencySketch} of looked-up keys (aging), a
 * {@link ReuseEstimator} of how soon new blocks come back, each device tier's
 * {@link WriteBudget} and its write-queue pressure. The cache adds the prefix rule (nothing is kept under a parent
 * that is not).
 *
 * <p><b>Admission.</b> A block seen before (sketch count of 2 or more) is admitted. A new one
 * is admitted when its chain sample is below the share the estimator picks for a quarter of
 * the slots of the target tier and all tiers below it (the rest being for blocks seen
 * before): a flood of one-off chains can only take that share's worth of turnover, and the
 * admitted chains live long enough to be reused. A write to a device is refused when the
 * device's write queue is three-quarters full or the tier's budget is spent.
 *
 * <p><b>Eviction.</b> {@link #value} feeds DRAM's {@link PriorityEviction} with GDSF inflation:
 * the block's aging frequency, so frequent blocks stay and stale ones age out. Weighting it by
 * recompute time (deeper blocks dearer) was measured to lose token hits (Mooncake
 * conversation trace, 5,859 blocks: 0.159 against 0.171), so it is not used; the prefill model
 * serves the replay's seconds-saved figure.
 */
public final class CostAwareAdmission implements AdmissionPolicy {
    /** Share of a tier's slots spent on blocks not seen before. */
    static final double NEW_BLOCK_SHARE = 0.25;
    static final double MAX_WRITE_PRESSURE = 0.75;
    /** New keys between two choices of the admitted shares. */
    private static final int RECHOOSE_EVERY = 1024;

    private final FrequencySketch sketch;
    private final ReuseEstimator estimator = new ReuseEstimator();
    private final BlockFacts facts;
    private final int blockBytes;
    private final long[] slotsAtAndBelow;
    private final WriteBudget[] budgets;
    private final double[] shares;
    private long sharesAt = -1;

    /**
     * @param slotsAtAndBelow per tier, the block slots of that tier and every tier below it
     *                        (0 for an absent tier)
     * @param budgets         per tier, its write budget or null for none
     */
    public CostAwareAdmission(FrequencySketch sketch, BlockFacts facts, int blockBytes, long[] slotsAtAndBelow,
            WriteBudget[] budgets) {
        this.sketch = sketch;
        this.facts = facts;
        this.blockBytes = blockBytes;
        this.slotsAtAndBelow = slotsAtAndBelow.clone();
        this.budgets = budgets.clone();
        this.shares = new double[slotsAtAndBelow.length];
    }

    /** A resident block's eviction value: its aging frequency. */
    public double value(int entry) {
        return Math.max(1, sketch.frequency(facts.keyHi(entry), facts.keyLo(entry)));
    }

    @Override
    public void onLookup(long hi, long lo) {
        int f = sketch.frequency(hi, lo);
        if (f == 0) {
            estimator.onFirstSighting(hi, lo);
        } else if (f == 1) {
            estimator.onSecondSighting(hi, lo);
        }
        sketch.increment(hi, lo);
    }

    @Override
    public boolean admitNew(long hi, long lo, int position, double chainSample, int victim) {
        return sketch.frequency(hi, lo) >= 2 || chainSample < admitShare(0);
    }

    @Override
    public boolean admitWrite(int tier, int entry, double chainSample, double writePressure) {
        if (writePressure >= MAX_WRITE_PRESSURE) {
            return false;
        }
        boolean seenBefore = sketch.frequency(facts.keyHi(entry), facts.keyLo(entry)) >= 2;
        if (!seenBefore && chainSample >= admitShare(tier)) {
            return false;
        }
        return budgets[tier] == null || budgets[tier].tryTake(blockBytes);
    }

    @Override
    public double admitShare(int tier) {
        if (estimator.arrivals() - sharesAt >= RECHOOSE_EVERY || sharesAt < 0) {
            for (int t = 0; t < shares.length; t++) {
                shares[t] = estimator.choose((long) (NEW_BLOCK_SHARE * slotsAtAndBelow[t]));
            }
            sharesAt = estimator.arrivals();
        }
        return shares[tier];
    }
}
