package dev.kvtier;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs a main class of the test classpath in a fresh JVM and captures what it prints. */
public final class ChildJvm {
    private static final long TIMEOUT_SECONDS = 60;

    /** Exit code and combined stdout/stderr of a finished child. */
    public record Result(int exitCode, String output) {
    }

    private ChildJvm() {
    }

    /** The JVM flags Chronicle Bytes needs on this JDK, plus the quiet logging the tests use. */
    public static List<String> cacheFlags() {
        List<String> flags = new ArrayList<>(List.of(JvmFlags.requiredFlags().split(" ")));
        flags.add("-Dchronicle.analytics.disable=true");
        flags.add("-Dorg.slf4j.simpleLogger.defaultLogLevel=warn");
        return flags;
    }

    /** Runs {@code mainClass} with {@code jvmFlags}, the test classpath and no other JVM options. */
    public static Result run(List<String> jvmFlags, Class<?> mainClass) throws IOException, InterruptedException {
        return run(jvmFlags, mainClass, new String[0]);
    }

    /** As {@link #run(List, Class)}, passing {@code args} to its main method. */
    public static Result run(List<String> jvmFlags, Class<?> mainClass, String... args)
            throws IOException, InterruptedException {
        return run(jvmFlags, System.getProperty("java.class.path"), mainClass, args);
    }

    /** As {@link #run(List, Class, String...)}, on {@code classPath} instead of the test class path. */
    public static Result run(List<String> jvmFlags, String classPath, Class<?> mainClass, String... args)
            throws IOException, InterruptedException {
        List<String> command = command(jvmFlags, classPath, mainClass, args);
        Path log = Files.createTempFile("kvtier-child-", ".log");
        try {
            ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
            pb.environment().remove("JAVA_TOOL_OPTIONS");
            pb.environment().remove("JDK_JAVA_OPTIONS");
            Process p = pb.start();
            p.getOutputStream().close();
            boolean exited = p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            if (!exited) {
                p.destroyForcibly().waitFor();
            }
            String output = Files.readString(log, StandardCharsets.UTF_8);
            if (!exited) {
                throw new AssertionError("child JVM " + mainClass.getName() + " did not exit; output:\n" + output);
            }
            return new Result(p.exitValue(), output);
        } finally {
            Files.deleteIfExists(log);
        }
    }

    /**
     * Starts {@code mainClass} and returns at once; stdout and stderr are merged into the
     * process's input stream, which the caller must drain.
     */
    public static Process start(List<String> jvmFlags, Class<?> mainClass, String... args) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(command(jvmFlags, System.getProperty("java.class.path"), mainClass, args))
                .redirectErrorStream(true);
        pb.environment().remove("JAVA_TOOL_OPTIONS");
        pb.environment().remove("JDK_JAVA_OPTIONS");
        Process p = pb.start();
        p.getOutputStream().close();
        return p;
    }

    private static List<String> command(List<String> jvmFlags, String classPath, Class<?> mainClass, String... args) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(jvmFlags);
        command.add("-cp");
        command.add(classPath);
        command.add(mainClass.getName());
        command.addAll(List.of(args));
        return command;
    }
}
