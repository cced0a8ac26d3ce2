package dev.holter.services.restroot;

import java.util.Collection;
import java.util.List;
import java.util.function.Predicate;
import java.util.function.Supplier;

import org.elasticsearch.Build;
import org.elasticsearch.client.internal.node.NodeClient;
import org.elasticsearch.cluster.ClusterState;
import org.elasticsearch.cluster.metadata.IndexNameExpressionResolver;
import org.elasticsearch.cluster.node.DiscoveryNodes;
import org.elasticsearch.cluster.service.ClusterService;
import org.elasticsearch.common.bytes.BytesArray;
import org.elasticsearch.common.io.stream.NamedWriteableRegistry;
import org.elasticsearch.common.settings.ClusterSettings;
import org.elasticsearch.common.settings.IndexScopedSettings;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.common.settings.SettingsFilter;
import org.elasticsearch.features.NodeFeature;
import org.elasticsearch.plugins.ActionPlugin;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.rest.BaseRestHandler;
import org.elasticsearch.rest.RestController;
import org.elasticsearch.rest.RestHandler;
import org.elasticsearch.rest.RestRequest;
import org.elasticsearch.rest.RestResponse;
import org.elasticsearch.rest.RestStatus;
import org.elasticsearch.xcontent.XContentBuilder;

/**
 * Serves {@code GET /} and {@code HEAD /} on the test node.
 *
 * <p>Elasticsearch 8 serves these from its rest-root module, which Elastic does not
 * publish to Maven Central. Without it the root URL returns 405, and clients that probe it
 * for the cluster name and version fail. This handler returns the same documented fields,
 * read from the local node's cluster state and build information.
 */
public final class HolterRestRootPlugin extends Plugin implements ActionPlugin {

    private volatile ClusterService clusterService;

    @Override
    public Collection<?> createComponents(PluginServices services) {
        clusterService = services.clusterService();
        return List.of();
    }

    @Override
    public Collection<RestHandler> getRestHandlers(
        Settings settings,
        NamedWriteableRegistry namedWriteableRegistry,
        RestController restController,
        ClusterSettings clusterSettings,
        IndexScopedSettings indexScopedSettings,
        SettingsFilter settingsFilter,
        IndexNameExpressionResolver indexNameExpressionResolver,
        Supplier<DiscoveryNodes> nodesInCluster,
        Predicate<NodeFeature> clusterSupportsFeature
    ) {
        return List.of(new RootHandler());
    }

    private final class RootHandler extends BaseRestHandler {

        @Override
        public String getName() {
            return "holter_rest_root_action";
        }

        @Override
        public List<Route> routes() {
            return List.of(new Route(RestRequest.Method.GET, "/"), new Route(RestRequest.Method.HEAD, "/"));
        }

        @Override
        protected RestChannelConsumer prepareRequest(RestRequest request, NodeClient client) {
            if (request.method() == RestRequest.Method.HEAD) {
                return channel -> channel.sendResponse(new RestResponse(RestStatus.OK, RestResponse.TEXT_CONTENT_TYPE, BytesArray.EMPTY));
            }
            return channel -> {
                XContentBuilder builder = channel.newBuilder();
                writeRootInfo(builder, clusterService.state());
                channel.sendResponse(new RestResponse(RestStatus.OK, builder));
            };
        }
    }

    private static void writeRootInfo(XContentBuilder builder, ClusterState state) throws java.io.IOException {
        Build build = Build.current();

        builder.startObject();
        builder.field("name", state.nodes().getLocalNode().getName());
        builder.field("cluster_name", state.getClusterName().value());
        builder.field("cluster_uuid", state.metadata().clusterUUID());
        builder.startObject("version");
        builder.field("number", build.qualifiedVersion());
        builder.field("build_flavor", build.flavor());
        builder.field("build_type", build.type().displayName());
        builder.field("build_hash", build.hash());
        builder.field("build_date", build.date());
        builder.field("build_snapshot", build.isSnapshot());
        builder.field("lucene_version", org.apache.lucene.util.Version.LATEST.toString());
        builder.field("minimum_wire_compatibility_version", build.minWireCompatVersion());
        builder.field("minimum_index_compatibility_version", build.minIndexCompatVersion());
        builder.endObject();
        builder.field("tagline", "You Know, for Search");
        builder.endObject();
    }
}
