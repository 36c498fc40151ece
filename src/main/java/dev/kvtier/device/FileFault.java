package dev.kvtier.device;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The failed state of a device on a file, and the {@code pread}/{@code pwrite} loops that
 * detect its one fault: a file shorter than the device, truncated under the cache (by another
 * process, an operator). A read then reaches the end of the file; a write is checked against the
 * file's length first, since {@code pwrite} past the end would only extend the file over a hole
 * (a truncation between the check and the write is found by the next access). The first fault
 * is logged once, at ERROR, and fails the device for good: every later access throws at once
 * without touching the file. Other I/O errors (EIO, ENOSPC) fail only their access.
 */
final class FileFault {
    private static final Logger LOG = LoggerFactory.getLogger(BlockDevice.class);

    private final BlockDevice device;
    private volatile String failure;

    FileFault(BlockDevice device) {
        this.device = device;
    }

    boolean failed() {
        return failure != null;
    }

    void readFully(FileChannel ch, long offset, ByteBuffer dst) throws IOException {
        check();
        int start = dst.position();
        try {
            while (dst.hasRemaining()) {
                long at = offset + (dst.position() - start);
                if (ch.read(dst, at) < 0) {
                    throw fail("read of " + (dst.limit() - start) + " bytes at " + offset
                            + " reached the end of the file at " + at, ch.size());
                }
            }
        } finally {
            dst.position(start);
        }
    }

    void writeFully(FileChannel ch, long offset, ByteBuffer src) throws IOException {
        check();
        long length = ch.size();
        if (length < device.size()) {
            throw fail("write of " + src.remaining() + " bytes at " + offset + " refused", length);
        }
        int start = src.position();
        try {
            while (src.hasRemaining()) {
                ch.write(src, offset + (src.position() - start));
            }
        } finally {
            src.position(start);
        }
    }

    private void check() throws IOException {
        String f = failure;
        if (f != null) {
            throw new IOException(device.describe() + " has failed: " + f);
        }
    }

    private IOException fail(String what, long fileLength) {
        String message = what + ": the file is " + fileLength + " bytes, shorter than the device's " + device.size()
                + "; it was probably truncated. The tier has failed: its reads miss and its writes are declined"
                + " until the cache is reopened";
        synchronized (this) {
            if (failure == null) {
                failure = message;
                LOG.error("kvtier: {}: {}", device.describe(), message);
            }
        }
        return new IOException(device.describe() + ": " + message);
    }
}
