package dev.kvtier.examples.jlama;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * Direct buffers of one block each, indexed by block number, where kvtier loads blocks before
 * they are copied into Jlama's KV buffer, and where new blocks are gathered before they are
 * stored. Allocate it once for the longest prompt a server accepts (allocating direct memory on a
 * request's path costs milliseconds per megabyte and can stall on the JVM's direct-memory limit);
 * it grows, to exactly what a longer prompt needs, if it must. One request at a time.
 */
public final class StagingBuffers {
    private final int blockBytes;
    private ByteBuffer[] buffers = new ByteBuffer[0];
    private MemorySegment[] segments = new MemorySegment[0];
    private int grown;

    public StagingBuffers(int blockBytes, int blocks) {
        this.blockBytes = blockBytes;
        ensure(blocks);
        grown = 0;
    }

    public int blockBytes() {
        return blockBytes;
    }

    /** Buffers for blocks {@code [0, blocks)} exist afterwards. */
    void ensure(int blocks) {
        if (buffers.length >= blocks) {
            return;
        }
        int old = buffers.length;
        buffers = Arrays.copyOf(buffers, blocks);
        segments = Arrays.copyOf(segments, blocks);
        for (int i = old; i < blocks; i++) {
            buffers[i] = ByteBuffer.allocateDirect(blockBytes);
            segments[i] = MemorySegment.ofBuffer(buffers[i]);
        }
        grown++;
    }

    /** All buffers, block {@code i} in element {@code i}. */
    ByteBuffer[] buffers() {
        return buffers;
    }

    MemorySegment segment(int block) {
        return segments[block];
    }

    /** Times a request needed more buffers than were allocated up front. */
    public int timesGrown() {
        return grown;
    }
}
