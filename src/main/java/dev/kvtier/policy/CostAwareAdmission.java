package dev.kvtier.policy;

import java.util.function.IntToDoubleFunction;

/**
 * kvtier's default policy: keep what is expected to earn the most hits per slot, and spend
 * device writes only on chains likely to come back.
 *
 * <p><b>Signals.</b> A {@link FrequencySketch} of looked-up keys (aging) gives each block its
 * {@link HitDensity} class; the hit-density table, learnt from how soon keys come back, values a
 * block by class and age; a {@link ReuseEstimator} measures how soon new blocks come back;
 * each device tier has its {@link WriteBudget} and its write-queue pressure. The cache adds the
 * prefix rule (nothing is kept under a parent that is not).
 *
 * <p><b>DRAM.</b> Eviction is {@link HitDensityEviction}: the sampled leaf of lowest hit density
 * goes. Without a device tier, a new block enters DRAM when a page is free or unless the
 * victim's density is higher than its own at age 0: so a flood of one-off chains cannot push
 * out blocks that are about to be reused, and among equally new chains those admitted first
 * are kept until their reuse is due. With a device tier below, every new block enters DRAM:
 * the demoter keeps clean copies ahead, so making room loses nothing, and whether the block
 * deserves a write is decided when it leaves (comparing densities there too lost hit rate on
 * the Mooncake trace with a small DRAM beside a large SSD).
 *
 * <p><b>Flush.</b> A flush (explicit, or on close) spends only the tier's write budget: the
 * share of new chains is for the steady state, and a block a flush does not write is lost.
 *
 * <p><b>Device writes.</b> A block seen before (sketch count of 2 or more) is written; a new
 * one is written when its chain sample is below the share the estimator picks for a quarter
 * of the slots of the target tier and all tiers below it, so the admitted chains live long
 * enough to be reused. A write is refused when the device's write queue is three-quarters
 * full or the tier's budget is spent. (Hit density is not used below DRAM: the device tiers
 * evict by LRU, whose victims' density says little about what a write would earn.)
 *
 * <p><b>Worth of a hit.</b> By default every block's hit counts alike (token hit rate). Given
 * {@code hitWorth} from a prefill model, a hit is worth the block's recompute time relative to the
 * first block's, deeper blocks more (the README measures the trade).
 */
public final class CostAwareAdmission implements AdmissionPolicy {
    /** Share of a device tier's slots spent on blocks not seen before. */
    static final double NEW_BLOCK_SHARE = 0.25;
    static final double MAX_WRITE_PRESSURE = 0.75;
    /** New keys between two choices of the admitted shares. */
    private static final int RECHOOSE_EVERY = 1024;
    /** Decisions over which the reported DRAM admission share is averaged. */
    private static final double SHARE_DECISIONS = 256;

    private final FrequencySketch sketch;
    private final ReuseEstimator estimator = new ReuseEstimator();
    private final HitDensity density;
    private final HitDensityEviction dramOrder;
    private final BlockFacts facts;
    private final IntToDoubleFunction hitWorth;
    private final int blockBytes;
    private final long[] slotsAtAndBelow;
    private final WriteBudget[] budgets;
    private final double[] shares;
    private long sharesAt = -1;
    private double dramShare = 1;

    /**
     * @param entries         index capacity (entry numbers the DRAM order may see)
     * @param hitWorth        what a hit on a block at a position is worth: 1 everywhere to
     *                        count token hits, or the block's prefill time
     * @param slotsAtAndBelow per tier (DRAM, SSD, REMOTE), the block slots of that tier and
     *                        every tier below it (0 for an absent tier)
     * @param budgets         per tier, its write budget or null for none
     */
    public CostAwareAdmission(FrequencySketch sketch, BlockFacts facts, int entries, IntToDoubleFunction hitWorth,
            int blockBytes, long[] slotsAtAndBelow, WriteBudget[] budgets) {
        this.sketch = sketch;
        this.facts = facts;
        this.hitWorth = hitWorth;
        this.blockBytes = blockBytes;
        this.slotsAtAndBelow = slotsAtAndBelow.clone();
        this.budgets = budgets.clone();
        this.shares = new double[slotsAtAndBelow.length];
        this.density = new HitDensity();
        this.dramOrder = new HitDensityEviction(entries, density, facts::parent, this::classOf,
                e -> hitWorth.applyAsDouble(facts.position(e)));
    }

    /** The hit-density table (shared with shadow simulations of this policy). */
    HitDensity density() {
        return density;
    }

    /** The frequency sketch its classes come from. */
    FrequencySketch sketch() {
        return sketch;
    }

    /** The DRAM eviction order this policy's admission compares against. */
    public HitDensityEviction dramOrder() {
        return dramOrder;
    }

    @Override
    public void onRequest() {
        density.onRequest();
    }

    @Override
    public void onLookup(long hi, long lo) {
        int f = sketch.frequency(hi, lo);
        if (f == 0) {
            estimator.onFirstSighting(hi, lo);
        } else if (f == 1) {
            estimator.onSecondSighting(hi, lo);
        }
        density.onLookup(hi, lo, HitDensity.classOf(sketch.increment(hi, lo)));
    }

    @Override
    public boolean admitNew(long hi, long lo, int position, double chainSample, int victim) {
        boolean admit = victim < 0 || slotsAtAndBelow[1] > 0
                || density.density(HitDensity.classOf(sketch.frequency(hi, lo)), 0) * hitWorth.applyAsDouble(position)
                        >= dramOrder.score(victim);
        dramShare += ((admit ? 1 : 0) - dramShare) / SHARE_DECISIONS;
        return admit;
    }

    /** Only without a device tier: with one, every new block enters DRAM. */
    @Override
    public boolean wantsVictim() {
        return slotsAtAndBelow[1] == 0;
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

    /** A flush spends the tier's write budget only: the share of new chains is for steady state. */
    @Override
    public boolean admitFlush(int tier, int entry) {
        return budgets[tier] == null || budgets[tier].tryTake(blockBytes);
    }

    /** DRAM: the share of recent new blocks admitted; a device tier: the share of new chains written. */
    @Override
    public double admitShare(int tier) {
        if (tier == 0) {
            return dramShare;
        }
        if (estimator.arrivals() - sharesAt >= RECHOOSE_EVERY || sharesAt < 0) {
            for (int t = 1; t < shares.length; t++) {
                shares[t] = estimator.choose((long) (NEW_BLOCK_SHARE * slotsAtAndBelow[t]));
            }
            sharesAt = estimator.arrivals();
        }
        return shares[tier];
    }

    private int classOf(int entry) {
        return HitDensity.classOf(sketch.frequency(facts.keyHi(entry), facts.keyLo(entry)));
    }
}
