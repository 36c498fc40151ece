package dev.kvtier.nbd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.KvTierCache;
import dev.kvtier.KvTierCacheBuilder;
import dev.kvtier.PrefixMatch;
import dev.kvtier.RemoteTier;
import dev.kvtier.Tier;
import dev.kvtier.device.NbdDevice;
import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TLS on real nbdkit servers ({@code --tls=require} / {@code --tls=on}) with certificates made
 * at test time: data round trips over {@code nbds://} on several connections with requests
 * pipelined; a plain client of a TLS-only server, a TLS client of a plain server, an untrusted
 * CA, a certificate naming another host, a missing client certificate and a server stalling in
 * the TLS handshake all fail clearly and in time; a cache stores, demotes and loads blocks over TLS.
 */
class NbdTlsTest {
    private static final int BLOCK = 16 * 1024;

    @TempDir
    static Path tmp;
    private static TlsCerts ca;
    private static Path serverCerts;
    private static SSLContext trusting;

    @BeforeAll
    static void certificates() throws IOException {
        ca = TlsCerts.newCa(tmp.resolve("ca"), "kvtier test CA");
        serverCerts = ca.serverDir("server", "IP:127.0.0.1", "DNS:localhost");
        trusting = ca.clientContext();
    }

    @Test
    void dataRoundTripsOverTlsOnSeveralPipelinedConnections() throws Exception {
        try (NbdServer server = NbdServer.nbdkitTls("require", serverCerts, "memory", "64M");
                NbdDevice device = NbdDevice.open(server.tlsUri(), 32L << 20, 4, 5_000, trusting)) {
            assertTrue(device.export().canMultiConn(), "nbdkit's memory plugin advertises multi-conn");
            assertTrue(device.describe().startsWith("nbds://"), device.describe());
            // Eight writes of 1 MiB each spread over the four connections, then read back in one batch.
            int n = 8;
            int size = 1 << 20;
            List<CompletableFuture<Void>> writes = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                int k = i;
                writes.add(CompletableFuture.runAsync(() -> {
                    try {
                        device.write((long) k * size, pattern(k, size));
                    } catch (IOException e) {
                        throw new RuntimeException(e);
                    }
                }));
            }
            CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
            device.flush();
            long[] offsets = new long[n];
            ByteBuffer[] dst = new ByteBuffer[n];
            for (int i = 0; i < n; i++) {
                offsets[i] = (long) i * size;
                dst[i] = ByteBuffer.allocateDirect(size);
            }
            device.readBatch(offsets, dst, n);
            for (int i = 0; i < n; i++) {
                assertEquals(pattern(i, size), dst[i], "block " + i);
            }
        }
    }

    @Test
    void oneConnectionPipelinesManyRequestsOverTls() throws Exception {
        try (NbdServer server = NbdServer.nbdkitTls("require", serverCerts, "memory", "64M");
                NbdConnection writer = server.connectTls(trusting, 5_000);
                NbdConnection reader = server.connectTls(trusting, 5_000)) {
            assertNotNull(writer.tls(), "the connection is encrypted");
            assertTrue(writer.tls().startsWith("TLS"), writer.tls());
            int n = 64;
            CompletableFuture<?>[] w = new CompletableFuture<?>[n];
            for (int i = 0; i < n; i++) {
                w[i] = writer.write((long) i * BLOCK, pattern(i, BLOCK), false);
            }
            CompletableFuture.allOf(w).get(10, TimeUnit.SECONDS);
            writer.flush().get(10, TimeUnit.SECONDS);
            ByteBuffer[] dst = new ByteBuffer[n];
            CompletableFuture<?>[] r = new CompletableFuture<?>[n];
            for (int i = 0; i < n; i++) {
                dst[i] = ByteBuffer.allocateDirect(BLOCK);
                r[i] = reader.read((long) i * BLOCK, dst[i]);
            }
            CompletableFuture.allOf(r).get(10, TimeUnit.SECONDS);
            for (int i = 0; i < n; i++) {
                assertEquals(pattern(i, BLOCK), dst[i], "read " + i + ", written on the other connection");
            }
        }
    }

    @Test
    void aServerThatOffersTlsServesBothTlsAndPlainClients() throws Exception {
        try (NbdServer server = NbdServer.nbdkitTls("on", serverCerts, "memory", "16M");
                NbdConnection secure = server.connectTls(trusting, 5_000);
                NbdConnection plain = server.connect(5_000)) {
            assertNotNull(secure.tls());
            assertNull(plain.tls(), "nbd:// stays plain: TLS only when the URI asks for it");
            secure.write(0, pattern(7, BLOCK), false).get(5, TimeUnit.SECONDS);
            secure.flush().get(5, TimeUnit.SECONDS);
            ByteBuffer dst = ByteBuffer.allocateDirect(BLOCK);
            plain.read(0, dst).get(5, TimeUnit.SECONDS);
            assertEquals(pattern(7, BLOCK), dst);
        }
    }

    @Test
    void aPlainClientOfATlsOnlyServerIsToldToUseNbds() throws Exception {
        try (NbdServer server = NbdServer.nbdkitTls("require", serverCerts, "memory", "16M")) {
            NbdException e = assertThrows(NbdException.class, () -> server.connect(5_000).close());
            assertMessage(e, "requires TLS", "NBD_REP_ERR_TLS_REQD", "use an nbds:// URI", server.uri().toString());
            NbdException d = assertThrows(NbdException.class,
                    () -> NbdDevice.open(server.uri(), 8L << 20, 1, 5_000).close());
            assertMessage(d, "requires TLS", "nbds://");
        }
    }

    @Test
    void aTlsClientOfAPlainServerFailsInsteadOfDowngrading() throws Exception {
        try (NbdServer server = NbdServer.nbdkit("memory", "16M")) {
            NbdException e = assertThrows(NbdException.class, () -> server.connectTls(trusting, 5_000).close());
            assertMessage(e, server.tlsUri().toString(), "TLS is required", "NBD_OPT_STARTTLS", "does not offer TLS");
        }
    }

    @Test
    void aServerCertificateFromAnUntrustedCaFailsTheHandshake() throws Exception {
        SSLContext other = TlsCerts.newCa(tmp.resolve("other-ca"), "some other CA").clientContext();
        try (NbdServer server = NbdServer.nbdkitTls("require", serverCerts, "memory", "16M")) {
            NbdException e = assertThrows(NbdException.class, () -> server.connectTls(other, 5_000).close());
            assertMessage(e, server.tlsUri().toString(), "TLS handshake failed", "certificate is not trusted");
            // The JVM's default trust store does not know the test CA either.
            NbdException d = assertThrows(NbdException.class,
                    () -> NbdDevice.open(server.tlsUri(), 8L << 20, 1, 5_000).close());
            assertMessage(d, "TLS handshake failed");
        }
    }

    @Test
    void aCertificateNamingAnotherHostFailsHostnameVerification() throws Exception {
        Path elsewhere = ca.serverDir("elsewhere", "DNS:elsewhere.invalid");
        try (NbdServer server = NbdServer.nbdkitTls("require", elsewhere, "memory", "16M")) {
            NbdException e = assertThrows(NbdException.class, () -> server.connectTls(trusting, 5_000).close());
            assertMessage(e, "TLS handshake failed", "does not name 127.0.0.1", "hostname verification");
        }
    }

    @Test
    void aServerThatVerifiesPeersAcceptsOnlyAClientCertificateItsCaSigned() throws Exception {
        SSLContext withCertificate = ca.clientContextWithCertificate("inference-server-1");
        try (NbdServer server = NbdServer.nbdkitTls("require", serverCerts, "--tls-verify-peer", "memory", "16M")) {
            try (NbdConnection c = server.connectTls(withCertificate, 5_000)) {
                ByteBuffer dst = ByteBuffer.allocateDirect(BLOCK);
                c.read(0, dst).get(5, TimeUnit.SECONDS);
            }
            NbdException e = assertThrows(NbdException.class, () -> server.connectTls(trusting, 5_000).close());
            assertMessage(e, server.tlsUri().toString(), "TLS handshake failed");
        }
    }

    /** A server that accepts NBD_OPT_STARTTLS and then never answers the ClientHello costs one timeout. */
    @Test
    void aServerStallingInTheTlsHandshakeFailsWithinTheTimeout() throws Exception {
        try (ServerSocket ss = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            Thread t = new Thread(() -> stallAfterStartTls(ss), "stalling-server");
            t.setDaemon(true);
            t.start();
            long start = System.nanoTime();
            NbdException e = assertThrows(NbdException.class,
                    () -> NbdConnection.open("127.0.0.1", ss.getLocalPort(), "", 300, trusting).close());
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertTrue(millis < 3_000, "the TLS handshake with a stalled server took " + millis + " ms");
            assertMessage(e, "nbds://127.0.0.1:" + ss.getLocalPort(), "timed out");
        }
    }

    @Test
    void aRequestTheServerDoesNotAnswerTimesOutOverTls() throws Exception {
        try (NbdServer server = NbdServer.nbdkitTls("require", serverCerts, "--filter=delay", "memory", "16M",
                "rdelay=5");
                NbdConnection c = server.connectTls(trusting, 300)) {
            long start = System.nanoTime();
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> c.read(0, ByteBuffer.allocateDirect(BLOCK)).get(10, TimeUnit.SECONDS));
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertTrue(millis < 3_000, "timed out after " + millis + " ms");
            assertTrue(e.getCause().getMessage().contains("no reply within 300 ms"), e.getCause().getMessage());
            assertTrue(!c.isOpen());
        }
    }

    @Test
    void aCacheStoresDemotesAndLoadsBlocksOverTls() throws Exception {
        Namespace ns = Namespace.builder("tls-model").blockTokens(4).build();
        BlockKey[] keys = ns.blockKeys(new int[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20});
        try (NbdServer server = NbdServer.nbdkitTls("require", serverCerts, "memory", "64M");
                KvTierCache a = cache(remote(server.tlsUri()).tls(trusting)).build();
                KvTierCache b = cache(remote(server.tlsUri()).tls(trusting)).build()) {
            ByteBuffer[] src = new ByteBuffer[keys.length];
            for (int i = 0; i < keys.length; i++) {
                src[i] = payload(keys[i]);
            }
            assertEquals(keys.length, a.store(keys, src));
            a.awaitIdle();
            assertEquals(keys.length, a.stats().storedBlocks(Tier.REMOTE), a.stats().toString());

            PrefixMatch m = b.match(keys);
            assertEquals(keys.length, m.hitBlocks(), "b finds a's blocks on the export: " + b.stats());
            for (int i = 0; i < keys.length; i++) {
                assertEquals(Tier.REMOTE, m.tier(i));
            }
            ByteBuffer[] dst = new ByteBuffer[keys.length];
            for (int i = 0; i < keys.length; i++) {
                dst[i] = ByteBuffer.allocateDirect(BLOCK);
            }
            assertEquals(keys.length, b.load(m, dst).get(10, TimeUnit.SECONDS));
            for (int i = 0; i < keys.length; i++) {
                assertEquals(payload(keys[i]), dst[i].clear(), "block " + i);
            }
            assertEquals(keys.length, b.stats().loadedBlocks(Tier.REMOTE));
        }
    }

    @Test
    void tlsWithAPlainUriIsRefusedByTheRemoteTierSettings() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> remote(URI.create("nbd://127.0.0.1:1/")).tls(trusting).build());
        assertMessage(e, "RemoteTier: tls is set", "nbd://127.0.0.1:1/", "use nbds://");
        IllegalArgumentException scheme = assertThrows(IllegalArgumentException.class,
                () -> remote(URI.create("https://127.0.0.1:1/")).build());
        assertMessage(scheme, "nbds://host");
        assertThrows(NullPointerException.class, () -> remote(URI.create("nbds://127.0.0.1:1/")).tls(null));
    }

    private static RemoteTier.Builder remote(URI uri) {
        return RemoteTier.builder(uri, 8L << 20).connections(2).timeout(Duration.ofSeconds(5)).ways(4)
                .recheckAfter(Duration.ZERO);
    }

    private static KvTierCacheBuilder cache(RemoteTier.Builder remote) {
        return KvTierCache.builder().blockTokens(4).blockBytes(BLOCK).dramCapacityBytes(16L * BLOCK).demoteAhead(1.0)
                .remote(remote.build());
    }

    /** Greeting, the client's flags, ACK to its NBD_OPT_STARTTLS, then silence. */
    private static void stallAfterStartTls(ServerSocket ss) {
        try (Socket s = ss.accept()) {
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            out.write(ByteBuffer.allocate(18).putLong(NbdProtocol.NBDMAGIC).putLong(NbdProtocol.IHAVEOPT)
                    .putShort((short) (NbdProtocol.FLAG_FIXED_NEWSTYLE | NbdProtocol.FLAG_NO_ZEROES)).array());
            out.flush();
            in.readNBytes(4 + 16);
            out.write(ByteBuffer.allocate(20).putLong(NbdProtocol.OPTION_REPLY_MAGIC).putInt(NbdProtocol.OPT_STARTTLS)
                    .putInt(NbdProtocol.REP_ACK).putInt(0).array());
            out.flush();
            in.transferTo(OutputStream.nullOutputStream()); // the ClientHello, never answered
        } catch (IOException ignored) {
            // the client gave up
        }
    }

    private static ByteBuffer pattern(int seed, int n) {
        ByteBuffer b = ByteBuffer.allocateDirect(n);
        for (int i = 0; i < n; i += 8) {
            b.putLong(i, (seed + 1) * 0x9E3779B97F4A7C15L ^ i);
        }
        return b;
    }

    private static ByteBuffer payload(BlockKey key) {
        ByteBuffer b = ByteBuffer.allocateDirect(BLOCK);
        for (int i = 0; i < BLOCK; i += 8) {
            b.putLong(i, key.lo() ^ key.hi() ^ (i * 0x9E3779B97F4A7C15L));
        }
        return b;
    }

    private static void assertMessage(Exception e, String... parts) {
        for (String part : parts) {
            assertTrue(e.getMessage() != null && e.getMessage().contains(part),
                    "expected \"" + part + "\" in: " + e.getMessage());
        }
    }
}
