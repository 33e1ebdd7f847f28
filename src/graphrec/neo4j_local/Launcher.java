// graphrec's Neo4j 5 without Docker: Neo4j's own in-process server (neo4j-harness) with the Graph Data
// Science procedures loaded from the classpath, Bolt on 127.0.0.1 and authentication on. Two uses, one
// program:
//
//   the tests' throwaway server   java -cp <cp> Launcher.java <work-dir>
//     Bolt on a free port, no HTTP, the database inside <work-dir> (the harness deletes it on close);
//     runs until its standard input closes or its parent process dies, whichever comes first: the
//     parent holds the pipe, so a parent killed with -9 still takes the JVM down (no orphans).
//
//   an analyst's local server     java -cp <cp> Launcher.java <work-dir> --detached --data-dir DIR
//                                   --bolt-port N --http-port N [--static-dir DIR --static-port N]
//     (`graphrec neo4j start`) the databases under DIR, kept across restarts; HTTP on with Neo4j
//     Browser (the neo4j-browser jar on the classpath) and a discovery document that advertises the
//     Bolt port really bound; a small file server on --static-port for the Browser guide and style
//     that graphrec writes into --static-dir; runs until SIGTERM.
//
// Run as a single-file program. The password comes from the environment (GRAPHREC_NEO4J_PASSWORD),
// never the command line, so it does not show in `ps`. When the server answers it prints one line,
// `READY <bolt-uri>`.
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.regex.Pattern;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.graphdb.QueryExecutionException;
import org.neo4j.harness.Neo4j;
import org.neo4j.harness.Neo4jBuilder;
import org.neo4j.harness.Neo4jBuilders;
import org.neo4j.server.configuration.ServerSettings;

public final class Launcher {
    private static final String HOST = "127.0.0.1";
    // the name Browser and drivers are told to use; whitelisted for guides and styles below
    private static final String ADVERTISED = "localhost";
    private static final Pattern STATIC_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*");

    private Launcher() {}

    public static void main(String[] args) {
        try {
            run(args);
        } catch (Throwable failed) {
            // Neo4j's own threads would keep a half-started JVM alive: exit, and the shutdown hook
            // (when the server got that far) stops Neo4j
            failed.printStackTrace();
            System.exit(1);
        }
    }

    private static void run(String[] args) throws Exception {
        if (args.length < 1 || args[0].startsWith("--")) {
            usage("missing <work-dir>");
        }
        Map<String, String> options = options(args);
        boolean detached = options.containsKey("--detached");
        String password = System.getenv("GRAPHREC_NEO4J_PASSWORD");
        if (password == null || password.length() < 8) {
            System.err.println("GRAPHREC_NEO4J_PASSWORD must be set (8 characters or more)");
            System.exit(2);
        }
        Path work = Paths.get(args[0]).toAbsolutePath();
        Path plugins = gdsPluginDir(work);
        long pageCache = Long.parseLong(System.getenv().getOrDefault("GRAPHREC_NEO4J_PAGECACHE", "268435456"));
        int boltPort = Integer.parseInt(options.getOrDefault("--bolt-port", "0"));

        Neo4jBuilder builder = Neo4jBuilders.newInProcessBuilder(work)
                .withConfig(BoltConnector.enabled, true)
                .withConfig(BoltConnector.listen_address, new SocketAddress(HOST, boltPort))
                .withConfig(GraphDatabaseSettings.auth_enabled, true)
                .withConfig(GraphDatabaseSettings.plugin_dir, plugins)
                .withConfig(GraphDatabaseSettings.procedure_unrestricted, List.of("gds.*"))
                .withConfig(GraphDatabaseSettings.pagecache_memory, pageCache);
        if (options.containsKey("--data-dir")) {
            // outside the harness's own folder, which it deletes on close: the data outlives the JVM
            builder = builder.withConfig(
                    GraphDatabaseSettings.data_directory, Paths.get(options.get("--data-dir")).toAbsolutePath());
        }
        if (options.containsKey("--http-port")) {
            int httpPort = Integer.parseInt(options.get("--http-port"));
            if (boltPort == 0 || httpPort == 0) {
                usage("--http-port needs fixed ports: the discovery document must name the Bolt port Browser uses");
            }
            builder = builder
                    .withConfig(HttpConnector.enabled, true)
                    .withConfig(HttpConnector.listen_address, new SocketAddress(HOST, httpPort))
                    .withConfig(HttpConnector.advertised_address, new SocketAddress(ADVERTISED, httpPort))
                    // Browser reads bolt_direct/bolt_routing from the discovery document at / : without
                    // this it names the default 7687 whatever port was bound
                    .withConfig(BoltConnector.advertised_address, new SocketAddress(ADVERTISED, boltPort))
                    // Browser fetches `:play URL` guides and `:style URL` sheets only from these hosts
                    .withConfig(ServerSettings.browser_remote_content_hostname_whitelist, ADVERTISED + "," + HOST)
                    // no product analytics from Browser (it would load a third-party script to send them)
                    .withConfig(ServerSettings.allow_telemetry, false);
        } else {
            builder = builder.withDisabledServer();  // no HTTP: Bolt is all graphrec's tests speak
        }
        Neo4j neo4j = builder.build();
        HttpServer files = options.containsKey("--static-dir")
                ? serveFiles(Paths.get(options.get("--static-dir")), Integer.parseInt(options.get("--static-port")))
                : null;
        CountDownLatch stop = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (files != null) {
                files.stop(0);
            }
            neo4j.close();
            stop.countDown();
        }, "graphrec-neo4j-shutdown"));

        setPassword(neo4j, password);

        URI bolt = neo4j.boltURI();
        System.out.println("READY bolt://" + HOST + ":" + bolt.getPort());
        System.out.flush();

        if (!detached) {
            watchParent();
        }
        stop.await();
    }

    // The built-in user starts with a password that must be changed; a kept database has the password
    // of its last start. Set ours and drop the change-required flag; Neo4j refuses to "change" a
    // password to itself, which here means it is already the one wanted.
    private static void setPassword(Neo4j neo4j, String password) {
        try {
            neo4j.databaseManagementService().database("system").executeTransactionally(
                    "ALTER USER neo4j SET PASSWORD $password CHANGE NOT REQUIRED", Map.of("password", password));
        } catch (QueryExecutionException refused) {
            String message = String.valueOf(refused.getMessage());
            if (!message.contains("Old password and new password cannot be the same")) {
                throw refused;
            }
            neo4j.databaseManagementService().database("system").executeTransactionally(
                    "ALTER USER neo4j SET PASSWORD CHANGE NOT REQUIRED");
        }
    }

    private static Map<String, String> options(String[] args) {
        Map<String, String> options = new HashMap<>();
        for (int i = 1; i < args.length; i++) {
            String name = args[i];
            if (name.equals("--detached")) {
                options.put(name, "");
            } else if (List.of("--data-dir", "--bolt-port", "--http-port", "--static-dir", "--static-port")
                    .contains(name) && i + 1 < args.length) {
                options.put(name, args[++i]);
            } else {
                usage("unknown or incomplete option " + name);
            }
        }
        if (options.containsKey("--static-dir") != options.containsKey("--static-port")) {
            usage("--static-dir and --static-port go together");
        }
        return options;
    }

    private static void usage(String problem) {
        System.err.println(problem + "\nusage: java -cp <classpath> Launcher.java <work-dir> [--detached] "
                + "[--data-dir DIR] [--bolt-port N] [--http-port N] [--static-dir DIR --static-port N]");
        System.exit(2);
    }

    // The tests' server: stop when our standard input closes (the parent closed the pipe, or died) or
    // when the parent process exits.
    private static void watchParent() {
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
    }

    // The guide and the style sheet for Browser, from a page on another origin: so every answer allows
    // any origin (they are public files, and Browser sends no credentials with them), and the preflight
    // that Browser's no-cache headers cause is answered. Only plain files directly in `dir` are served.
    private static HttpServer serveFiles(Path dir, int port) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(HOST, port), 0);
        server.createContext("/", exchange -> {
            try {
                answer(exchange, dir.toAbsolutePath());
            } finally {
                exchange.close();
            }
        });
        server.start();
        return server;
    }

    private static void answer(HttpExchange exchange, Path dir) throws IOException {
        exchange.getResponseHeaders().add("Access-Control-Allow-Origin", "*");
        exchange.getResponseHeaders().add("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS");
        exchange.getResponseHeaders().add("Access-Control-Allow-Headers", "*");
        exchange.getResponseHeaders().add("Cache-Control", "no-cache");
        String method = exchange.getRequestMethod();
        if (method.equals("OPTIONS")) {
            exchange.sendResponseHeaders(204, -1);
            return;
        }
        String name = exchange.getRequestURI().getPath().replaceFirst("^/", "");
        Path file = dir.resolve(name);
        if (!(method.equals("GET") || method.equals("HEAD"))) {
            exchange.sendResponseHeaders(405, -1);
            return;
        }
        if (!STATIC_NAME.matcher(name).matches() || !Files.isRegularFile(file)) {
            exchange.sendResponseHeaders(404, -1);
            return;
        }
        byte[] body = Files.readAllBytes(file);
        String type = name.endsWith(".html") ? "text/html; charset=utf-8" : "text/plain; charset=utf-8";
        exchange.getResponseHeaders().add("Content-Type", type);
        if (method.equals("HEAD")) {
            exchange.sendResponseHeaders(200, -1);
            return;
        }
        exchange.sendResponseHeaders(200, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
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
