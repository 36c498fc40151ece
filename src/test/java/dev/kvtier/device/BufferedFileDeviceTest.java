package dev.kvtier.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class BufferedFileDeviceTest extends BlockDeviceContract {
    @Override
    BlockDevice open(Path path, long size, boolean resize) throws IOException {
        return BufferedFileDevice.open(path, size, resize);
    }

    @Override
    String kind() {
        return "buffered";
    }

    @Test
    void anyOffsetAndLengthWork() throws Exception {
        try (BlockDevice d = open(dir.resolve("dev"), MIB, false)) {
            assertEquals(1, d.alignment());
            ByteBuffer odd = ByteBuffer.allocateDirect(1001);
            for (int i = 0; i < 1001; i++) {
                odd.put(i, (byte) (i * 7));
            }
            odd.position(3).limit(1000);
            d.write(12345, odd);
            ByteBuffer back = ByteBuffer.allocateDirect(997);
            d.read(12345, back);
            assertEquals(odd, back);
            ByteBuffer one = ByteBuffer.allocateDirect(1);
            d.read(MIB - 1, one);
            assertEquals(0, one.get(0));
            assertTrue(d.describe().startsWith("file ") && d.describe().contains("dev"), d.describe());
        }
    }
}
