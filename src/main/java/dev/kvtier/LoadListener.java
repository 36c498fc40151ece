package dev.kvtier;

/**
 * Hears a load's progress: {@link #loaded} each time the run of leading blocks delivered into
 * the caller's buffers grows, with its new length, so a server can start moving the first blocks
 * (to the GPU, into its own KV buffers) while later ones are still being read.
 *
 * <p>For one load, the calls come in increasing order of {@code leadingBlocks}, one at a time
 * (never two at once; each happens-before the next), and all before the load's future
 * completes: when the future completes with {@code n > 0}, the last call heard {@code n}. Growth
 * that comes while a call is running is reported in the next call, coalesced (the lengths heard
 * may skip values). The calls run on the loading thread (for blocks copied there, before
 * {@code load} returns) or on a kvtier I/O thread, without any lock of the cache held: a
 * listener may copy the blocks it heard of out of the caller's buffers, call the cache (match,
 * store, load from DRAM, stats) and block briefly. Its time is the load's: the future (and a
 * deadline's completion) waits for a call in progress, and the I/O thread it runs on reads
 * nothing else meanwhile, so it must not wait for another load's device reads. Once the caller
 * cancels the future no new call starts (one in progress finishes). A listener that throws is
 * logged and not called again for that load.
 */
@FunctionalInterface
public interface LoadListener {
    /** Blocks {@code [0, leadingBlocks)} are in the caller's buffers, verified. */
    void loaded(int leadingBlocks);
}
