package dev.kvtier.key;

/** Prints the test-vector keys of {@link BlockKeyTest}, one hex string a line; run in a child JVM. */
public final class PrintKeyVectors {
    private PrintKeyVectors() {
    }

    public static void main(String[] args) {
        BlockKeyTest.vectorLines().forEach(System.out::println);
    }
}
