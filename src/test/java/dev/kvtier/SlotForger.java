package dev.kvtier;

import dev.kvtier.device.NbdDevice;
import dev.kvtier.format.DeviceLayout;
import dev.kvtier.format.FormatException;
import dev.kvtier.format.SlotHeader;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * A hostile server, run in its own JVM: it writes to a shared export with no secret, through the
 * raw NBD device, what anyone who can reach the export can compute.
 * <ul>
 *   <li>{@code forge}: every valid slot gets the payload of another valid slot, under its own
 *       header with the payload CRC recomputed and a valid header CRC (nonce and tag kept);
 *   <li>{@code save FILE}: copies every valid slot's header and payload to {@code FILE};
 *   <li>{@code replay FILE}: writes those images back to their slots;
 *   <li>{@code future}: every valid slot's write epoch moved a day ahead, header CRC recomputed
 *       (a slot that would stay the newest of its set for good).
 * </ul>
 * Prints {@code slots N}: how many slots it rewrote or saved.
 */
public final class SlotForger {
    private SlotForger() {
    }

    public static void main(String[] args) throws Exception {
        try (NbdDevice device = NbdDevice.open(URI.create(args[0]), Long.parseLong(args[1]), 1, 10_000)) {
            ByteBuffer sb = ByteBuffer.allocateDirect(DeviceLayout.SUPERBLOCK_BYTES);
            device.read(0, sb);
            DeviceLayout layout = DeviceLayout.decode(sb);
            int n = switch (args[2]) {
                case "forge" -> forge(device, layout);
                case "save" -> save(device, layout, Path.of(args[3]));
                case "replay" -> replay(device, layout, Path.of(args[3]));
                case "future" -> future(device, layout);
                default -> throw new IllegalArgumentException(args[2]);
            };
            System.out.println("slots " + n);
        }
    }

    private static int forge(NbdDevice device, DeviceLayout layout) throws IOException {
        List<Integer> valid = validSlots(device, layout);
        List<ByteBuffer> payloads = new ArrayList<>();
        for (int slot : valid) {
            ByteBuffer p = ByteBuffer.allocateDirect(layout.blockBytes());
            device.read(layout.payloadOffset(slot), p);
            payloads.add(p);
        }
        for (int i = 0; i < valid.size() && valid.size() > 1; i++) {
            int slot = valid.get(i);
            SlotHeader h = header(device, layout, slot);
            ByteBuffer other = payloads.get((i + 1) % valid.size());
            CRC32C crc = new CRC32C();
            crc.update(other.duplicate().limit(h.storedLength));
            h.payloadCrc = (int) crc.getValue();
            device.write(layout.payloadOffset(slot), other.duplicate());
            ByteBuffer hb = ByteBuffer.allocateDirect(SlotHeader.BYTES).order(ByteOrder.LITTLE_ENDIAN);
            h.encode(hb, 0);
            device.write(layout.headerOffset(slot), hb);
        }
        return valid.size();
    }

    private static int future(NbdDevice device, DeviceLayout layout) throws IOException {
        List<Integer> valid = validSlots(device, layout);
        long dayAhead = System.currentTimeMillis() + 86_400_000L << 12;
        for (int slot : valid) {
            SlotHeader h = header(device, layout, slot);
            h.epoch = dayAhead;
            ByteBuffer hb = ByteBuffer.allocateDirect(SlotHeader.BYTES).order(ByteOrder.LITTLE_ENDIAN);
            h.encode(hb, 0);
            device.write(layout.headerOffset(slot), hb);
        }
        return valid.size();
    }

    private static int save(NbdDevice device, DeviceLayout layout, Path file) throws IOException {
        List<Integer> valid = validSlots(device, layout);
        try (DataOutputStream out = new DataOutputStream(Files.newOutputStream(file))) {
            for (int slot : valid) {
                ByteBuffer image = ByteBuffer.allocateDirect(layout.slotBytes());
                device.read(layout.headerOffset(slot), image);
                byte[] bytes = new byte[image.capacity()];
                image.get(bytes);
                out.writeInt(slot);
                out.write(bytes);
            }
        }
        return valid.size();
    }

    private static int replay(NbdDevice device, DeviceLayout layout, Path file) throws IOException {
        int n = 0;
        try (DataInputStream in = new DataInputStream(Files.newInputStream(file))) {
            while (in.available() > 0) {
                int slot = in.readInt();
                byte[] bytes = new byte[layout.slotBytes()];
                in.readFully(bytes);
                device.write(layout.headerOffset(slot), ByteBuffer.allocateDirect(bytes.length).put(bytes).flip());
                n++;
            }
        }
        return n;
    }

    private static List<Integer> validSlots(NbdDevice device, DeviceLayout layout) throws IOException {
        List<Integer> valid = new ArrayList<>();
        for (int slot = 0; slot < layout.slotCount(); slot++) {
            if (header(device, layout, slot) != null) {
                valid.add(slot);
            }
        }
        return valid;
    }

    private static SlotHeader header(NbdDevice device, DeviceLayout layout, int slot) throws IOException {
        ByteBuffer hb = ByteBuffer.allocateDirect(SlotHeader.BYTES);
        device.read(layout.headerOffset(slot), hb);
        if (SlotHeader.isEmpty(hb, 0)) {
            return null;
        }
        try {
            return new SlotHeader().decode(hb, 0, layout.blockBytes());
        } catch (FormatException e) {
            return null;
        }
    }
}
