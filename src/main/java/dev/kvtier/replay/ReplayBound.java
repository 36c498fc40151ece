package dev.kvtier.replay;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Each run judged against the runs of the same trace and capacities under {@code lru} and
 * {@code opt}: the share of the {@code lru}→{@code opt} gap it closes, and whether it exceeds
 * {@code opt}, which must bound it ({@code opt} with device tiers is Belady over their total
 * capacity, see {@link Replay}). A run exceeding the bound means the bound is wrong, or the cache
 * served something it should not have: the replay fails.
 */
public final class ReplayBound {
    /** Hit-rate slack for the check: none beyond floating-point noise (hit tokens are integers). */
    static final double SLACK = 1e-12;

    /**
     * One run and its references.
     *
     * @param lru       the lru run of the same capacities, or null
     * @param opt       the opt run of the same capacities, or null
     * @param gapClosed (hit rate - lru) / (opt - lru); NaN without both references or when they are equal
     * @param exceeds   whether the run's hit rate is above opt's
     */
    public record Row(ReplayResult run, ReplayResult lru, ReplayResult opt, double gapClosed, boolean exceeds) {
    }

    private ReplayBound() {
    }

    /** Every run of {@code results}, in order, with its references among them. */
    public static List<Row> rows(List<ReplayResult> results) {
        List<Row> rows = new ArrayList<>();
        for (ReplayResult r : results) {
            ReplayResult lru = find(results, r, "lru");
            ReplayResult opt = find(results, r, "opt");
            double gap = lru == null || opt == null || opt.hitRate() <= lru.hitRate() ? Double.NaN
                    : (r.hitRate() - lru.hitRate()) / (opt.hitRate() - lru.hitRate());
            rows.add(new Row(r, lru, opt, gap, opt != null && r.hitRate() > opt.hitRate() + SLACK));
        }
        return rows;
    }

    private static ReplayResult find(List<ReplayResult> results, ReplayResult like, String policy) {
        for (ReplayResult r : results) {
            if (r.policy().equals(policy) && r.trace().equals(like.trace())
                    && Arrays.equals(r.capacityBlocks(), like.capacityBlocks())) {
                return r;
            }
        }
        return null;
    }
}
