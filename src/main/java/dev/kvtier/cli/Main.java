package dev.kvtier.cli;

import dev.kvtier.trace.TraceFormatException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code kvtier}: the command line. Uses only the library's public API. */
@Command(name = "kvtier", mixinStandardHelpOptions = true, version = "kvtier 0.1.0",
        description = "A tiered KV-cache store for LLM inference servers.",
        subcommands = {DemoCommand.class, ReplayCommand.class, BenchCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The command line as {@link #main} runs it. */
    static CommandLine commandLine() {
        return new CommandLine(new Main()).setCaseInsensitiveEnumValuesAllowed(true)
                .setExecutionExceptionHandler(Main::report);
    }

    /**
     * Bad arguments, refused settings and bad trace files (file, line, problem) print their
     * message alone; anything else its stack trace too.
     */
    private static int report(Exception e, CommandLine cl, CommandLine.ParseResult parsed) throws Exception {
        if (e instanceof IllegalArgumentException || e instanceof IllegalStateException
                || e instanceof TraceFormatException) {
            cl.getErr().println(e.getMessage());
            return 2;
        }
        throw e;
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
