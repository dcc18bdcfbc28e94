package shian;

import java.util.concurrent.CountDownLatch;

import org.codelibs.opensearch.runner.OpenSearchRunner;

/**
 * One OpenSearch node for Shian on 127.0.0.1: security off (OpenSearch core has none),
 * single-node discovery, data under the given directory. Runs until SIGTERM.
 *
 * Usage: SearchNode DIR HTTP_PORT [CLUSTER_NAME]
 */
public final class SearchNode {
    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: SearchNode DIR HTTP_PORT [CLUSTER_NAME]");
            System.exit(2);
        }
        String dir = args[0];
        String port = args[1];
        String cluster = args.length > 2 ? args[2] : "shian";
        OpenSearchRunner runner = new OpenSearchRunner();
        // the runner probes ports from baseHttpPort+1 up to maxHttpPort: pin both to ours
        runner.setMaxHttpPort(Integer.parseInt(port));
        runner.onBuild((number, settings) -> {
            settings.put("network.host", "127.0.0.1");
            settings.put("http.port", port);
            // transport is only for node-to-node traffic; any free port will do
            settings.put("transport.port", "0");
            settings.put("discovery.type", "single-node");
            settings.remove("cluster.initial_cluster_manager_nodes");
            settings.put("action.auto_create_index", "false");
            settings.put("cluster.routing.allocation.disk.threshold_enabled", "false");
            settings.put("http.cors.enabled", "false");
        });
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                runner.close();
            } catch (Exception e) {
                e.printStackTrace();
            }
            stopped.countDown();
        }));
        // basePath keeps config, data and logs together; the runner does not wipe it on close
        runner.build(OpenSearchRunner.newConfigs().basePath(dir).numOfNode(1).clusterName(cluster)
                .baseHttpPort(Integer.parseInt(port) - 1).useLogger().printOnFailure());
        System.out.println("shian-search-node started on http://127.0.0.1:" + port);
        stopped.await();
    }
}
