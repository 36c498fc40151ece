package dev.kvtier.tier;

import dev.kvtier.device.BlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Wraps a device; a chosen write fails with an IOException after a chosen prefix of its bytes
 * (rounded down to the alignment) reached the device: a failed or torn write.
 */
final class FaultyDevice implements BlockDevice {
    private final BlockDevice d;
    private int failAt;
    private int writes;
    private int prefix;

    FaultyDevice(BlockDevice d) {
        this.d = d;
    }

    /** The {@code n}-th write from now fails after writing the first {@code prefix} bytes. */
    void failWrite(int n, int prefix) {
        this.failAt = n;
        this.writes = 0;
        this.prefix = prefix;
    }

    @Override
    public long size() {
        return d.size();
    }

    @Override
    public int alignment() {
        return d.alignment();
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        d.read(offset, dst);
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        if (failAt > 0 && ++writes == failAt) {
            failAt = 0;
            int n = Math.min(prefix, src.remaining()) & -d.alignment();
            if (n > 0) {
                d.write(offset, src.duplicate().limit(src.position() + n));
            }
            throw new IOException("injected failure of a write of " + src.remaining() + " bytes at " + offset
                    + " after " + n);
        }
        d.write(offset, src);
    }

    @Override
    public void flush() throws IOException {
        d.flush();
    }

    @Override
    public String describe() {
        return "faulty " + d.describe();
    }

    @Override
    public void close() throws IOException {
        d.close();
    }
}
