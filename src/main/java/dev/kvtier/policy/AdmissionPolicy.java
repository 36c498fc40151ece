package dev.kvtier.policy;

/**
 * Decides, per block and per tier, whether a block is kept: whether a new block enters the
 * cache (DRAM) on store, and whether a block leaving DRAM is written to a device tier or
 * dropped. Every implementation sees the same signals: the keys looked up (its own frequency
 * sketch), the block's position, the candidate's chain sample, the block that would make
 * room, whether the parent is kept in the target tier, and the target device's write-queue
 * pressure. Calls are serialised by the cache's metadata lock; none allocates.
 *
 * <p><b>Chain sample.</b> A number in [0, 1) drawn from the key of the first new block of a
 * store call and kept with each block of that chain ({@link #chainSample}), so a policy that
 * admits a share {@code q} of new chains admits or refuses whole chains, the same way on
 * every server. A store that continues a chain (its first new block's parent is kept and has
 * no child: a conversation's next turn) inherits the parent's sample instead, so a conversation
 * is admitted or refused as a whole, turn after turn; a fork (a parent with children, such as a
 * shared system prompt) starts a new chain.
 *
 * <p>The cache enforces the prefix rule itself (nothing is stored or written under a parent
 * that is not kept); a policy may refuse more, never admit an orphan.
 */
public interface AdmissionPolicy {
    /** A request arrived: {@code match} was called (before its keys are looked up). */
    default void onRequest() {
    }

    /** A key was looked up by {@code match} (every key of the request, hit or not). */
    default void onLookup(long hi, long lo) {
    }

    /**
     * Whether a block not yet kept enters DRAM on store. {@code victim} is the entry that would
     * be evicted to make room, or -1 when a page is free.
     */
    boolean admitNew(long hi, long lo, int position, double chainSample, int victim);

    /**
     * Whether block {@code entry}, in DRAM (or on SSD when the target is REMOTE), is written to
     * {@code tier}; {@code writePressure} is how full that device's write queue is, 0 to 1.
     */
    boolean admitWrite(int tier, int entry, double chainSample, double writePressure);

    /**
     * Whether a flush (explicit, or on a clean close) writes block {@code entry}, kept only in
     * DRAM, to {@code tier}. Unlike {@link #admitWrite}, the alternative is losing the block at
     * the restart, not keeping it in DRAM: every block is written by default.
     */
    default boolean admitFlush(int tier, int entry) {
        return true;
    }

    /** The target device declined a write this policy admitted (queue full) or the write failed. */
    default void onWriteDeclined(int tier) {
    }

    /** The share of new chains this policy admits into {@code tier} now, 0 to 1 (1 for policies that do not sample). */
    double admitShare(int tier);

    /** Whether {@link #admitNew} needs its {@code victim} (finding it costs a search); otherwise it gets -1. */
    default boolean wantsVictim() {
        return false;
    }

    /** The chain sample of a chain whose first new block has key {@code (hi, lo)}. */
    static double chainSample(long hi, long lo) {
        return FrequencySketch.unit(hi, lo, 1);
    }
}
