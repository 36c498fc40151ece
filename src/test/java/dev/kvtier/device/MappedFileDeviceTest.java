package dev.kvtier.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class MappedFileDeviceTest extends BlockDeviceContract {
    @Override
    BlockDevice open(Path path, long size, boolean resize) throws IOException {
        return MappedFileDevice.open(path, size, resize);
    }

    @Override
    String kind() {
        return "mapped";
    }

    @Test
    void anyOffsetAndLengthWorkButOnlyDirectBuffers() throws Exception {
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
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> d.write(0, ByteBuffer.allocate(10)));
            assertTrue(e.getMessage().contains("direct buffers"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> d.read(0, ByteBuffer.allocate(10)));
            assertTrue(d.describe().contains("mapped file") && d.describe().contains("dev"), d.describe());
        }
    }
}
