package dev.specula.cli;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Entry point of {@code java -jar specula.jar}. The CPU kernels need the incubating Vector API,
 * which a jar manifest cannot add to the boot layer; when it is missing this re-launches the same
 * JVM with {@code --add-modules jdk.incubator.vector} (and native access) and passes the exit code
 * through. This class must not touch Vector API classes itself.
 */
public final class Main {
    static final String VECTOR_MODULE = "jdk.incubator.vector";
    /** Set in the child's environment so a broken JDK cannot cause a relaunch loop. */
    static final String RELAUNCH_GUARD = "SPECULA_RELAUNCHED";

    private Main() {}

    public static void main(String[] args) {
        if (ModuleLayer.boot().findModule(VECTOR_MODULE).isEmpty()) {
            if (System.getenv(RELAUNCH_GUARD) != null) {
                System.err.println("specula: the JVM has no " + VECTOR_MODULE + " module even with --add-modules; use a full JDK 25");
                System.exit(2);
            }
            System.exit(relaunch(args));
        }
        System.exit(SpeculaCommand.run(args));
    }

    private static int relaunch(String[] args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("--add-modules");
        cmd.add(VECTOR_MODULE);
        cmd.add("--enable-native-access=ALL-UNNAMED");
        cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        // For "java -jar specula.jar" the class path is the jar itself; otherwise it is whatever
        // the parent was started with, so the child sees the same classes.
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Main.class.getName());
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).inheritIO();
        pb.environment().put(RELAUNCH_GUARD, "1");
        try {
            Process p = pb.start();
            Runtime.getRuntime().addShutdownHook(new Thread(p::destroy));
            return p.waitFor();
        } catch (Exception e) {
            System.err.println("specula: cannot re-launch the JVM with " + VECTOR_MODULE + ": " + e.getMessage());
            return 2;
        }
    }
}
