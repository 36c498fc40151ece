package dev.kvtier;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.Dependency;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaMember;
import com.tngtech.archunit.core.domain.JavaModifier;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchCondition;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.ConditionEvents;
import com.tngtech.archunit.lang.conditions.ArchConditions;
import com.tngtech.archunit.lang.SimpleConditionEvent;
import java.util.Optional;
import java.util.Set;

/**
 * The boundary, checked on the library's classes (not the tests'):
 *
 * <ul>
 *   <li><b>The public API is closed.</b> A public type of {@code dev.kvtier} or
 *       {@code dev.kvtier.key} names in its public or protected signatures (supertypes, fields,
 *       constructors, methods: parameters, results, type arguments, exceptions) only types of
 *       those two packages and of the JDK ({@code java.*}, {@code javax.*}): no internal package
 *       and no third-party library, so either can change without breaking a server. The one
 *       exception is {@code KvTierMetrics}, the Micrometer binder, which names Micrometer's
 *       types ({@code io.micrometer.*}): binding to them is its job, and Micrometer is an
 *       optional dependency only its users have.</li>
 *   <li><b>Arrows point down</b> (DESIGN.md): the command line on the tools ({@code replay},
 *       {@code trace}) and the public API; the tools on the API (and the replay on the internal
 *       {@code offline} knobs); the engine ({@code dev.kvtier}) on its parts; {@code tier} on
 *       {@code device}, {@code format}, {@code codec} and {@code io}; {@code io} on
 *       {@code device}; {@code device} on {@code nbd} only; {@code codec} on {@code format};
 *       {@code events} (JFR) on {@code metrics}; {@code key}, {@code index}, {@code policy},
 *       {@code metrics}, {@code format}, {@code nbd} and {@code offline} on nothing of
 *       kvtier.</li>
 *   <li><b>The command line uses the public API and the tools only</b>, with one named
 *       exception: {@code bench remote} drives an {@code NbdDevice} directly for its raw-device
 *       baseline.</li>
 * </ul>
 */
@AnalyzeClasses(packages = "dev.kvtier", importOptions = ImportOption.DoNotIncludeTests.class)
class ArchitectureTest {
    private static final String[] API = {"dev.kvtier", "dev.kvtier.key"};
    /** The one exception: {@code bench remote}'s raw-device baseline, and the device it drives. */
    private static final DescribedPredicate<JavaClass> RAW_DEVICE_BENCH =
            DescribedPredicate.describe("cli.RemoteBench", c -> c.getName().equals("dev.kvtier.cli.RemoteBench"));
    private static final DescribedPredicate<JavaClass> RAW_DEVICE = DescribedPredicate.describe("device.NbdDevice",
            c -> c.getBaseComponentType().getName().startsWith("dev.kvtier.device.NbdDevice"));
    private static final String[] INTERNAL = {"dev.kvtier.codec..", "dev.kvtier.device..", "dev.kvtier.format..",
        "dev.kvtier.index..", "dev.kvtier.io..", "dev.kvtier.metrics..", "dev.kvtier.nbd..", "dev.kvtier.offline..",
        "dev.kvtier.policy..", "dev.kvtier.tier.."};

    @ArchTest
    static final ArchRule publicApiNamesOnlyApiAndJdkTypes = classes().that().resideInAnyPackage(API)
            .and(exported()).should(exposeOnlyApiAndJdkTypes());

    @ArchTest
    static final ArchRule arrowsPointDown = layeredArchitecture().consideringOnlyDependenciesInLayers()
            .layer("cli").definedBy("dev.kvtier.cli..")
            .layer("replay").definedBy("dev.kvtier.replay..")
            .layer("trace").definedBy("dev.kvtier.trace..")
            .layer("engine").definedBy("dev.kvtier")
            .layer("key").definedBy("dev.kvtier.key..")
            .layer("offline").definedBy("dev.kvtier.offline..")
            .layer("index").definedBy("dev.kvtier.index..")
            .layer("policy").definedBy("dev.kvtier.policy..")
            .layer("events").definedBy("dev.kvtier.events..")
            .layer("metrics").definedBy("dev.kvtier.metrics..")
            .layer("tier").definedBy("dev.kvtier.tier..")
            .layer("format").definedBy("dev.kvtier.format..")
            .layer("codec").definedBy("dev.kvtier.codec..")
            .layer("io").definedBy("dev.kvtier.io..")
            .layer("device").definedBy("dev.kvtier.device..")
            .layer("nbd").definedBy("dev.kvtier.nbd..")
            .whereLayer("cli").mayNotBeAccessedByAnyLayer()
            .whereLayer("replay").mayOnlyBeAccessedByLayers("cli")
            .whereLayer("trace").mayOnlyBeAccessedByLayers("cli", "replay")
            .whereLayer("engine").mayOnlyBeAccessedByLayers("cli", "replay")
            .whereLayer("key").mayOnlyBeAccessedByLayers("cli", "replay", "engine")
            .whereLayer("offline").mayOnlyBeAccessedByLayers("replay", "engine")
            .whereLayer("index").mayOnlyBeAccessedByLayers("engine")
            .whereLayer("policy").mayOnlyBeAccessedByLayers("engine")
            .whereLayer("events").mayOnlyBeAccessedByLayers("engine")
            .whereLayer("metrics").mayOnlyBeAccessedByLayers("engine", "events")
            .whereLayer("tier").mayOnlyBeAccessedByLayers("engine")
            .whereLayer("format").mayOnlyBeAccessedByLayers("engine", "tier", "codec")
            .whereLayer("codec").mayOnlyBeAccessedByLayers("engine", "tier")
            .whereLayer("io").mayOnlyBeAccessedByLayers("engine", "tier")
            .whereLayer("device").mayOnlyBeAccessedByLayers("engine", "tier", "io")
            .whereLayer("nbd").mayOnlyBeAccessedByLayers("device")
            .ignoreDependency(RAW_DEVICE_BENCH, RAW_DEVICE);

    @ArchTest
    static final ArchRule commandLineUsesTheApiAndTheTools = classes().that().resideInAPackage("dev.kvtier.cli..")
            .should(ArchConditions.onlyHaveDependenciesWhere(DescribedPredicate.describe(
                    "the target is public API (dev.kvtier, dev.kvtier.key), a tool (dev.kvtier.replay, dev.kvtier.trace)"
                            + " or outside kvtier (bench remote's raw device excepted)",
                    (Dependency d) -> !isInternal(d.getTargetClass())
                            || RAW_DEVICE_BENCH.test(d.getOriginClass()) && RAW_DEVICE.test(d.getTargetClass()))));

    @ArchTest
    static final ArchRule toolsUseTheApiAndOnlyTheOfflineKnobs = noClasses().that()
            .resideInAnyPackage("dev.kvtier.replay..", "dev.kvtier.trace..").should().dependOnClassesThat()
            .resideInAnyPackage(except(INTERNAL, "dev.kvtier.offline.."));

    /** Public and protected members of a type every enclosing type of which is public too. */
    private static DescribedPredicate<JavaClass> exported() {
        return DescribedPredicate.describe("are public (and so is every enclosing class)", ArchitectureTest::isExported);
    }

    private static boolean isExported(JavaClass c) {
        Optional<JavaClass> at = Optional.of(c);
        while (at.isPresent()) {
            if (!at.get().getModifiers().contains(JavaModifier.PUBLIC)) {
                return false;
            }
            at = at.get().getEnclosingClass();
        }
        return true;
    }

    private static ArchCondition<JavaClass> exposeOnlyApiAndJdkTypes() {
        return new ArchCondition<>("name only types of dev.kvtier, dev.kvtier.key and the JDK in public signatures") {
            @Override
            public void check(JavaClass c, ConditionEvents events) {
                c.getRawSuperclass().ifPresent(s -> report(c, "extends", s, events));
                c.getAllRawInterfaces().forEach(i -> report(c, "implements", i, events));
                for (JavaMember m : c.getMembers()) {
                    Set<JavaModifier> mods = m.getModifiers();
                    boolean visible = mods.contains(JavaModifier.PUBLIC) || mods.contains(JavaModifier.PROTECTED);
                    if (visible && !mods.contains(JavaModifier.SYNTHETIC) && !mods.contains(JavaModifier.BRIDGE)) {
                        for (JavaClass t : involvedTypes(m)) {
                            report(c, m.getFullName(), t, events);
                        }
                    }
                }
            }
        };
    }

    private static Set<JavaClass> involvedTypes(JavaMember m) {
        if (m instanceof com.tngtech.archunit.core.domain.JavaCodeUnit u) {
            return u.getAllInvolvedRawTypes();
        }
        return ((com.tngtech.archunit.core.domain.JavaField) m).getAllInvolvedRawTypes();
    }

    private static void report(JavaClass owner, String where, JavaClass type, ConditionEvents events) {
        JavaClass t = type.getBaseComponentType();
        String pkg = t.getPackageName();
        boolean ok = t.isPrimitive() || pkg.equals("dev.kvtier") || pkg.equals("dev.kvtier.key")
                || pkg.startsWith("java.") || pkg.startsWith("javax.")
                || owner.isEquivalentTo(KvTierMetrics.class) && pkg.startsWith("io.micrometer.");
        if (!ok) {
            events.add(SimpleConditionEvent.violated(owner, owner.getName() + ": " + where + " names " + t.getName()
                    + ", which is not public API (dev.kvtier, dev.kvtier.key) nor the JDK"));
        }
    }

    private static boolean isInternal(JavaClass t) {
        String pkg = t.getBaseComponentType().getPackageName();
        for (String p : INTERNAL) {
            String root = p.substring(0, p.length() - 2);
            if (pkg.equals(root) || pkg.startsWith(root + ".")) {
                return true;
            }
        }
        return false;
    }

    private static String[] except(String[] all, String removed) {
        return java.util.Arrays.stream(all).filter(p -> !p.equals(removed)).toArray(String[]::new);
    }
}
