package dev.kvtier.device;

import java.nio.file.Path;

/**
 * Opens a device in a child JVM and prints what happened: {@code opened <size>} or
 * {@code thrown <class>: <message>}. Arguments: {@code buffered|direct}, path, size, and optionally {@code resize}.
 */
public final class DeviceOpener {
    private DeviceOpener() {
    }

    public static void main(String[] args) throws Exception {
        Path path = Path.of(args[1]);
        long size = Long.parseLong(args[2]);
        boolean resize = args.length > 3 && args[3].equals("resize");
        try (BlockDevice d = args[0].equals("direct") ? DirectFileDevice.open(path, size, resize)
                : BufferedFileDevice.open(path, size, resize)) {
            System.out.println("opened " + d.size());
        } catch (Throwable t) {
            System.out.println("thrown " + t.getClass().getName() + ": " + t.getMessage());
        }
    }
}
