package dev.kvtier.device;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;

/** Checks shared by the device implementations. */
final class Devices {
    private Devices() {
    }

    /**
     * Makes {@code ch} immune to the interrupt of a thread using it: by default an interrupted
     * caller closes a {@link FileChannel} for every user, which would take the whole tier (and
     * its file lock) down. {@code sun.nio.ch.FileChannelImpl.setUninterruptible()} is reachable
     * because kvtier already requires {@code --add-exports=java.base/sun.nio.ch=ALL-UNNAMED}.
     */
    static FileChannel uninterruptible(FileChannel ch) {
        try {
            ch.getClass().getMethod("setUninterruptible").invoke(ch);
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IllegalStateException("cannot make " + ch + " uninterruptible; is "
                    + "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED set?", e);
        }
        return ch;
    }

    /**
     * Sizes a regular file: an empty one (just created, or left so by a crash before it was
     * sized) to {@code bytes}; one of another size only with {@code resize}.
     */
    static void sizeFile(RandomAccessFile raf, Path path, long bytes, boolean resize) throws IOException {
        long length = raf.length();
        if (length == 0 || (resize && length != bytes)) {
            raf.setLength(bytes);
        } else if (length != bytes) {
            throw new IOException(path + " is " + length + " bytes but the tier is configured for " + bytes
                    + "; configure the same capacity, or let kvtier reinitialize the device (its blocks are lost)");
        }
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
