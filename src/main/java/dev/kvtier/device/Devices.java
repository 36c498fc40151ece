package dev.kvtier.device;

import java.io.IOException;
import java.nio.ByteBuffer;

/** Checks shared by the device implementations. */
final class Devices {
    private Devices() {
    }

    static void checkRange(BlockDevice d, long offset, ByteBuffer b) throws IOException {
        long len = b.remaining();
        if (offset < 0 || offset > d.size() - len) {
            throw new IOException(d.describe() + ": access [" + offset + ", " + (offset + len)
                    + ") is outside the device's " + d.size() + " bytes");
        }
    }

    static void checkAligned(BlockDevice d, long offset, ByteBuffer b, long address) {
        int a = d.alignment();
        if (((offset | b.remaining() | address) & (a - 1)) != 0) {
            throw new IllegalArgumentException(d.describe() + ": offset " + offset + ", length " + b.remaining()
                    + " and buffer address must be multiples of " + a);
        }
    }
}
