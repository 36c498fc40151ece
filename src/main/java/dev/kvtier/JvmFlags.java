package dev.kvtier;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;

/**
 * Checks, before any Chronicle class loads, that the JVM was started with the flags Chronicle
 * Bytes needs, and otherwise fails with the exact flags to add. Module openness is checked
 * directly (so flags given in a jar manifest or {@code JDK_JAVA_OPTIONS} count); the Unsafe
 * memory-access flag of JDK 23+ can only be read from the JVM's arguments.
 */
final class JvmFlags {
    static final String BASE_FLAGS = "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED "
            + "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED "
            + "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED --enable-native-access=ALL-UNNAMED";
    static final String UNSAFE_FLAG = "--sun-misc-unsafe-memory-access=allow";

    private JvmFlags() {
    }

    /** The flags this JVM needs, as one line to paste. */
    static String requiredFlags() {
        return Runtime.version().feature() >= 23 ? BASE_FLAGS + " " + UNSAFE_FLAG : BASE_FLAGS;
    }

    static void requireChronicleFlags() {
        List<String> missing = missingFlags();
        if (!missing.isEmpty()) {
            throw new MissingJvmFlagsException(missing, requiredFlags());
        }
    }

    static List<String> missingFlags() {
        Module base = Object.class.getModule();
        Module self = JvmFlags.class.getModule();
        List<String> missing = new ArrayList<>();
        if (!base.isOpen("java.lang.reflect", self)) {
            missing.add("--add-opens=java.base/java.lang.reflect=ALL-UNNAMED");
        }
        if (!base.isExported("sun.nio.ch", self)) {
            missing.add("--add-exports=java.base/sun.nio.ch=ALL-UNNAMED");
        }
        if (!base.isExported("jdk.internal.ref", self)) {
            missing.add("--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED");
        }
        if (!nativeAccessEnabled(self)) {
            missing.add("--enable-native-access=ALL-UNNAMED");
        }
        if (Runtime.version().feature() >= 23 && !jvmArguments().contains(UNSAFE_FLAG)) {
            missing.add(UNSAFE_FLAG);
        }
        return missing;
    }

    /** {@code Module.isNativeAccessEnabled()} exists from JDK 22; before that the flag changes nothing. */
    private static boolean nativeAccessEnabled(Module self) {
        if (Runtime.version().feature() < 22) {
            return true;
        }
        try {
            return (Boolean) Module.class.getMethod("isNativeAccessEnabled").invoke(self);
        } catch (ReflectiveOperationException e) {
            return jvmArguments().contains("--enable-native-access=ALL-UNNAMED");
        }
    }

    private static List<String> jvmArguments() {
        return ManagementFactory.getRuntimeMXBean().getInputArguments();
    }
}
