package dev.kvtier.nbd;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Assumptions;

/**
 * A throwaway certificate authority and server certificates made with {@code openssl} at test
 * time, laid out as {@code nbdkit --tls-certificates=DIR} expects ({@code ca-cert.pem},
 * {@code server-cert.pem}, {@code server-key.pem}); and client {@link SSLContext}s that trust
 * the CA, with or without a client certificate. Without {@code openssl} the calling test is skipped, saying so.
 */
final class TlsCerts {
    static final String INSTALL_HINT = "apt-get install openssl";

    private final Path dir;
    private final Path caKey;
    private final Path caCert;

    private TlsCerts(Path dir) {
        this.dir = dir;
        this.caKey = dir.resolve("ca-key.pem");
        this.caCert = dir.resolve("ca-cert.pem");
    }

    /** A new CA in {@code dir} (its key and certificate, valid for two days). */
    static TlsCerts newCa(Path dir, String name) throws IOException {
        Assumptions.assumeTrue(NbdServer.onPath("openssl"),
                "openssl is not installed, so no test certificates can be made: TLS tests skipped (" + INSTALL_HINT + ")");
        Files.createDirectories(dir);
        TlsCerts ca = new TlsCerts(dir);
        Path cnf = write(dir.resolve("ca.cnf"), "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = " + name + "\n"
                + "[v3_ca]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\n"
                + "subjectKeyIdentifier = hash\n");
        openssl(dir, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", ca.caKey.toString());
        openssl(dir, "req", "-x509", "-new", "-config", cnf.toString(), "-extensions", "v3_ca", "-key",
                ca.caKey.toString(), "-days", "2", "-out", ca.caCert.toString());
        return ca;
    }

    /**
     * A directory for {@code nbdkit --tls-certificates}: this CA's certificate and a server key
     * and certificate signed by it whose subject alternative names are {@code altNames} (for
     * example {@code "IP:127.0.0.1"}, {@code "DNS:localhost"}).
     */
    Path serverDir(String dirName, String... altNames) throws IOException {
        Path out = dir.resolve(dirName);
        Files.createDirectories(out);
        Files.copy(caCert, out.resolve("ca-cert.pem"));
        Path key = out.resolve("server-key.pem");
        Path csr = out.resolve("server.csr");
        Path cnf = write(out.resolve("server.cnf"), "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = kvtier test server\n"
                + "[v3_server]\nbasicConstraints = CA:FALSE\nkeyUsage = critical, digitalSignature, keyEncipherment\n"
                + "extendedKeyUsage = serverAuth\nsubjectAltName = " + String.join(", ", altNames) + "\n");
        openssl(out, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key.toString());
        openssl(out, "req", "-new", "-config", cnf.toString(), "-key", key.toString(), "-out", csr.toString());
        openssl(out, "x509", "-req", "-in", csr.toString(), "-CA", caCert.toString(), "-CAkey", caKey.toString(),
                "-set_serial", Long.toString(System.nanoTime() & Long.MAX_VALUE), "-days", "2", "-extfile",
                cnf.toString(), "-extensions", "v3_server", "-out", out.resolve("server-cert.pem").toString());
        return out;
    }

    /** A client context that trusts this CA and nothing else. */
    SSLContext clientContext() throws IOException {
        return context(null);
    }

    /** A client context that trusts this CA and presents a client certificate it signed. */
    SSLContext clientContextWithCertificate(String name) throws IOException {
        Path out = dir.resolve("client-" + name);
        Files.createDirectories(out);
        Path key = out.resolve("client-key.pem");
        Path csr = out.resolve("client.csr");
        Path cert = out.resolve("client-cert.pem");
        Path p12 = out.resolve("client.p12");
        Path cnf = write(out.resolve("client.cnf"), "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = " + name + "\n"
                + "[v3_client]\nbasicConstraints = CA:FALSE\nkeyUsage = critical, digitalSignature\n"
                + "extendedKeyUsage = clientAuth\n");
        openssl(out, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key.toString());
        openssl(out, "req", "-new", "-config", cnf.toString(), "-key", key.toString(), "-out", csr.toString());
        openssl(out, "x509", "-req", "-in", csr.toString(), "-CA", caCert.toString(), "-CAkey", caKey.toString(),
                "-set_serial", Long.toString(System.nanoTime() & Long.MAX_VALUE), "-days", "2", "-extfile",
                cnf.toString(), "-extensions", "v3_client", "-out", cert.toString());
        openssl(out, "pkcs12", "-export", "-in", cert.toString(), "-inkey", key.toString(), "-passout", "pass:kvtier",
                "-out", p12.toString());
        try (InputStream in = Files.newInputStream(p12)) {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(in, "kvtier".toCharArray());
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, "kvtier".toCharArray());
            return context(kmf.getKeyManagers());
        } catch (GeneralSecurityException e) {
            throw new IOException("client key " + p12 + " unusable: " + e, e);
        }
    }

    private SSLContext context(KeyManager[] keys) throws IOException {
        try (InputStream in = Files.newInputStream(caCert)) {
            Certificate ca = CertificateFactory.getInstance("X.509").generateCertificate(in);
            KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
            trust.load(null, null);
            trust.setCertificateEntry("kvtier-test-ca", ca);
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(keys, tmf.getTrustManagers(), null);
            return ctx;
        } catch (GeneralSecurityException e) {
            throw new IOException("test CA " + caCert + " unusable: " + e, e);
        }
    }

    private static Path write(Path p, String text) throws IOException {
        return Files.writeString(p, text, StandardCharsets.UTF_8);
    }

    private static void openssl(Path dir, String... args) throws IOException {
        List<String> cmd = new java.util.ArrayList<>(List.of("openssl"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", cmd) + " failed:\n" + out);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }
}
