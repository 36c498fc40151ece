package dev.kvtier.tier;

import dev.kvtier.codec.BlockCodec;
import dev.kvtier.codec.Codecs;
import dev.kvtier.device.BlockDevice;
import dev.kvtier.format.DeviceLayout;
import dev.kvtier.format.FormatException;
import dev.kvtier.format.InvalidationTable;
import dev.kvtier.format.SlotHeader;
import dev.kvtier.format.SlotSeal;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.SecureRandom;
import java.util.BitSet;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.CRC32C;

/**
 * A persistent tier of fixed-size slots on a {@link BlockDevice}, in the {@link DeviceLayout}
 * format. It knows bytes, not policy: the cache decides which block goes to which slot.
 *
 * <p><b>Write protocol.</b> The header's checksum covers its fields and its payload CRC32C (on a
 * sealed device also the AEAD tag) covers the stored bytes. On a local device the header is
 * wiped first, then the payload is written, then the new header, each only after the device
 * acknowledged the one before: a crash at any point leaves no header (an empty slot), a header
 * whose payload CRC does not match (a miss on read), or the whole block. On a shared device
 * (several writers and readers at once, so a reader can never rely on the order of another
 * server's writes) header and payload go as one write with no order between their bytes: at
 * every instant the slot holds the old block, the new one, or a mix whose payload fails the
 * CRC of whichever header it is read with (new header over old or torn bytes, old header over
 * new or torn bytes), which is a miss. One round trip on NBD instead of three.
 *
 * <p><b>Read protocol.</b> Header checksum, then key, namespace and device id against what the
 * caller expects, then payload CRC, then decode with the output length checked. Any mismatch
 * is reported as a status (an empty header as MISMATCH: the slot is free or being written),
 * never as bytes that count: on a device with batched reads the payload is read together with
 * the header, into the caller's buffer, so after a failed read that buffer holds junk.
 *
 * <p>Free slots are the set bits of a {@link BitSet} sized once (so allocation and release
 * never allocate), lowest first from a hint below which no bit is set; they run under the
 * cache's metadata lock. Reads and writes run on any thread, on slots the caller owns (pinned or
 * reserved). Scratch buffers are per thread and aligned for O_DIRECT.
 *
 * <p><b>Asynchronous reads.</b> On a device that reads asynchronously (NBD), a speculative read
 * ({@link #readAsync}) sends header and payload and returns; the thread that completes the I/O
 * verifies and decodes, with buffers that belong to the read (pooled per tier), never the
 * scratch of whichever thread that is, and tells the caller's callback.
 */
public final class SlotTier implements AutoCloseable {
    /**
     * Outcome of a read. UNAUTHENTIC: header and CRC intact, but the seal does not open under
     * this server's keys (forged, or sealed for a tenant whose secret this server lacks): a miss
     * like CORRUPT, but the slot is not this server's to wipe.
     */
    public enum ReadStatus { OK, MISMATCH, CORRUPT, UNAUTHENTIC, IO_ERROR }

    /**
     * How long a server that formatted a shared device waits before reading its superblock back
     * (see {@link #open(BlockDevice, int, int, BlockCodec, boolean, int, SlotSeal)}): longer
     * than another server takes between finding the device blank and formatting it.
     */
    public static final long SHARED_FORMAT_SETTLE_MS = 1_000;

    /** Most headers {@link #readHeaders} reads in one batch. */
    public static final int MAX_BATCH = 64;

    private final BlockDevice device;
    private final DeviceLayout layout;
    private final BlockCodec codec;
    private final BitSet free;
    private int freeCount;
    /** No slot below this is free. */
    private int lowestFree;
    private final AtomicLong epoch = new AtomicLong();
    private final ThreadLocal<Scratch> scratch;
    /** States of {@link #readAsync}s to reuse. */
    private final Queue<AsyncRead> asyncReads = new ConcurrentLinkedQueue<>();
    private final boolean formatted;
    /** Seals every payload written and opens every payload read, or null on an unsealed device. */
    private final SlotSeal seal;

    private SlotTier(BlockDevice device, DeviceLayout layout, BlockCodec codec, SlotSeal seal, boolean formatted) {
        this.device = device;
        this.seal = seal;
        this.formatted = formatted;
        this.layout = layout;
        this.codec = codec;
        this.scratch = ThreadLocal.withInitial(Scratch::new);
        this.free = new BitSet((int) layout.slotCount());
        free.set(0, (int) layout.slotCount());
        this.freeCount = (int) layout.slotCount();
    }

    /**
     * Opens the tier on {@code device}: formats a blank device; checks the superblock of a used
     * one. A device in another format, or for another block size or slot count, is refused with
     * the reason, unless {@code reinitialize} is true, when it is formatted afresh.
     *
     * @param codec how payloads are encoded when written (null: raw); any codec is read
     */
    public static SlotTier open(BlockDevice device, int blockTokens, int blockBytes, BlockCodec codec,
            boolean reinitialize) throws IOException {
        return open(device, blockTokens, blockBytes, codec, reinitialize, 0, null);
    }

    /**
     * As {@link #open(BlockDevice, int, int, BlockCodec, boolean)} for a device shared in sets of
     * {@code ways} slots (0: a local device) and sealed with {@code seal} (null: unsealed). A
     * device formatted with other ways, sealed with another secret, or sealed when this cache
     * has no secret (or the other way round) is refused with the reason, unless reinitialized.
     * Formatting a shared device takes {@link #SHARED_FORMAT_SETTLE_MS} more, and ends with the
     * superblock of whichever server formatted last, so that servers formatting one blank device
     * at once end up sharing it.
     */
    public static SlotTier open(BlockDevice device, int blockTokens, int blockBytes, BlockCodec codec,
            boolean reinitialize, int ways, SlotSeal seal) throws IOException {
        int align = device.alignment();
        long slots = DeviceLayout.slotsThatFit(device.size(), align, blockBytes);
        if (slots < 1 || slots > Integer.MAX_VALUE) {
            throw new IncompatibleDeviceException(device.describe() + " (" + device.size() + " bytes) holds " + slots
                    + " slots of " + blockBytes + "-byte blocks; need 1 to 2^31-1");
        }
        long creationId = new SecureRandom().nextLong();
        DeviceLayout wanted = new DeviceLayout(align, slots, blockTokens, blockBytes, creationId, ways,
                seal == null ? 0 : seal.keyCheck(creationId));
        ByteBuffer sb = alignedBuffer(DeviceLayout.SUPERBLOCK_BYTES, align);
        device.readSparse(0, sb);
        DeviceLayout found = null;
        String problem = null;
        if (!allZero(sb)) {
            try {
                found = DeviceLayout.decode(sb);
                problem = found.incompatibility(wanted);
                if (problem == null && seal != null && found.keyCheck() != seal.keyCheck(found.creationId())) {
                    problem = "its blocks are sealed with another secret than this cache's";
                }
            } catch (FormatException e) {
                problem = e.getMessage();
            }
        }
        if (found != null && problem == null) {
            return new SlotTier(device, found, codec, seal, false);
        }
        if (problem != null && !reinitialize) {
            throw new IncompatibleDeviceException(device.describe() + " cannot be used: " + problem
                    + ". Point kvtier at another file, or let it reinitialize the device (its blocks are lost)");
        }
        ByteBuffer metadata = alignedBuffer(DeviceLayout.METADATA_BYTES, align);
        wanted.encode(metadata);
        InvalidationTable.EMPTY.encode(metadata.duplicate().position(DeviceLayout.SUPERBLOCK_BYTES).slice());
        device.write(0, metadata);
        device.flush();
        if (ways > 0) {
            return settleSharedFormat(device, wanted, codec, seal, sb);
        }
        return new SlotTier(device, wanted, codec, seal, true);
    }

    /**
     * The ways a shared device was formatted with, read from its superblock; 0 when it is blank,
     * local, or holds no superblock this version can read (opening it then formats or refuses it).
     */
    public static int formattedWays(BlockDevice device) throws IOException {
        ByteBuffer sb = alignedBuffer(DeviceLayout.SUPERBLOCK_BYTES, device.alignment());
        device.readSparse(0, sb);
        if (allZero(sb)) {
            return 0;
        }
        try {
            return DeviceLayout.decode(sb).ways();
        } catch (FormatException e) {
            return 0;
        }
    }

    /**
     * After formatting a shared device: several servers may have found it blank and formatted it
     * at once, each with its own creation id, and the last write won. Waits
     * {@link #SHARED_FORMAT_SETTLE_MS} and reads the superblock back: the one there is adopted
     * by every server that formatted, so they share one device. A superblock that cannot be
     * used by this cache (another server formatted for another geometry) is refused.
     */
    private static SlotTier settleSharedFormat(BlockDevice device, DeviceLayout ours, BlockCodec codec, SlotSeal seal,
            ByteBuffer sb) throws IOException {
        try {
            Thread.sleep(SHARED_FORMAT_SETTLE_MS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(device.describe() + ": interrupted while formatting", e);
        }
        device.readSparse(0, sb.clear());
        DeviceLayout found;
        try {
            found = DeviceLayout.decode(sb);
        } catch (FormatException e) {
            throw new IncompatibleDeviceException(device.describe() + " was formatted and then overwritten: "
                    + e.getMessage());
        }
        if (found.creationId() == ours.creationId()) {
            return new SlotTier(device, ours, codec, seal, true);
        }
        String problem = found.incompatibility(ours);
        if (problem == null && seal != null && found.keyCheck() != seal.keyCheck(found.creationId())) {
            problem = "its blocks are sealed with another secret than this cache's";
        }
        if (problem != null) {
            throw new IncompatibleDeviceException(device.describe() + " was formatted at the same time by another server, which "
                    + "won, and cannot be used: " + problem);
        }
        return new SlotTier(device, found, codec, seal, true);
    }

    /**
     * Whether the device's superblock is no longer the one this tier was opened with: blank (its
     * server restarted empty), another format, or unreadable as a superblock.
     */
    public boolean superblockChanged() throws IOException {
        ByteBuffer sb = alignedBuffer(DeviceLayout.SUPERBLOCK_BYTES, layout.alignment());
        device.readSparse(0, sb);
        try {
            return DeviceLayout.decode(sb).creationId() != layout.creationId();
        } catch (FormatException e) {
            return true;
        }
    }

    /** True when this open formatted the device: it holds nothing of this life, no scan needed. */
    public boolean formatted() {
        return formatted;
    }

    public DeviceLayout layout() {
        return layout;
    }

    public BlockDevice device() {
        return device;
    }

    public int slotCount() {
        return (int) layout.slotCount();
    }

    /** Free slots. Under the cache lock. */
    public int freeSlots() {
        return freeCount;
    }

    /** A free slot, now owned by the caller, or -1. Under the cache lock. */
    public int allocate() {
        if (freeCount == 0) {
            return -1;
        }
        int slot = free.nextSetBit(lowestFree);
        markUsed(slot);
        lowestFree = slot + 1;
        return slot;
    }

    /** Marks a slot found in use by a scan. Under the cache lock. */
    public void markUsed(int slot) {
        if (free.get(slot)) {
            free.clear(slot);
            freeCount--;
        }
    }

    /** Returns a slot to the free set. Its header must already be wiped or stale. Under the cache lock. */
    public void release(int slot) {
        if (!free.get(slot)) {
            free.set(slot);
            freeCount++;
            lowestFree = Math.min(lowestFree, slot);
        }
    }

    /**
     * Writes {@code block} (its remaining bytes) to {@code slot} following the write protocol.
     * {@code h} carries the key fields; this fills in codec, lengths, CRC, epoch and device id.
     */
    public void write(int slot, ByteBuffer block, SlotHeader h) throws IOException {
        Scratch s = scratch.get();
        boolean shared = layout.ways() > 0;
        if (!shared) {
            wipe(slot, s);
        }
        ByteBuffer stored = encode(block, h, s);
        if (shared) {
            h.encode(s.header.clear(), 0);
            device.write(layout.headerOffset(slot), s.header, forDevice(stored, s));
            return;
        }
        device.write(layout.payloadOffset(slot), forDevice(stored, s));
        h.encode(s.header.clear(), 0);
        device.write(layout.headerOffset(slot), s.header);
    }

    /**
     * Fills {@code h}'s codec, lengths, epoch, device id and payload CRC for {@code block}, and
     * returns the bytes to store: the block itself, or its encoding (compressed, sealed) in scratch.
     */
    private ByteBuffer encode(ByteBuffer block, SlotHeader h, Scratch s) {
        int n = block.remaining();
        ByteBuffer stored = block;
        h.codec = Codecs.RAW;
        if (codec != null) {
            int len = codec.encode(block, s.payload().clear());
            if (len > 0) {
                h.codec = codec.id();
                stored = s.payload().limit(len);
            }
        }
        h.blockLength = n;
        h.storedLength = stored.remaining();
        h.epoch = nextEpoch();
        h.deviceId = layout.creationId();
        if (seal != null) {
            if (stored == block && !SlotSeal.cipherTakes(block)) { // a DRAM page view goes through scratch
                int at = block.position();
                stored = s.payload().clear().put(block).flip();
                block.position(at);
            }
            ByteBuffer sealed = s.sealed().clear();
            seal.seal(h, stored, sealed, s.aad);
            stored = sealed.limit(h.storedLength);
        }
        h.payloadCrc = crc(s.crc, stored);
        return stored;
    }

    /**
     * Write epochs grow with every write and with wall-clock time (milliseconds shifted left by
     * 12 bits, so 4,096 writes per millisecond before the counter leads the clock): epochs of
     * different writers sharing one device are then comparable, which set-associative placement
     * on a shared device uses to find the oldest block of a set.
     */
    public long nextEpoch() {
        long now = System.currentTimeMillis() << 12;
        while (true) {
            long prev = epoch.get();
            long next = Math.max(prev + 1, now);
            if (epoch.compareAndSet(prev, next)) {
                return next;
            }
        }
    }

    /** Makes every later epoch of this tier greater than {@code epoch} (epochs shared by several devices). */
    public void advanceEpoch(long epoch) {
        this.epoch.accumulateAndGet(epoch, Math::max);
    }

    /** The device's invalidation table, as it is on the device now. */
    public InvalidationTable readInvalidations() throws IOException {
        ByteBuffer page = alignedBuffer(InvalidationTable.BYTES, layout.alignment());
        device.readSparse(DeviceLayout.SUPERBLOCK_BYTES, page);
        return InvalidationTable.decode(page.clear());
    }

    /**
     * Records on the device that namespace {@code (nsHi, nsLo)} is invalid up to {@code epoch}
     * (see {@link InvalidationTable}; namespace (0, 0) raises the floor): reads the table, adds the record, writes the page back and
     * flushes. Returns the table written. Serialised within this process; on a shared device two
     * processes writing the table at once may lose one record, so callers reread and repeat.
     */
    public synchronized InvalidationTable recordInvalidation(long nsHi, long nsLo, long epoch) throws IOException {
        InvalidationTable read = readInvalidations();
        InvalidationTable t = nsHi == 0 && nsLo == 0 ? read.withFloor(epoch) : read.with(nsHi, nsLo, epoch);
        ByteBuffer page = alignedBuffer(InvalidationTable.BYTES, layout.alignment());
        t.encode(page);
        device.write(DeviceLayout.SUPERBLOCK_BYTES, page.clear());
        device.flush();
        return t;
    }

    /**
     * Reads and checks the header of {@code slot} into {@code into}: true when it is a valid
     * header of this device's life, false when the slot is empty, corrupt or stale.
     */
    public boolean readHeader(int slot, SlotHeader into) throws IOException {
        Scratch s = scratch.get();
        device.read(layout.headerOffset(slot), s.header.clear());
        return decodeValid(s.header, into);
    }

    private boolean decodeValid(ByteBuffer raw, SlotHeader into) {
        if (SlotHeader.isEmpty(raw, 0)) {
            return false;
        }
        try {
            into.decode(raw, 0, layout.blockBytes());
        } catch (FormatException e) {
            return false;
        }
        return into.deviceId == layout.creationId();
    }

    /** Wipes {@code slot}'s header so the slot reads as empty. */
    public void wipe(int slot) throws IOException {
        wipe(slot, scratch.get());
    }

    private void wipe(int slot, Scratch s) throws IOException {
        ByteBuffer hb = s.header.clear();
        SlotHeader.encodeEmpty(hb, 0);
        device.write(layout.headerOffset(slot), hb);
    }

    /**
     * Reads the block in {@code slot} into {@code dst} (exactly the block's bytes remaining) if
     * the slot holds key {@code (keyHi, keyLo)} of namespace {@code (nsHi, nsLo)}, intact. On a
     * device that {@linkplain BlockDevice#batchesReads batches reads} the payload is read with the
     * header, so {@code dst} is written whatever the outcome; only OK means its bytes are the block.
     */
    public ReadStatus read(int slot, long keyHi, long keyLo, long nsHi, long nsLo, ByteBuffer dst) {
        Scratch s = scratch.get();
        boolean speculate = speculates(dst);
        ByteBuffer landing = landing(dst, s);
        try {
            if (speculate) {
                s.offsets[0] = layout.headerOffset(slot);
                s.batch[0] = s.header.clear();
                s.offsets[1] = layout.payloadOffset(slot);
                s.batch[1] = landing;
                device.readBatch(s.offsets, s.batch, 2);
                return verifyLanded(keyHi, keyLo, nsHi, nsLo, landing, dst, s);
            }
            device.read(layout.headerOffset(slot), s.header.clear());
            ReadStatus st = checkHeader(keyHi, keyLo, nsHi, nsLo, dst, s);
            return st != ReadStatus.OK ? st : readPayload(slot, s.decoded, dst, s);
        } catch (IOException e) {
            return ReadStatus.IO_ERROR;
        }
    }

    /** Whether a read into {@code dst} reads header and payload as one batch (see {@link #read}). */
    private boolean speculates(ByteBuffer dst) {
        return device.batchesReads() && layout.alignment() == 1 && dst.isDirect() && dst.remaining() == layout.blockBytes();
    }

    /** Where a speculative read's payload lands: {@code dst}, or scratch for a sealed payload. */
    private ByteBuffer landing(ByteBuffer dst, ReadBuffers s) {
        return seal == null ? dst : s.sealed().clear().limit(layout.blockBytes());
    }

    /**
     * Whether {@link #readAsync} can read into {@code dst}: on a device that reads
     * asynchronously, a speculative read (see {@link #read}); other reads block a thread.
     */
    public boolean readsAsync(ByteBuffer dst) {
        return device.readsAsync() && speculates(dst);
    }

    /** Told the outcome of a {@link #readAsync}. */
    @FunctionalInterface
    public interface ReadCallback {
        void read(ReadStatus status);
    }

    /**
     * As {@link #read}, without blocking (only where {@link #readsAsync}): header and payload
     * are sent as one batch, and verified and decoded on the thread that completes them (NBD:
     * the connection's reader), which then tells {@code then}, once. The reads must be over by
     * {@code deadlineNanos} ({@link System#nanoTime}); a read that fails (or finds no live
     * connection) is IO_ERROR, told only once no byte lands in {@code dst} any more. What the
     * read uses across threads is a pooled {@link AsyncRead} of its own, never a thread's scratch.
     */
    public void readAsync(int slot, long keyHi, long keyLo, long nsHi, long nsLo, ByteBuffer dst, long deadlineNanos,
            ReadCallback then) {
        AsyncRead r = asyncReads.poll();
        if (r == null) {
            r = new AsyncRead();
        }
        r.start(slot, keyHi, keyLo, nsHi, nsLo, dst, deadlineNanos, then);
    }

    /** The header was read into {@code s.header} and the payload landed in {@code landing}: the block's status. */
    private ReadStatus verifyLanded(long keyHi, long keyLo, long nsHi, long nsLo, ByteBuffer landing, ByteBuffer dst,
            ReadBuffers s) {
        ReadStatus st = checkHeader(keyHi, keyLo, nsHi, nsLo, dst, s);
        return st != ReadStatus.OK ? st : checkLanded(s.decoded, landing, dst, s);
    }

    /** Decodes {@code s.header} into {@code s.decoded}: OK when it is the wanted block, of {@code dst}'s length. */
    private ReadStatus checkHeader(long keyHi, long keyLo, long nsHi, long nsLo, ByteBuffer dst, ReadBuffers s) {
        if (SlotHeader.isEmpty(s.header, 0)) {
            return ReadStatus.MISMATCH;
        }
        SlotHeader h = s.decoded;
        try {
            h.decode(s.header, 0, layout.blockBytes());
        } catch (FormatException e) {
            return ReadStatus.CORRUPT;
        }
        if (h.keyHi != keyHi || h.keyLo != keyLo || h.namespaceHi != nsHi || h.namespaceLo != nsLo
                || h.deviceId != layout.creationId() || h.blockLength != dst.remaining()) {
            return ReadStatus.MISMATCH;
        }
        return ReadStatus.OK;
    }

    /**
     * The payload was read into {@code dst} together with the header: a raw one is checked in
     * place; an encoded one is moved to scratch, checked and decoded into {@code dst}.
     */
    private ReadStatus checkLanded(SlotHeader h, ByteBuffer landing, ByteBuffer dst, ReadBuffers s) {
        if (landing != dst) { // sealed: the payload landed in scratch
            return verifyAndDecode(h, landing.limit(h.storedLength), dst, false, s);
        }
        if (h.codec == Codecs.RAW) { // stored length = block length = dst's remaining bytes
            return verifyAndDecode(h, dst, dst, true, s);
        }
        int at = dst.position();
        ByteBuffer in = s.payload().clear().put(dst.limit(at + h.storedLength)).flip();
        dst.limit(at + h.blockLength).position(at);
        return verifyAndDecode(h, in, dst, false, s);
    }

    /**
     * Reads the headers of slots {@code first .. first + count} (at most 64) in one batch into
     * {@code into[0 .. count)}; bit i of the result is set when slot {@code first + i} holds a
     * valid header of this device's life (see {@link #readHeader}).
     */
    public long readHeaders(int first, int count, SlotHeader[] into) throws IOException {
        Scratch s = scratch.get();
        s.ensureHeaders();
        for (int i = 0; i < count; i++) {
            s.offsets[i] = layout.headerOffset(first + i);
            s.batch[i] = s.headers[i].clear();
        }
        device.readBatch(s.offsets, s.batch, count);
        long valid = 0;
        for (int i = 0; i < count; i++) {
            if (decodeValid(s.headers[i], into[i])) {
                valid |= 1L << i;
            }
        }
        return valid;
    }

    private ReadStatus readPayload(int slot, SlotHeader h, ByteBuffer dst, ReadBuffers s) throws IOException {
        boolean direct = h.codec == Codecs.RAW && layout.alignment() == 1 && dst.isDirect() && seal == null;
        ByteBuffer in = direct ? dst : seal != null ? s.sealed().clear().limit(layout.aligned(h.storedLength))
                : s.payload().clear().limit(layout.aligned(h.storedLength));
        device.read(layout.payloadOffset(slot), in);
        return verifyAndDecode(h, direct ? dst : in.limit(h.storedLength), dst, direct, s);
    }

    /** Checks the CRC of the stored bytes {@code in}; unless they are {@code dst} itself, decodes or copies them there. */
    private ReadStatus verifyAndDecode(SlotHeader h, ByteBuffer in, ByteBuffer dst, boolean inPlace, ReadBuffers s) {
        if (crc(s.crc, in) != h.payloadCrc) {
            return ReadStatus.CORRUPT;
        }
        if (seal != null) { // in is the sealed payload in scratch: opened into dst when the cipher takes it, else scratch
            boolean straight = h.codec == Codecs.RAW && SlotSeal.cipherTakes(dst);
            ByteBuffer plain = straight ? dst : s.payload().clear().limit(h.storedLength);
            if (!seal.open(h, in, h.storedLength, plain, s.aad)) {
                return ReadStatus.UNAUTHENTIC;
            }
            if (straight) {
                return ReadStatus.OK;
            }
            in = plain;
            inPlace = false;
        }
        if (inPlace) {
            return ReadStatus.OK;
        }
        BlockCodec c = Codecs.byId(h.codec);
        if (c == null) {
            dst.duplicate().put(in);
            return ReadStatus.OK;
        }
        try {
            c.decode(in, dst, h.blockLength);
            return ReadStatus.OK;
        } catch (FormatException e) {
            return ReadStatus.CORRUPT;
        }
    }

    /** Receives what {@link #scan} finds in each slot that is not empty. */
    public interface ScanVisitor {
        /** A valid header of this device's life. */
        void slot(int slot, SlotHeader header);

        /** A header that is corrupt or stale (an earlier life of the device). */
        void unusable(int slot);

        /** A header that could not be read (an I/O error): its slot may still hold a good block. */
        void unreadable(int slot);
    }

    /**
     * Reads every slot's header (not payloads), with sparse reads so that holes stay holes, and
     * reports each non-empty slot to {@code visitor}.
     */
    public void scan(ScanVisitor visitor) {
        Scratch s = scratch.get();
        for (int slot = 0; slot < layout.slotCount(); slot++) {
            try {
                device.readSparse(layout.headerOffset(slot), s.header.clear());
            } catch (IOException e) {
                visitor.unreadable(slot);
                continue;
            }
            if (SlotHeader.isEmpty(s.header, 0)) {
                continue;
            }
            try {
                s.decoded.decode(s.header, 0, layout.blockBytes());
            } catch (FormatException e) {
                visitor.unusable(slot);
                continue;
            }
            if (s.decoded.deviceId != layout.creationId()) {
                visitor.unusable(slot);
                continue;
            }
            epoch.accumulateAndGet(s.decoded.epoch, Math::max);
            visitor.slot(slot, s.decoded);
        }
    }

    public void flush() throws IOException {
        device.flush();
    }

    @Override
    public void close() throws IOException {
        device.close();
    }

    private ByteBuffer forDevice(ByteBuffer stored, Scratch s) {
        if (layout.alignment() == 1 && stored.isDirect()) {
            return stored;
        }
        int len = stored.remaining();
        int padded = layout.aligned(len);
        if (stored != s.payload()) {
            int at = stored.position();
            s.payload().clear().put(stored);
            stored.position(at);
        }
        s.payload().clear();
        for (int i = len; i < padded; i++) {
            s.payload().put(i, (byte) 0);
        }
        return s.payload().limit(padded);
    }

    /** The CRC32C of {@code b}'s remaining bytes; its position is left as it was. */
    private static int crc(CRC32C crc, ByteBuffer b) {
        int at = b.position();
        crc.reset();
        crc.update(b);
        b.position(at);
        return (int) crc.getValue();
    }

    private static boolean allZero(ByteBuffer b) {
        for (int i = 0; i < b.limit(); i++) {
            if (b.get(i) != 0) {
                return false;
            }
        }
        return true;
    }

    /** A direct buffer of exactly {@code bytes} (its capacity), starting on an aligned address. */
    static ByteBuffer alignedBuffer(int bytes, int alignment) {
        int a = Math.max(alignment, 64);
        int rounded = (bytes + a - 1) & -a;
        return ByteBuffer.allocateDirect(rounded + a).alignedSlice(a).limit(bytes).slice()
                .order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * The buffers of one read, check and decode: a header, a decoded header, a CRC, the
     * associated data of a seal; a payload (encoded or bounced) and a sealed payload with its
     * tag, made on first use.
     */
    private class ReadBuffers {
        final ByteBuffer header = alignedBuffer(layout.headerBytes(), layout.alignment());
        final ByteBuffer aad = ByteBuffer.allocate(SlotHeader.BYTES);
        final CRC32C crc = new CRC32C();
        final SlotHeader decoded = new SlotHeader();
        private ByteBuffer payload;
        private ByteBuffer sealed;

        ByteBuffer payload() {
            if (payload == null) {
                payload = alignedBuffer(layout.aligned(layout.blockBytes()), layout.alignment());
            }
            return payload;
        }

        ByteBuffer sealed() {
            if (sealed == null) {
                sealed = alignedBuffer(layout.aligned(layout.blockBytes() + SlotSeal.TAG_BYTES), layout.alignment());
            }
            return sealed;
        }
    }

    /** Per-thread buffers: {@link ReadBuffers}, and a batch of up to {@link #MAX_BATCH} header reads. */
    private final class Scratch extends ReadBuffers {
        final ByteBuffer[] headers = new ByteBuffer[MAX_BATCH];
        final ByteBuffer[] batch = new ByteBuffer[MAX_BATCH];
        final long[] offsets = new long[MAX_BATCH];

        /** Allocates the batch header buffers on first use (only shared tiers read batches of headers). */
        void ensureHeaders() {
            if (headers[0] == null) {
                for (int i = 0; i < MAX_BATCH; i++) {
                    headers[i] = alignedBuffer(layout.headerBytes(), layout.alignment());
                }
            }
        }
    }

    /**
     * One {@link #readAsync} in flight, with buffers of its own (reused: pooled in
     * {@link #asyncReads}, at most as many as reads in flight at once). It belongs to the read
     * from {@link #start} until it has told its callback, and goes back to the pool before that
     * call, so a callback that starts the next read may reuse it.
     */
    private final class AsyncRead extends ReadBuffers implements BlockDevice.BatchCompletion {
        private final long[] offsets = new long[2];
        private final ByteBuffer[] batch = new ByteBuffer[2];
        private long keyHi;
        private long keyLo;
        private long nsHi;
        private long nsLo;
        private ByteBuffer dst;
        private ByteBuffer landing;
        private ReadCallback then;

        void start(int slot, long kHi, long kLo, long nHi, long nLo, ByteBuffer into, long deadlineNanos, ReadCallback cb) {
            keyHi = kHi;
            keyLo = kLo;
            nsHi = nHi;
            nsLo = nLo;
            dst = into;
            then = cb;
            landing = landing(into, this);
            offsets[0] = layout.headerOffset(slot);
            batch[0] = header.clear();
            offsets[1] = layout.payloadOffset(slot);
            batch[1] = landing;
            device.startReadBatch(offsets, batch, 2, deadlineNanos, this);
        }

        @Override
        public void completed(IOException failure) {
            ReadStatus st;
            try {
                st = failure != null ? ReadStatus.IO_ERROR : verifyLanded(keyHi, keyLo, nsHi, nsLo, landing, dst, this);
            } catch (RuntimeException e) {
                st = ReadStatus.IO_ERROR;
            }
            ReadCallback cb = then;
            dst = null;
            landing = null;
            then = null;
            batch[1] = null;
            asyncReads.offer(this);
            cb.read(st);
        }
    }
}
