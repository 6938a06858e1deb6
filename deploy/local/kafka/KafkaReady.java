// Readiness probe used by deploy/local/kafka.sh: exits 0 when a Kafka broker answers real
// Admin API requests (DescribeCluster + Metadata), 1 otherwise. A TCP connect is not enough.
// Usage: java -cp '<lib>/*:<classes>' KafkaReady <bootstrap-servers> [timeout-ms]
import java.time.Duration;
import java.util.Collection;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.ListTopicsOptions;
import org.apache.kafka.common.Node;

public final class KafkaReady {
    public static void main(String[] args) {
        if (args.length < 1) {
            System.err.println("usage: KafkaReady <bootstrap-servers> [timeout-ms]");
            System.exit(2);
        }
        String bootstrap = args[0];
        int timeoutMs = args.length > 1 ? Integer.parseInt(args[1]) : 5000;
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(AdminClientConfig.CLIENT_ID_CONFIG, "basisdienste-kafka-ready");
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, timeoutMs);
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, timeoutMs);
        props.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 500);
        Admin admin = Admin.create(props);
        int rc = 1;
        try {
            DescribeClusterResult cluster = admin.describeCluster();
            String clusterId = cluster.clusterId().get(timeoutMs, TimeUnit.MILLISECONDS);
            Collection<Node> nodes = cluster.nodes().get(timeoutMs, TimeUnit.MILLISECONDS);
            Set<String> topics = admin.listTopics(new ListTopicsOptions().listInternal(true))
                    .names().get(timeoutMs, TimeUnit.MILLISECONDS);
            if (nodes.isEmpty()) {
                System.err.println("kafka at " + bootstrap + " reports no brokers");
            } else {
                System.out.println("kafka at " + bootstrap + " answers: cluster " + clusterId
                        + ", " + nodes.size() + " broker(s), " + topics.size() + " topic(s)");
                rc = 0;
            }
        } catch (Exception e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            System.err.println("kafka at " + bootstrap + " does not answer: " + cause);
        } finally {
            admin.close(Duration.ofSeconds(2));
        }
        System.exit(rc);
    }
}
