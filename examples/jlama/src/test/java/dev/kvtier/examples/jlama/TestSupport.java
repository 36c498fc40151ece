package dev.kvtier.examples.jlama;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/** The test model, second JVM processes, and nbdkit. */
final class TestSupport {
    /** Small enough that a cold JVM warms it up in seconds; still GQA (4 heads, 2 KV heads). */
    static final RandomLlama.Shape SHAPE = new RandomLlama.Shape(2, 128, 256, 4, 2, 300, 2048);
    static final long SEED = 42;
    static final int BLOCK_TOKENS = 16;
    static final String MODEL_ID = "kvtier-example/random-llama-tiny";

    private TestSupport() {
    }

    static Path modelDir() {
        return RandomLlama.write(Path.of("target", "test-models", "tiny-" + SEED).toAbsolutePath(), SHAPE, SEED);
    }

    /** Runs {@code main} in a new JVM with this JVM's class path and the example's flags; returns its output lines. */
    static List<String> runJava(Class<?> main, List<String> args, long timeoutSeconds) throws IOException, InterruptedException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>();
        cmd.add(java);
        String flags = System.getProperty("example.jvm.flags", "");
        for (String f : flags.trim().split("\\s+")) {
            if (!f.isEmpty()) {
                cmd.add(f);
            }
        }
        cmd.add("-Xmx1g");
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(main.getName());
        cmd.addAll(args);
        Path log = Files.createTempFile("jlama-child-", ".log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("child " + main.getSimpleName() + " timed out; output:\n" + Files.readString(log));
            }
            String out = Files.readString(log, StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                throw new AssertionError("child " + main.getSimpleName() + " exited " + p.exitValue() + "; output:\n" + out);
            }
            return out.lines().collect(Collectors.toList());
        } finally {
            p.destroyForcibly();
            Files.deleteIfExists(log);
        }
    }

    /** The value of the {@code key=value} line of a child's output. */
    static String value(List<String> lines, String key) {
        return lines.stream().filter(l -> l.startsWith(key + "=")).map(l -> l.substring(key.length() + 1)).findFirst()
                .orElseThrow(() -> new AssertionError("no " + key + "= in child output:\n" + String.join("\n", lines)));
    }

    static int[] ints(String csv) {
        return csv.isEmpty() ? new int[0] : Arrays.stream(csv.split(",")).mapToInt(Integer::parseInt).toArray();
    }

    /** {@code nbdkit memory SIZE} on a free loopback port, a child of this JVM. */
    static final class Nbdkit implements AutoCloseable {
        final Process process;
        final int port;

        Nbdkit(String size) throws IOException, InterruptedException {
            if (new ProcessBuilder("sh", "-c", "command -v nbdkit").start().waitFor() != 0) {
                throw new AssertionError("nbdkit is not installed: apt-get install nbdkit");
            }
            try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                port = s.getLocalPort();
            }
            process = new ProcessBuilder("nbdkit", "--exit-with-parent", "-f", "-i", "127.0.0.1", "-p", "" + port,
                    "memory", size).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (true) {
                try (Socket ignored = new Socket(InetAddress.getLoopbackAddress(), port)) {
                    return;
                } catch (IOException e) {
                    if (System.nanoTime() > deadline || !process.isAlive()) {
                        process.destroyForcibly();
                        throw new IOException("nbdkit did not start on port " + port, e);
                    }
                    Thread.sleep(50);
                }
            }
        }

        URI uri() {
            return URI.create("nbd://127.0.0.1:" + port + "/");
        }

        @Override
        public void close() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        }
    }

}
