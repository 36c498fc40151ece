package dev.kvtier.nbd;

import static dev.kvtier.nbd.NbdBytes.assertAll;
import static dev.kvtier.nbd.NbdBytes.assertPattern;
import static dev.kvtier.nbd.NbdBytes.await;
import static dev.kvtier.nbd.NbdBytes.patternArray;
import static dev.kvtier.nbd.NbdProtocol.REPLY_FLAG_DONE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Structured replies from a hostile or broken server ({@link ScriptedNbdServer}) to a read of
 * {@link #LEN} bytes at device offset {@link #AT} into a window of a larger arena buffer, the way
 * NbdDevice splits a buffer into pieces: guard bytes on both sides, the window poisoned. What must
 * hold: no byte outside the window ever changes; a chunk outside the request (overflowing
 * offsets included), an overlapping chunk or a malformed one fails the connection; a reply that
 * leaves bytes uncovered fails its read (naming them) and nothing else; a well-formed reply in any
 * order delivers exactly the right bytes.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class NbdHostileReplyTest {
    private static final long AT = 1000;
    private static final int LEN = 4096;
    private static final int GUARD_BYTES = 1024;
    private static final byte GUARD = (byte) 0xA5;
    private static final byte POISON = (byte) 0x5A;
    private static final long SEED = 17;
    private static final int DONE = REPLY_FLAG_DONE;
    private static final String OVERLAP = "overlaps bytes the same reply already delivered";
    /**
     * A chunk offset for which the unchecked sum overflows and the int cast points at the arena's
     * first byte: {@code OVERFLOW - AT} is 2^63 - 1024, which is -1024 as an int, and
     * {@code OVERFLOW + n} is negative for any n of 24 or more.
     */
    private static final long OVERFLOW = Long.MAX_VALUE - 23;

    interface Reply {
        void send(ScriptedNbdServer.Request q, ScriptedNbdServer.Replies out) throws IOException;
    }

    @Test
    void theOverflowingOffsetIsWhatItSaysItIs() {
        assertEquals(-GUARD_BYTES, (int) (OVERFLOW - AT));
        assertTrue(OVERFLOW + 24 < 0 && OVERFLOW > AT);
    }

    @Test
    void aDataChunkWhoseEndOverflowsFailsTheConnection() throws Exception {
        protocolError("data chunk at 2^63 - 24", "outside the request",
                (q, out) -> out.data(DONE, q.cookie(), OVERFLOW, fill(512)));
    }

    @Test
    void aHoleChunkWhoseEndOverflowsFailsTheConnection() throws Exception {
        protocolError("hole chunk at 2^63 - 24", "outside the request",
                (q, out) -> out.hole(DONE, q.cookie(), OVERFLOW, 512));
    }

    @Test
    void aHoleOfFourGibibytesFailsTheConnection() throws Exception {
        protocolError("hole of 2^32 - 1 bytes", "outside the request", (q, out) -> out.hole(DONE, q.cookie(), AT, -1));
    }

    @Test
    void aDataChunkBeforeTheRequestFailsTheConnection() throws Exception {
        protocolError("data chunk starting 8 bytes before the request", "outside the request",
                (q, out) -> out.data(DONE, q.cookie(), AT - 8, patternArray(SEED, AT - 8, LEN)));
    }

    @Test
    void aDataChunkPastTheRequestFailsTheConnection() throws Exception {
        protocolError("data chunk ending 1 byte after the request", "outside the request", (q, out) -> {
            out.data(0, q.cookie(), AT, patternArray(SEED, AT, LEN - 100));
            out.data(DONE, q.cookie(), AT + LEN - 100, patternArray(SEED, AT + LEN - 100, 101));
        });
    }

    @Test
    void overlappingChunksFailTheConnection() throws Exception {
        protocolError("in-order chunks overlapping by 1024 bytes", OVERLAP, (q, out) -> {
            out.data(0, q.cookie(), AT, patternArray(SEED, AT, 2048));
            out.data(0, q.cookie(), AT + 1024, patternArray(SEED, AT + 1024, 2048));
            out.data(DONE, q.cookie(), AT + 3072, patternArray(SEED, AT + 3072, LEN - 3072));
        });
        protocolError("the same chunk twice", OVERLAP, (q, out) -> {
            out.data(0, q.cookie(), AT, patternArray(SEED, AT, LEN));
            out.data(DONE, q.cookie(), AT, patternArray(SEED, AT, LEN));
        });
        protocolError("out-of-order chunks overlapping by 1 byte", OVERLAP, (q, out) -> {
            out.data(0, q.cookie(), AT + 3000, patternArray(SEED, AT + 3000, LEN - 3000));
            out.data(0, q.cookie(), AT + 1000, patternArray(SEED, AT + 1000, 2001));
            out.data(DONE, q.cookie(), AT, patternArray(SEED, AT, 1000));
        });
        protocolError("a hole inside data already sent", OVERLAP, (q, out) -> {
            out.data(0, q.cookie(), AT, patternArray(SEED, AT, LEN));
            out.hole(DONE, q.cookie(), AT + 100, 10);
        });
    }

    @Test
    void malformedChunksFailTheConnection() throws Exception {
        protocolError("data chunk of no bytes", "unexpected reply chunk type 1 of 8 bytes", (q, out) -> {
            out.data(0, q.cookie(), AT, new byte[0]);
            out.data(DONE, q.cookie(), AT, patternArray(SEED, AT, LEN));
        });
        protocolError("hole of no bytes", "at least one byte", (q, out) -> {
            out.hole(0, q.cookie(), AT, 0);
            out.data(DONE, q.cookie(), AT, patternArray(SEED, AT, LEN));
        });
        protocolError("hole chunk of 16 bytes", "unexpected reply chunk type 2 of 16 bytes", (q, out) -> {
            out.chunkHeader(DONE, NbdProtocol.REPLY_OFFSET_HOLE, q.cookie(), 16);
            out.raw(ByteBuffer.allocate(16).putLong(AT).putInt(LEN).array());
        });
        protocolError("error chunk whose message is longer than the chunk", "malformed error chunk", (q, out) -> {
            out.chunkHeader(DONE, NbdProtocol.REPLY_ERROR, q.cookie(), 10);
            out.raw(ByteBuffer.allocate(10).putInt(5).putShort((short) 5).put("EIO!".getBytes()).array());
        });
        protocolError("error chunk with error 0", "malformed error chunk",
                (q, out) -> out.error(DONE, q.cookie(), 0, "no error"));
        protocolError("error offset outside the request", "outside the request", (q, out) -> {
            out.chunkHeader(DONE, NbdProtocol.REPLY_ERROR_OFFSET, q.cookie(), 14);
            out.raw(ByteBuffer.allocate(14).putInt(5).putShort((short) 0).putLong(AT + LEN).array());
        });
        protocolError("NBD_REPLY_TYPE_NONE without NBD_REPLY_FLAG_DONE", "without NBD_REPLY_FLAG_DONE", (q, out) -> {
            out.chunkHeader(0, NbdProtocol.REPLY_NONE, q.cookie(), 0);
            out.data(DONE, q.cookie(), AT, patternArray(SEED, AT, LEN));
        });
    }

    /**
     * Found by {@link NbdReplyFuzzTest}: once structured replies are negotiated a read's reply must
     * be structured (protocol specification, "Structured reply chunk message"), yet a simple reply
     * with data was taken as the read's bytes, after chunks of the same read too, and the read succeeded.
     */
    @Test
    void aSimpleReplyToAReadFailsTheConnectionOnceStructuredRepliesAreNegotiated() throws Exception {
        protocolError("a simple reply with the read's data", "though structured replies were negotiated",
                (q, out) -> out.simple(q.cookie(), 0, patternArray(SEED, AT, LEN)));
        protocolError("a data chunk, then a simple reply with the read's data", "though structured replies were "
                + "negotiated", (q, out) -> {
                    out.data(0, q.cookie(), AT, patternArray(SEED, AT, 100));
                    out.simple(q.cookie(), 0, patternArray(SEED, AT, LEN));
                });
        protocolError("a simple reply with an error", "though structured replies were negotiated",
                (q, out) -> out.simple(q.cookie(), 5, new byte[0]));
    }

    /**
     * Found while writing {@link NbdReplyFuzzTest} (which generates it, rarely): a flush whose
     * structured reply began with an error chunk (no DONE), then got a simple reply without error,
     * succeeded: the error was lost. A simple reply to a request whose structured reply has begun
     * is a protocol error.
     */
    @Test
    void aSimpleReplyAfterAnErrorChunkFailsTheConnection() throws Exception {
        try (ScriptedNbdServer server = new ScriptedNbdServer(true, (q, out) -> {
            out.error(0, q.cookie(), 5, "flush failed");
            out.simple(q.cookie(), 0, new byte[0]);
            return true;
        }); NbdConnection c = server.connect(10_000)) {
            Throwable cause = awaitCompletion(c.flush());
            assertNotNull(cause, "the flush succeeded though its reply began with an error chunk");
            assertInstanceOf(NbdException.class, cause);
            assertTrue(cause.getMessage().contains("whose structured reply had begun"), cause.getMessage());
            assertFalse(c.isOpen(), "the connection must fail");
        }
    }

    /**
     * Chunks that cover part of the range, then the final chunk with no error: the read fails,
     * naming what was left out, and the connection goes on (the next read works).
     */
    @Test
    void aReplyThatLeavesBytesUncoveredFailsThatRead() throws Exception {
        uncovered("data, a gap of 1000 bytes, a hole, then NBD_REPLY_TYPE_NONE", (q, out) -> {
            out.data(0, q.cookie(), AT, patternArray(SEED, AT, 1000));
            out.hole(0, q.cookie(), AT + 2000, LEN - 2000);
            out.done(q.cookie());
        }, "1000 of 4096 bytes", "1000 bytes at offset 2000");
        uncovered("the end of the range out of order, the final data chunk short of the start", (q, out) -> {
            out.data(0, q.cookie(), AT + 3000, patternArray(SEED, AT + 3000, LEN - 3000));
            out.data(DONE, q.cookie(), AT + 10, patternArray(SEED, AT + 10, 2990));
        }, "10 of 4096 bytes", "10 bytes at offset 1000");
        uncovered("nothing but NBD_REPLY_TYPE_NONE", (q, out) -> out.done(q.cookie()),
                "4096 of 4096 bytes", "4096 bytes at offset 1000");
    }

    /** Data, holes and data again, in no particular order: exactly the right bytes, nothing outside. */
    @Test
    void aWellFormedReplyInAnyOrderDeliversExactlyTheRange() throws Exception {
        byte[] want = patternArray(SEED, AT, LEN);
        Arrays.fill(want, 1000, 2000, (byte) 0);
        Arrays.fill(want, 4000, LEN, (byte) 0);
        try (ScriptedNbdServer server = new ScriptedNbdServer(true, (q, out) -> {
            out.data(0, q.cookie(), AT + 3000, patternArray(SEED, AT + 3000, 1000));
            out.hole(0, q.cookie(), AT + 1000, 1000);
            out.hole(0, q.cookie(), AT + 4000, LEN - 4000);
            out.data(0, q.cookie(), AT + 2000, patternArray(SEED, AT + 2000, 1000));
            out.data(DONE, q.cookie(), AT, patternArray(SEED, AT, 1000));
            return true;
        }); NbdConnection c = server.connect(10_000)) {
            ByteBuffer arena = arena(1);
            await(c.read(AT, window(arena, 0)), "out-of-order read");
            assertEquals(ByteBuffer.wrap(want), window(arena, 0), "the window's bytes");
            assertGuards(arena, 1, "out-of-order read");
        }
    }

    /**
     * Three reads in flight into neighbouring windows of one arena: the outer two get their chunks
     * interleaved, each out of order, and get exactly their bytes; the middle one gets one data
     * chunk and an error chunk, and fails with the server's error; the connection goes on.
     */
    @Test
    void interleavedRepliesToNeighbouringWindowsKeepToTheirOwn() throws Exception {
        long[] reads = {AT, AT + 3 * LEN, 7 * LEN};
        try (ScriptedNbdServer server = new ScriptedNbdServer(true, new ScriptedNbdServer.Script() {
            private long first = -1;

            @Override
            public boolean answer(ScriptedNbdServer.Request q, ScriptedNbdServer.Replies out) throws IOException {
                if (q.offset() == reads[2]) {
                    out.data(0, q.cookie(), q.offset(), patternArray(SEED, q.offset(), 100));
                    out.error(DONE, q.cookie(), 5, "scripted failure");
                } else if (first < 0) {
                    first = q.cookie();
                    out.data(0, q.cookie(), q.offset() + 2048, patternArray(SEED, q.offset() + 2048, 2048));
                } else {
                    long a = first;
                    long b = q.cookie();
                    out.data(0, b, q.offset() + 1, patternArray(SEED, q.offset() + 1, LEN - 1));
                    out.data(DONE, a, reads[0], patternArray(SEED, reads[0], 2048));
                    out.data(DONE, b, q.offset(), patternArray(SEED, q.offset(), 1));
                }
                return true;
            }
        }); NbdConnection c = server.connect(10_000)) {
            ByteBuffer arena = arena(3);
            CompletableFuture<Void> a = c.read(reads[0], window(arena, 0));
            CompletableFuture<Void> failed = c.read(reads[2], window(arena, 1));
            CompletableFuture<Void> b = c.read(reads[1], window(arena, 2));
            await(a, "first read");
            await(b, "second read");
            Throwable cause = awaitCompletion(failed);
            assertInstanceOf(NbdException.class, cause);
            assertTrue(cause.getMessage().contains("EIO") && cause.getMessage().contains("scripted failure"),
                    cause.getMessage());
            assertPattern(SEED, reads[0], window(arena, 0), "first read");
            assertPattern(SEED, reads[1], window(arena, 2), "second read");
            ByteBuffer third = window(arena, 1);
            assertPattern(SEED, reads[2], third.duplicate().limit(third.position() + 100), "the failed read's chunk");
            assertAll(third.duplicate().position(third.position() + 100), POISON, "the failed read's window after it");
            assertGuards(arena, 3, "interleaved reads");
            assertTrue(c.isOpen());
        }
    }

    /**
     * Reads through a server that answers with {@code reply}: the read must fail with a message
     * containing {@code says}, and so must the connection.
     */
    private static void protocolError(String what, String says, Reply reply) throws Exception {
        try (ScriptedNbdServer server = new ScriptedNbdServer(true, (q, out) -> {
            reply.send(q, out);
            return true;
        }); NbdConnection c = server.connect(10_000)) {
            assertTrue(c.export().structuredReplies());
            ByteBuffer arena = arena(1);
            Throwable cause = awaitCompletion(c.read(AT, window(arena, 0)));
            assertGuards(arena, 1, what);
            assertNotNull(cause, what + ": the read succeeded");
            assertInstanceOf(NbdException.class, cause, what);
            assertTrue(cause.getMessage().contains(says), what + ": " + cause.getMessage());
            assertFalse(c.isOpen(), what + ": the connection must fail");
        }
    }

    /**
     * Reads through a server that answers the first read with {@code reply} and later ones in
     * full: the first read fails with a message containing {@code mentions}, and the second works.
     */
    private static void uncovered(String what, Reply reply, String... mentions) throws Exception {
        try (ScriptedNbdServer server = new ScriptedNbdServer(true, new ScriptedNbdServer.Script() {
            private boolean first = true;

            @Override
            public boolean answer(ScriptedNbdServer.Request q, ScriptedNbdServer.Replies out) throws IOException {
                if (first) {
                    first = false;
                    reply.send(q, out);
                } else {
                    out.data(DONE, q.cookie(), q.offset(), patternArray(SEED, q.offset(), q.length()));
                }
                return true;
            }
        }); NbdConnection c = server.connect(10_000)) {
            ByteBuffer arena = arena(1);
            Throwable cause = awaitCompletion(c.read(AT, window(arena, 0)));
            assertGuards(arena, 1, what);
            assertNotNull(cause, what + ": the read succeeded");
            assertInstanceOf(NbdException.class, cause, what);
            for (String m : mentions) {
                assertTrue(cause.getMessage().contains(m), what + ": no \"" + m + "\" in " + cause.getMessage());
            }
            assertTrue(c.isOpen(), what + ": only the read fails");
            ByteBuffer again = arena(1);
            await(c.read(AT, window(again, 0)), what + ": the next read");
            assertPattern(SEED, AT, window(again, 0), what + ": the next read");
            assertGuards(again, 1, what + ": the next read");
        }
    }

    /** Waits for {@code f} to complete either way; its failure, or null. */
    private static Throwable awaitCompletion(CompletableFuture<Void> f) throws Exception {
        return f.handle((v, e) -> e).get(10, TimeUnit.SECONDS);
    }

    /** {@code n} poisoned windows of {@link #LEN} bytes, each with {@link #GUARD_BYTES} of guard before and after. */
    private static ByteBuffer arena(int n) {
        ByteBuffer a = NbdBytes.filled(GUARD_BYTES + n * (LEN + GUARD_BYTES), GUARD);
        for (int w = 0; w < n; w++) {
            window(a, w).put(fill(LEN, POISON));
        }
        return a;
    }

    /** Window {@code w} of an arena: a duplicate limited to its bytes, as NbdDevice makes them. */
    private static ByteBuffer window(ByteBuffer arena, int w) {
        int at = GUARD_BYTES + w * (LEN + GUARD_BYTES);
        return arena.duplicate().position(at).limit(at + LEN);
    }

    private static void assertGuards(ByteBuffer arena, int n, String what) {
        for (int w = 0; w <= n; w++) {
            int at = w * (LEN + GUARD_BYTES);
            assertAll(arena.duplicate().position(at).limit(at + GUARD_BYTES), GUARD,
                    what + ": guard bytes " + w + " (outside every window)");
        }
    }

    private static byte[] fill(int n) {
        return fill(n, (byte) 0x3C);
    }

    private static byte[] fill(int n, byte value) {
        byte[] b = new byte[n];
        Arrays.fill(b, value);
        return b;
    }
}
