package dev.kvtier;

/**
 * Hears a load's progress: {@link #loaded} each time the run of leading blocks delivered into
 * the caller's buffers grows, with its new length, in increasing order, so a server can start
 * moving the first blocks to the GPU while later ones are read. Called on the loading thread or
 * on a kvtier I/O thread, under the load's lock: it must return quickly and must not call the
 * cache.
 */
@FunctionalInterface
public interface LoadListener {
    /** Blocks {@code [0, leadingBlocks)} are in the caller's buffers, verified. */
    void loaded(int leadingBlocks);
}
