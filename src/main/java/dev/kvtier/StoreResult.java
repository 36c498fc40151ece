package dev.kvtier;

/**
 * What one {@link KvTierCache#store} did with each block it was asked to store: stored, or why
 * not. A store walks the chain in order; a block already kept is skipped and the walk goes on,
 * but the first block that cannot be stored (its parent is not kept, admission refuses it, or no
 * DRAM page can be had) ends the walk, and every block after it is counted under the same
 * reason (each of them would be an orphan).
 *
 * <p>Invariant after a store: {@code stored + alreadyKept + parentMissing + refusedByAdmission
 * + noSpace == requested}, except when the cache is closed while the store waits for a page,
 * where the blocks not reached are in none of them.
 *
 * <p>Mutable so that a server can reuse one instance per request thread and store without
 * allocating ({@link KvTierCache#store(dev.kvtier.key.BlockKey[], java.nio.ByteBuffer[], int,
 * int, StoreResult)}); each store overwrites it. Not thread-safe.
 */
public final class StoreResult {
    /** Codes of the reason a store's walk ended, as {@link BlockTable#reserveStore} reports them. */
    static final int REACHED_END = 0;
    static final int PARENT_MISSING = 1;
    static final int REFUSED = 2;
    static final int NO_SPACE = 3;

    private int requested;
    private int stored;
    private int alreadyKept;
    private int parentMissing;
    private int refused;
    private int noSpace;

    /** An empty result to pass to a store. */
    public StoreResult() {
    }

    void reset(int requestedBlocks) {
        requested = requestedBlocks;
        stored = 0;
        alreadyKept = 0;
        parentMissing = 0;
        refused = 0;
        noSpace = 0;
    }

    void add(int newlyStored, int duplicates) {
        stored += newlyStored;
        alreadyKept += duplicates;
    }

    /** Counts {@code blocks} under the reason coded {@code reason}. */
    void notStored(int reason, int blocks) {
        switch (reason) {
            case PARENT_MISSING -> parentMissing += blocks;
            case REFUSED -> refused += blocks;
            case NO_SPACE -> noSpace += blocks;
            default -> throw new IllegalArgumentException("reason " + reason);
        }
    }

    /** Blocks the store was asked for ({@code count}). */
    public int requested() {
        return requested;
    }

    /** Blocks newly stored (what the store returned). */
    public int stored() {
        return stored;
    }

    /** Blocks skipped because they were already kept (not rewritten). */
    public int alreadyKept() {
        return alreadyKept;
    }

    /** Blocks not stored because their parent is not kept (prefix rule), and the blocks after them. */
    public int parentMissing() {
        return parentMissing;
    }

    /** Blocks the admission policy refused into DRAM, and the blocks after them. */
    public int refusedByAdmission() {
        return refused;
    }

    /**
     * Blocks not stored because no DRAM page could be had (every page pinned, being written, or
     * holding a block not yet written below when stores may not wait), and the blocks after them.
     */
    public int noSpace() {
        return noSpace;
    }

    @Override
    public String toString() {
        return "StoreResult[requested=" + requested + " stored=" + stored + " alreadyKept=" + alreadyKept
                + " parentMissing=" + parentMissing + " refusedByAdmission=" + refused + " noSpace=" + noSpace + "]";
    }
}
