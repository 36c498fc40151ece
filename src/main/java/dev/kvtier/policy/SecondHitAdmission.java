package dev.kvtier.policy;

/**
 * Admits a block on its second sighting, into DRAM and into every device tier: vLLM's
 * {@code store_threshold = 2} and CacheLib's {@code RejectFirstAP}. Sightings are lookups,
 * counted by a {@link FrequencySketch} (so they age, and collisions may admit early).
 */
public final class SecondHitAdmission implements AdmissionPolicy {
    private final FrequencySketch sketch;
    private final BlockFacts facts;

    public SecondHitAdmission(FrequencySketch sketch, BlockFacts facts) {
        this.sketch = sketch;
        this.facts = facts;
    }

    @Override
    public void onLookup(long hi, long lo) {
        sketch.increment(hi, lo);
    }

    @Override
    public boolean admitNew(long hi, long lo, int position, double chainSample, int victim) {
        return sketch.frequency(hi, lo) >= 2;
    }

    @Override
    public boolean admitWrite(int tier, int entry, double chainSample, double writePressure) {
        return sketch.frequency(facts.keyHi(entry), facts.keyLo(entry)) >= 2;
    }

    @Override
    public double admitShare(int tier) {
        return 0;
    }
}
