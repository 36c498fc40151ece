package dev.kvtier.codec;

import dev.kvtier.format.FormatException;
import java.nio.ByteBuffer;

/**
 * Encodes block payloads for a persistent tier. Implementations are thread-safe. Buffers are
 * used from their position to their limit; positions and limits are left unchanged.
 */
public interface BlockCodec {
    /** The id written in slot headers (see {@code SlotHeader}). */
    int id();

    /**
     * Encodes {@code src} into {@code dst}; returns the encoded length, or -1 when the result
     * would not be smaller than the input (the caller then stores the block raw).
     */
    int encode(ByteBuffer src, ByteBuffer dst);

    /**
     * Decodes {@code src} into exactly {@code blockLength} bytes of {@code dst}.
     *
     * @throws FormatException when {@code src} is not a valid encoding of that many bytes
     */
    void decode(ByteBuffer src, ByteBuffer dst, int blockLength) throws FormatException;
}
