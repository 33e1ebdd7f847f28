// A throwaway Neo4j for graphrec's tests and benchmarks: the official in-process test server
// (neo4j-harness) with Bolt on 127.0.0.1, a random free port, authentication on, and the Graph Data
// Science procedures loaded from the classpath.
//
// Run as a single-file program: java -cp <classpath from pom.xml> Launcher.java <work-dir>
// The password comes from the environment (GRAPHREC_NEO4J_PASSWORD), never the command line, so it
// does not show in `ps`. When the server answers it prints one line, `READY <bolt-uri>`, and then
// runs until its standard input closes or its parent process dies, whichever comes first: the parent
// holds the pipe, so a parent killed with -9 still takes the JVM down (no orphans).
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.harness.Neo4j;
import org.neo4j.harness.Neo4jBuilders;

public final class Launcher {
    private Launcher() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: java -cp <classpath> Launcher.java <work-dir>");
            System.exit(2);
        }
        String password = System.getenv("GRAPHREC_NEO4J_PASSWORD");
        if (password == null || password.length() < 8) {
            System.err.println("GRAPHREC_NEO4J_PASSWORD must be set (8 characters or more)");
            System.exit(2);
        }
        Path work = Paths.get(args[0]).toAbsolutePath();
        Path plugins = gdsPluginDir(work);
        long pageCache = Long.parseLong(System.getenv().getOrDefault("GRAPHREC_NEO4J_PAGECACHE", "268435456"));

        Neo4j neo4j = Neo4jBuilders.newInProcessBuilder(work)
                .withDisabledServer()  // no HTTP: Bolt is all graphrec speaks
                .withConfig(BoltConnector.enabled, true)
                .withConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", 0))
                .withConfig(GraphDatabaseSettings.auth_enabled, true)
                .withConfig(GraphDatabaseSettings.plugin_dir, plugins)
                .withConfig(GraphDatabaseSettings.procedure_unrestricted, List.of("gds.*"))
                .withConfig(GraphDatabaseSettings.pagecache_memory, pageCache)
                .build();
        CountDownLatch stop = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            neo4j.close();
            stop.countDown();
        }, "graphrec-neo4j-shutdown"));

        // The built-in user starts with a password that must be changed; set ours and drop that flag.
        neo4j.databaseManagementService().database("system").executeTransactionally(
                "ALTER USER neo4j SET PASSWORD $password CHANGE NOT REQUIRED", Map.of("password", password));

        URI bolt = neo4j.boltURI();
        System.out.println("READY bolt://127.0.0.1:" + bolt.getPort());
        System.out.flush();

        Thread stdinWatch = new Thread(() -> {
            try (InputStream in = System.in) {
                byte[] buf = new byte[256];
                while (in.read(buf) >= 0) {
                    // Anything written is ignored; only end-of-file matters.
                }
            } catch (IOException ignored) {
                // A broken pipe means the parent is gone: same as end-of-file.
            }
            System.exit(0);
        }, "graphrec-neo4j-stdin");
        stdinWatch.setDaemon(true);
        stdinWatch.start();
        ProcessHandle.current().parent().ifPresent(parent -> parent.onExit().thenRun(() -> System.exit(0)));
        stop.await();
    }

    // Neo4j discovers procedures only in jars of its plugin directory. The GDS jars are already on
    // the classpath (their extension factories load from there); hard links (or copies) of the same
    // jars in the plugin directory let Neo4j's procedure scanner register their procedures too.
    private static Path gdsPluginDir(Path work) throws IOException {
        Path plugins = work.resolve("plugins");
        Files.createDirectories(plugins);
        for (String entry : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
            Path jar = Paths.get(entry);
            if (!entry.contains("/org/neo4j/gds/") || !entry.endsWith(".jar")) {
                continue;
            }
            Path target = plugins.resolve(jar.getFileName());
            if (Files.exists(target)) {
                continue;
            }
            try {
                Files.createLink(target, jar);
            } catch (IOException | UnsupportedOperationException crossDevice) {
                Files.copy(jar, target, StandardCopyOption.REPLACE_EXISTING);
            }
        }
        return plugins;
    }
}
