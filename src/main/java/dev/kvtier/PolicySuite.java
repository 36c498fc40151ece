package dev.kvtier;

import dev.kvtier.index.BlockIndex;
import dev.kvtier.policy.AdaptiveAdmission;
import dev.kvtier.policy.AdmissionPolicy;
import dev.kvtier.policy.AdmitAll;
import dev.kvtier.policy.BlockFacts;
import dev.kvtier.policy.CostAwareAdmission;
import dev.kvtier.policy.EvictionPolicy;
import dev.kvtier.policy.FrequencySketch;
import dev.kvtier.policy.LruPrefixEviction;
import dev.kvtier.policy.OracleAdmission;
import dev.kvtier.policy.PriorityEviction;
import dev.kvtier.policy.SecondHitAdmission;
import dev.kvtier.policy.WriteBudget;
import dev.kvtier.policy.WriteLimitAdmission;
import java.util.function.IntToDoubleFunction;

/**
 * The admission policy and the per-tier eviction orders of one {@link CachePolicy}, wired to
 * the cache's signals: {@code adaptive} (the default) is {@link AdaptiveAdmission}, whose DRAM
 * order switches between LRU and hit density with the candidate it follows, LRU on the device
 * tiers; {@code costaware} pairs {@link CostAwareAdmission} with its hit-density
 * order in DRAM and LRU on the device tiers (on the demo's workload a hit-density order on the
 * SSD lost hit rate, 0.762 against 0.807, with demotions up from 35,000 to 81,000 and
 * promotions down from 65,000 to 20,000; GDSF there did worse, 0.691); {@code opt} (the
 * replay's, given an offline future: {@link dev.kvtier.offline.OfflineKnobs}) pairs
 * {@link OracleAdmission} with a
 * next-use {@link PriorityEviction}; the baselines use {@link LruPrefixEviction}.
 */
record PolicySuite(AdmissionPolicy admission, EvictionPolicy[] orders) {
    /** Without a configured write budget, write-limit's target: the tier's capacity every 10 minutes. */
    private static final double WRITE_LIMIT_DEFAULT_PERIOD_S = 600;
    private static final int MIN_COSTAWARE_SKETCH = 1 << 14;

    /**
     * @param slots   block slots per tier (0 for an absent tier)
     * @param entries index capacity
     */
    static PolicySuite create(CacheConfig.Policy p, BlockFacts facts, long[] slots, int entries, int blockBytes) {
        EvictionPolicy[] orders = new EvictionPolicy[BlockIndex.TIERS];
        if (p.oracle() != null) {
            OracleAdmission a = new OracleAdmission(p.oracle()::nextUse, facts);
            for (int t = 0; t < orders.length; t++) {
                orders[t] = new PriorityEviction(entries, a::value, facts::parent, facts::position);
            }
            return new PolicySuite(a, orders);
        }
        AdmissionPolicy admission;
        switch (p.kind()) {
            case ADAPTIVE: {
                boolean devices = slots[BlockTable.SSD] > 0 || slots[BlockTable.REMOTE] > 0;
                CostAwareAdmission density = devices ? null
                        : new CostAwareAdmission(costawareSketch(slots), facts, entries, position -> 1, blockBytes,
                                atAndBelow(slots), budgets(p, blockBytes));
                AdaptiveAdmission a = new AdaptiveAdmission(density, sketch(slots), facts, entries, blockBytes,
                        atAndBelow(slots), budgets(p, blockBytes));
                lruBelow(orders, a.dramOrder(), entries);
                admission = a;
                break;
            }
            case COSTAWARE: {
                CostAwareAdmission a = new CostAwareAdmission(costawareSketch(slots), facts, entries, hitWorth(p), blockBytes,
                        atAndBelow(slots), budgets(p, blockBytes));
                lruBelow(orders, a.dramOrder(), entries);
                admission = a;
                break;
            }
            default:
                admission = baseline(p, facts, slots, blockBytes);
                lruBelow(orders, new LruPrefixEviction(entries), entries);
        }
        return new PolicySuite(admission, orders);
    }

    /** Fills {@code orders}: {@code dram} for DRAM, prefix-respecting LRU for every tier below. */
    private static void lruBelow(EvictionPolicy[] orders, EvictionPolicy dram, int entries) {
        orders[BlockTable.DRAM] = dram;
        for (int t = BlockTable.DRAM + 1; t < orders.length; t++) {
            orders[t] = new LruPrefixEviction(entries);
        }
    }

    private static AdmissionPolicy baseline(CacheConfig.Policy p, BlockFacts facts, long[] slots, int blockBytes) {
        switch (p.kind()) {
            case SECOND_HIT:
                return new SecondHitAdmission(sketch(slots), facts);
            case WRITE_LIMIT: {
                double[] targets = new double[slots.length];
                for (int t = 0; t < slots.length; t++) {
                    double b = p.writeBudgets()[t];
                    targets[t] = b > 0 ? b : Math.max(1, slots[t]) * (double) blockBytes / WRITE_LIMIT_DEFAULT_PERIOD_S;
                }
                return new WriteLimitAdmission(facts, targets, blockBytes, p.clockNanos());
            }
            default:
                return new AdmitAll();
        }
    }

    /** A frequency sketch sized for all the cache's slots: second-hit's doorkeeper. */
    private static FrequencySketch sketch(long[] slots) {
        return new FrequencySketch((int) Math.min(1 << 26, Math.max(64, total(slots))));
    }

    /**
     * costaware's sketch: four keys per slot, at least {@value #MIN_COSTAWARE_SKETCH}, because its
     * classes need counts, not just a doorkeeper's "seen before" (Mooncake conversation trace,
     * 1,000 DRAM blocks: 0.084 against 0.079 with one key per slot).
     */
    private static FrequencySketch costawareSketch(long[] slots) {
        return new FrequencySketch((int) Math.min(1 << 26, Math.max(MIN_COSTAWARE_SKETCH, 4 * total(slots))));
    }

    private static long total(long[] slots) {
        long total = 0;
        for (long s : slots) {
            total += s;
        }
        return total;
    }

    /** A hit on a block at a position: worth 1, or its prefill time relative to the first block's. */
    private static IntToDoubleFunction hitWorth(CacheConfig.Policy p) {
        PrefillModel m = p.prefill();
        int bt = p.blockTokens();
        return m == null ? position -> 1 : position -> m.seconds((long) position * bt, bt) / m.seconds(0, bt);
    }

    private static long[] atAndBelow(long[] slots) {
        long[] r = new long[slots.length];
        long sum = 0;
        for (int t = slots.length - 1; t >= 0; t--) {
            sum += slots[t];
            r[t] = sum;
        }
        return r;
    }

    private static WriteBudget[] budgets(CacheConfig.Policy p, int blockBytes) {
        WriteBudget[] b = new WriteBudget[p.writeBudgets().length];
        for (int t = 0; t < b.length; t++) {
            if (p.writeBudgets()[t] > 0) {
                b[t] = new WriteBudget(p.writeBudgets()[t], blockBytes, p.clockNanos());
            }
        }
        return b;
    }
}
