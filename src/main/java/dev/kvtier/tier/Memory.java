package dev.kvtier.tier;

import java.nio.ByteBuffer;
import net.openhft.chronicle.core.Jvm;
import net.openhft.chronicle.core.UnsafeMemory;

/** Copies between direct buffers and raw native addresses (one memmove). */
public final class Memory {
    private Memory() {
    }

    /** Copies {@code src}'s remaining bytes (a direct buffer) to {@code dstAddress}. */
    public static void copy(ByteBuffer src, long dstAddress) {
        UnsafeMemory.MEMORY.copyMemory(Jvm.address(src) + src.position(), dstAddress, src.remaining());
    }
}
