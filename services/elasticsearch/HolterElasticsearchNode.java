package dev.holter.services;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.node.InternalSettingsPreparer;
import org.elasticsearch.node.Node;
import org.elasticsearch.plugins.PluginsLoader;

/**
 * Starts one Elasticsearch node inside this JVM, for Holter's integration tests.
 *
 * <p>The Elasticsearch distribution is not on Maven Central, but its server jar and the
 * transport-netty4 module are. The server's own entry point expects the distribution's
 * command-line launcher to pass it arguments over standard input, so this class replaces
 * that launcher: it builds the settings, configures logging from the config directory and
 * loads the modules found under {@code <path.home>/modules}, the same way the distribution
 * does.
 *
 * <p>Usage: {@code HolterElasticsearchNode key=value...}, where each pair is a node setting
 * (for example {@code http.port=9200}). {@code path.home} is required. On SIGTERM a shutdown
 * hook closes the node, which closes its shards, and waits up to 30 s for that to finish.
 */
public final class HolterElasticsearchNode {

    private static final long CLOSE_TIMEOUT_SECONDS = 30;

    private HolterElasticsearchNode() {}

    public static void main(String[] args) throws Exception {
        Settings input = parseSettings(args);
        Path home = Path.of(input.get("path.home"));
        Path configDir = home.resolve("config");

        // With the listener registered first, configure() raises Log4j configuration errors,
        // so a broken log4j2.properties fails the start instead of losing the node's log.
        LogConfigurator.registerErrorListener();
        Environment environment = InternalSettingsPreparer.prepareEnvironment(input, Map.of(), configDir, () -> "holter-test");
        LogConfigurator.setNodeName(Node.NODE_NAME_SETTING.get(environment.settings()));
        LogConfigurator.configure(environment, false);

        // The last argument is false because the server runs from the class path here, not
        // as the named module org.elasticsearch.server, so it has no qualified exports to add.
        PluginsLoader pluginsLoader = PluginsLoader.createPluginsLoader(
            PluginsLoader.loadModulesBundles(environment.modulesDir()),
            PluginsLoader.loadPluginsBundles(environment.pluginsDir()),
            Map.of(),
            false
        );

        Node node = new Node(environment, pluginsLoader);
        CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> closeNode(node, closed), "holter-es-shutdown"));
        node.start();

        // The node's own threads keep the JVM alive, but waiting here also keeps main from
        // returning before a shutdown has finished.
        closed.await();
    }

    private static Settings parseSettings(String[] args) {
        Settings.Builder builder = Settings.builder();
        for (String arg : args) {
            int equals = arg.indexOf('=');
            if (equals <= 0) {
                throw new IllegalArgumentException("invalid setting argument [" + arg + "]: expected key=value, for example http.port=9200");
            }
            builder.put(arg.substring(0, equals), arg.substring(equals + 1));
        }

        Settings settings = builder.build();
        String home = settings.get("path.home");
        if (home == null || Files.isDirectory(Path.of(home)) == false) {
            throw new IllegalArgumentException("setting [path.home] is missing or not a directory [" + home + "]: pass path.home=DIR with config/ and modules/ inside");
        }
        return settings;
    }

    private static void closeNode(Node node, CountDownLatch closed) {
        try {
            node.close();
            if (node.awaitClose(CLOSE_TIMEOUT_SECONDS, TimeUnit.SECONDS) == false) {
                System.err.println("Elasticsearch node did not close within " + CLOSE_TIMEOUT_SECONDS + " s; exiting anyway");
            }
        } catch (Exception e) {
            System.err.println("Elasticsearch node failed to close: " + e);
        } finally {
            closed.countDown();
        }
    }
}
