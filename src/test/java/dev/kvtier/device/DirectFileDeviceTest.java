package dev.kvtier.device;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class DirectFileDeviceTest extends BlockDeviceContract {
    @Override
    BlockDevice open(Path path, long size, boolean resize) throws IOException {
        return DirectFileDevice.open(path, size, resize);
    }

    @Override
    String kind() {
        return "direct";
    }

    @Test
    void alignmentIsALogicalBlockSizeAndMisalignedAccessIsRefused() throws Exception {
        try (BlockDevice d = open(dir.resolve("dev"), MIB, false)) {
            int a = d.alignment();
            assertTrue(a >= 512 && a <= 4096 && Integer.bitCount(a) == 1, "alignment " + a);
            ByteBuffer ok = aligned(a, a);
            d.write(a, ok);
            d.read(a, ok);
            ByteBuffer misplaced = aligned(2 * a, a).position(1).limit(1 + a);
            String[] what = {"offset", "length", "address"};
            for (int i = 0; i < 3; i++) {
                long offset = i == 0 ? a / 2 : a;
                ByteBuffer b = i == 1 ? aligned(a + 1, a).limit(a - 8) : i == 2 ? misplaced : ok;
                int k = i;
                IllegalArgumentException r = assertThrows(IllegalArgumentException.class, () -> d.read(offset, b),
                        what[i]);
                assertTrue(r.getMessage().contains("must be multiples of " + a), r.getMessage());
                assertThrows(IllegalArgumentException.class, () -> d.write(offset, b), () -> what[k]);
            }
            assertTrue(d.describe().contains("O_DIRECT") && d.describe().contains("dev"), d.describe());
        }
    }
}
