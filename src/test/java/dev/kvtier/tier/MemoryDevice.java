package dev.kvtier.tier;

import dev.kvtier.device.BlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * A device in memory, with a chosen alignment, that can record its writes instead of applying
 * them, so that a test can apply some of them as a crash would have left them.
 */
final class MemoryDevice implements BlockDevice {
    /** One recorded write. */
    record Write(long offset, byte[] bytes) {
    }

    final ByteBuffer bytes;
    private final int alignment;
    final List<Write> log = new ArrayList<>();
    boolean recording;

    MemoryDevice(int size, int alignment) {
        this.bytes = ByteBuffer.allocateDirect(size);
        this.alignment = alignment;
    }

    @Override
    public long size() {
        return bytes.capacity();
    }

    @Override
    public int alignment() {
        return alignment;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        check(offset, dst);
        dst.duplicate().put(bytes.duplicate().position((int) offset).limit((int) offset + dst.remaining()));
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        check(offset, src);
        if (recording) {
            byte[] b = new byte[src.remaining()];
            src.duplicate().get(b);
            log.add(new Write(offset, b));
            return;
        }
        bytes.duplicate().position((int) offset).put(src.duplicate());
    }

    private void check(long offset, ByteBuffer b) throws IOException {
        if (offset < 0 || offset + b.remaining() > bytes.capacity()) {
            throw new IOException("outside: " + offset);
        }
        if (((offset | b.remaining()) & (alignment - 1)) != 0) {
            throw new IllegalArgumentException("misaligned " + offset + "+" + b.remaining() + " for " + alignment);
        }
    }

    @Override
    public void flush() {
    }

    @Override
    public String describe() {
        return "memory device";
    }

    @Override
    public void close() {
    }
}
