package dev.kvtier.policy;

/** Admits every block everywhere (LMCache's default; the {@code lru} baseline). */
public final class AdmitAll implements AdmissionPolicy {
    @Override
    public boolean admitNew(long hi, long lo, int position, double chainSample, int victim) {
        return true;
    }

    @Override
    public boolean admitWrite(int tier, int entry, double chainSample, double writePressure) {
        return true;
    }

    @Override
    public double admitShare(int tier) {
        return 1;
    }
}
