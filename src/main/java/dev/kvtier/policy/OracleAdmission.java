package dev.kvtier.policy;

/**
 * Belady's offline optimum with bypass, for reference: a new block is kept only if it will be
 * used again and sooner than the block it would displace; a block is written to a device tier
 * only if it will be used again. Paired with a {@link PriorityEviction} whose value is minus
 * the next use, so the block used furthest in the future leaves first (parents, used no later
 * than their children, stay). Needs the future: the replay supplies it.
 */
public final class OracleAdmission implements AdmissionPolicy {
    /** A key's next use (any increasing clock, such as a request number), or Long.MAX_VALUE for never. */
    @FunctionalInterface
    public interface NextUse {
        long nextUse(long hi, long lo);
    }

    private final NextUse oracle;
    private final BlockFacts facts;

    public OracleAdmission(NextUse oracle, BlockFacts facts) {
        this.oracle = oracle;
        this.facts = facts;
    }

    /** The eviction value of an entry: minus its next use. */
    public double value(int entry) {
        return -(double) oracle.nextUse(facts.keyHi(entry), facts.keyLo(entry));
    }

    @Override
    public boolean wantsVictim() {
        return true;
    }

    @Override
    public boolean admitNew(long hi, long lo, int position, double chainSample, int victim) {
        long next = oracle.nextUse(hi, lo);
        if (next == Long.MAX_VALUE) {
            return false;
        }
        return victim < 0 || next < oracle.nextUse(facts.keyHi(victim), facts.keyLo(victim));
    }

    @Override
    public boolean admitWrite(int tier, int entry, double chainSample, double writePressure) {
        return oracle.nextUse(facts.keyHi(entry), facts.keyLo(entry)) != Long.MAX_VALUE;
    }

    @Override
    public double admitShare(int tier) {
        return 1;
    }
}
