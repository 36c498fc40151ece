package dev.kvtier.nbd;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * A real NBD server on 127.0.0.1, run as a child process for a test: {@code nbdkit} (plugin,
 * filters and their parameters given by the test) or {@code qemu-nbd} serving a raw file.
 * {@link #start} returns once the port accepts connections; {@link #close} stops the process.
 *
 * <p>The server never outlives the test JVM: nbdkit runs with {@code --exit-with-parent} and
 * qemu-nbd under {@code setpriv --pdeathsig KILL} (both tie the child to the JVM thread that
 * started it, so start servers from the test thread, not from a short-lived helper thread such
 * as {@code assertTimeoutPreemptively}'s), and a shutdown hook kills whatever is still running.
 *
 * <p>A missing server binary fails the test with the command that installs it; it is not a
 * reason to skip.
 */
public final class NbdServer implements AutoCloseable {
    static final String INSTALL_HINT = "apt-get install nbdkit qemu-utils";
    private static final long READY_MILLIS = 10_000;
    private static final Set<Process> RUNNING = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> RUNNING.forEach(Process::destroyForcibly),
                "nbd-server-reaper"));
    }

    private final String kind;
    private final int port;
    private final Path log;
    private List<String> serverArgs;
    private Process process;

    private NbdServer(String kind, int port, List<String> serverArgs) throws IOException {
        this.kind = kind;
        this.port = port;
        this.serverArgs = List.copyOf(serverArgs);
        this.log = Files.createTempFile(logDir(), kind + "-", ".log");
    }

    /**
     * Starts {@code nbdkit} with {@code args} after the fixed options: for example
     * {@code "memory", "64M"}, or {@code "--filter=delay", "memory", "64M", "rdelay=2s"}.
     */
    public static NbdServer nbdkit(String... args) throws IOException {
        require("nbdkit");
        NbdServer s = new NbdServer("nbdkit", freePort(), List.of(args));
        s.launch();
        return s;
    }

    /**
     * Starts {@code nbdkit} with TLS: {@code tlsMode} {@code "require"} (plain clients are refused
     * with {@code NBD_REP_ERR_TLS_REQD}) or {@code "on"} (offered), certificates from
     * {@code certificates} ({@code ca-cert.pem}, {@code server-cert.pem}, {@code server-key.pem},
     * see {@link TlsCerts}), then {@code args} as for {@link #nbdkit}.
     */
    public static NbdServer nbdkitTls(String tlsMode, Path certificates, String... args) throws IOException {
        List<String> all = new ArrayList<>(List.of("--tls=" + tlsMode, "--tls-certificates=" + certificates.toAbsolutePath()));
        all.addAll(List.of(args));
        return nbdkit(all.toArray(String[]::new));
    }

    /**
     * Starts {@code qemu-nbd} serving {@code file} as a raw image, {@code extraArgs} (for example
     * {@code "--export-name", "kv"}) before the file name.
     */
    public static NbdServer qemuNbd(Path file, String... extraArgs) throws IOException {
        require("qemu-nbd");
        List<String> args = new ArrayList<>(List.of(extraArgs));
        args.add(file.toAbsolutePath().toString());
        NbdServer s = new NbdServer("qemu-nbd", freePort(), args);
        s.launch();
        return s;
    }

    public String host() {
        return "127.0.0.1";
    }

    public int port() {
        return port;
    }

    public URI uri() {
        return URI.create("nbd://" + host() + ":" + port + "/");
    }

    /** The default export with TLS required. */
    public URI tlsUri() {
        return URI.create("nbds://" + host() + ":" + port + "/");
    }

    public long pid() {
        return process.pid();
    }

    public boolean isAlive() {
        return process != null && process.isAlive();
    }

    /** What the server printed so far (stdout and stderr). */
    public String output() {
        try {
            return Files.readString(log, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(log unreadable: " + e + ")";
        }
    }

    /** Opens a connection to the default export ({@code ""}). */
    NbdConnection connect(long timeoutMillis) throws IOException {
        return NbdConnection.open(host(), port, "", timeoutMillis);
    }

    /** Opens a TLS connection to the default export, trusting what {@code tls} trusts. */
    NbdConnection connectTls(javax.net.ssl.SSLContext tls, long timeoutMillis) throws IOException {
        return NbdConnection.open(host(), port, "", timeoutMillis, tls);
    }

    NbdConnection connect(String exportName, long timeoutMillis) throws IOException {
        return NbdConnection.open(host(), port, exportName, timeoutMillis);
    }

    /** SIGKILL, and waits until the process is gone. */
    public void kill() {
        if (process == null) {
            return;
        }
        process.destroyForcibly();
        awaitExit(process, 10_000);
        RUNNING.remove(process);
    }

    /** Sends {@code signal} (for example {@code "STOP"} or {@code "CONT"}) to the server. */
    public void signal(String signal) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("kill", "-" + signal, Long.toString(pid())).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        if (!p.waitFor(5, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException("kill -" + signal + " " + pid() + " failed");
        }
    }

    /**
     * True once the kernel shows the server stopped (after a SIGSTOP: {@code kill} returns before
     * it is); false if it exited instead.
     */
    public boolean awaitStopped() throws IOException, InterruptedException {
        Path stat = Path.of("/proc/" + pid() + "/stat");
        for (int i = 0; i < 1000; i++) {
            String s;
            try {
                s = Files.readString(stat);
            } catch (java.nio.file.NoSuchFileException gone) {
                return false;
            }
            String state = s.substring(s.lastIndexOf(')') + 2);
            if (state.startsWith("T")) {
                return true;
            }
            if (state.startsWith("Z") || state.startsWith("X")) {
                return false; // exited, not yet reaped
            }
            Thread.sleep(1);
        }
        throw new AssertionError("process " + pid() + " did not stop");
    }

    /** SIGTERM, then SIGKILL if the server is still there after a second. */
    public void stop() {
        if (process == null) {
            return;
        }
        if (process.isAlive()) {
            try {
                signal("CONT"); // a stopped process would not act on SIGTERM
            } catch (IOException | InterruptedException ignored) {
                // it may have exited meanwhile; SIGKILL below covers it
            }
            process.destroy();
            if (!awaitExit(process, 1_000)) {
                process.destroyForcibly();
                awaitExit(process, 10_000);
            }
        }
        RUNNING.remove(process);
    }

    /** Stops the server if it runs and starts it again, same command, same port. */
    public void restart() throws IOException {
        restart(serverArgs.toArray(String[]::new));
    }

    /**
     * Stops the server if it runs and starts it again on the same port with other arguments
     * (for qemu-nbd the file name is among them).
     */
    public void restart(String... newArgs) throws IOException {
        stop();
        serverArgs = List.of(newArgs);
        launch();
    }

    @Override
    public void close() {
        stop();
        try {
            Files.deleteIfExists(log);
        } catch (IOException ignored) {
            // left in target/
        }
    }

    private List<String> command() {
        List<String> cmd = new ArrayList<>();
        if (kind.equals("nbdkit")) {
            cmd.addAll(List.of("nbdkit", "-f", "--exit-with-parent", "-i", host(), "-p", Integer.toString(port)));
        } else {
            if (onPath("setpriv")) {
                cmd.addAll(List.of("setpriv", "--pdeathsig", "KILL", "--"));
            }
            cmd.addAll(List.of("qemu-nbd", "--bind", host(), "--port", Integer.toString(port), "--format", "raw",
                    "--persistent", "--shared=8"));
        }
        cmd.addAll(serverArgs);
        return cmd;
    }

    /** Starts the process and waits until the port accepts connections. */
    private void launch() throws IOException {
        // The port may still be held for a moment by the process we just killed (or taken by
        // another process between freePort() and here): retry a few times on "in use".
        for (int attempt = 0;; attempt++) {
            ProcessBuilder pb = new ProcessBuilder(command()).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
            process = pb.start();
            process.getOutputStream().close();
            RUNNING.add(process);
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(READY_MILLIS);
            while (true) {
                if (!process.isAlive()) {
                    RUNNING.remove(process);
                    String out = output();
                    if (attempt < 5 && out.toLowerCase().contains("in use")) {
                        sleep(200);
                        break;
                    }
                    throw new IOException(String.join(" ", command()) + " exited with " + process.exitValue()
                            + " before accepting connections:\n" + out);
                }
                if (accepts()) {
                    return;
                }
                if (System.nanoTime() - deadline > 0) {
                    kill();
                    throw new IOException(String.join(" ", command()) + " did not accept connections on port " + port
                            + " within " + READY_MILLIS + " ms:\n" + output());
                }
                sleep(20);
            }
        }
    }

    private boolean accepts() {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(host(), port), 200);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            return s.getLocalPort();
        }
    }

    private static boolean awaitExit(Process p, long millis) {
        try {
            return p.waitFor(millis, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return !p.isAlive();
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private static void require(String program) {
        if (!onPath(program)) {
            throw new AssertionError(program + " is not installed (not found on PATH " + System.getenv("PATH")
                    + "); the NBD tests need real servers: " + INSTALL_HINT);
        }
    }

    static boolean onPath(String program) {
        String path = System.getenv("PATH");
        if (path == null) {
            return false;
        }
        for (String dir : path.split(File.pathSeparator)) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, program))) {
                return true;
            }
        }
        return false;
    }

    private static Path logDir() {
        Path dir = Path.of("target", "test-tmp").toAbsolutePath();
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return dir;
    }
}
