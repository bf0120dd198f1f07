package moge.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.MogeException;
import moge.chat.ChatTemplate;
import moge.tokenizer.Tokenizer;
import moge.cluster.Cluster;
import moge.cluster.RemoteDevice;
import moge.cluster.Transport;
import moge.model.KvType;
import moge.model.LoadedModel;
import moge.model.Model;
import moge.model.ModelLoader;
import moge.model.RouterKind;
import moge.moe.Dispatcher;
import moge.moe.LoadReport;
import moge.moe.LoadStats;
import moge.moe.LocalDevices;
import moge.moe.Placement;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;

/**
 * A model ready to run as the command line asked: weights, the forward pass with its routed experts on
 * this machine's thread team, on {@code --devices N} local devices or on {@code --workers}, and the load
 * statistics counted at dispatch. Built by {@link ModelOptions#open}; closing it closes everything.
 * <p>
 * Load is always accounted: over the devices when there are several, otherwise over the expert groups as
 * if each group were its own device (the placement MoGE is designed for).
 */
public final class ModelHandle implements AutoCloseable {
    public final LoadedModel loaded;
    public final Model model;
    /** Null for dense models. */
    public final LoadStats stats;
    /** Null when the routed experts run on the model's own thread team. */
    public final Dispatcher dispatcher;
    private final Cluster cluster;

    private ModelHandle(LoadedModel loaded, Model model, LoadStats stats, Dispatcher dispatcher, Cluster cluster) {
        this.loaded = loaded;
        this.model = model;
        this.stats = stats;
        this.dispatcher = dispatcher;
        this.cluster = cluster;
    }

    static ModelHandle open(ModelOptions o, int loadHistory, int maxBatch) {
        o.checkBasics();
        if (maxBatch < 1) throw new MogeException("batch must be >= 1, got " + maxBatch);
        if (o.devices < 1) throw new MogeException("--devices must be >= 1, got " + o.devices);
        if (o.gpuLayers != null) System.err.println("moge: -ngl " + o.gpuLayers + " ignored: moge runs on the CPU");
        boolean remote = o.workers != null && !o.workers.isEmpty();
        if (remote && o.devices > 1) {
            throw new MogeException("--devices and --workers cannot be combined: the groups no worker serves run on this machine as one device");
        }
        if (!(o.workerTimeout > 0) || o.workerTimeout > 86400) throw new MogeException("--worker-timeout must be in (0, 86400] seconds, got " + o.workerTimeout);
        Transport transport = Transport.parse(o.transport);
        Path p = o.modelPath();
        if (!Files.exists(p)) throw new MogeException(p + ": no such model");
        RouterKind router = o.router == null ? null : RouterKind.parse(o.router);
        boolean round = o.roundActivations();
        KvType kvType = KvType.parse(o.kvType, "--kv-type");
        Function<Tokenizer, ChatTemplate> template = o.chatTemplateOverride();
        LoadedModel lm = ModelLoader.load(p, router, null);
        if (template != null) {
            try {
                lm = lm.withChatTemplate(template.apply(lm.tokenizer));
            } catch (RuntimeException e) {
                lm.close();
                throw e;
            }
        }
        lm.weights.setActivationRounding(round);
        Model m = null;
        Cluster cluster = null;
        boolean installed = false;
        try {
            m = new Model(lm.config, lm.weights, o.threads, maxBatch);
            m.setKvType(kvType);
            if (!lm.config.hasExperts()) {
                if (o.devices > 1 || remote) Placement.split(lm.config, Math.max(2, o.devices)); // throws: no experts to place
                return new ModelHandle(lm, m, null, null, null);
            }
            Dispatcher d = null;
            LoadStats stats;
            if (remote) {
                // the remote groups' pages stay mapped but untouched here, apart from the checksum samples
                cluster = Cluster.connect(o.workers, lm.config, lm.weights, lm.name(), Duration.ofMillis(Math.round(o.workerTimeout * 1000)), transport);
                stats = new LoadStats(cluster.placement(), lm.config.layers(), loadHistory);
                d = cluster.install(m, stats);
                installed = true;
            } else if (o.devices > 1) {
                stats = new LoadStats(Placement.split(lm.config, o.devices), lm.config.layers(), loadHistory);
                d = LocalDevices.install(m, o.devices, stats);
            } else {
                stats = new LoadStats(Placement.perGroup(lm.config), lm.config.layers(), loadHistory);
                m.setRoutingListener(stats);
            }
            return new ModelHandle(lm, m, stats, d, cluster);
        } catch (RuntimeException e) {
            if (cluster != null && !installed) cluster.close();
            if (m != null) m.close();
            lm.close();
            throw e;
        }
    }

    /** "moge" or "topk". */
    public String routerName() {
        return model.config.router() == null ? "none" : model.config.router().name().toLowerCase(Locale.ROOT);
    }

    /** "1 device (...)" or "device 0: groups 0-3; worker 10.0.0.2:7070: groups 4-7". */
    public String placementDescription() {
        if (dispatcher == null) return "1 device (load counted per expert group)";
        StringBuilder sb = new StringBuilder();
        for (var dev : dispatcher.devices()) {
            if (!sb.isEmpty()) sb.append("; ");
            sb.append(dev.name()).append(": groups ").append(Placement.formatGroups(dev.groups()));
        }
        return sb.toString();
    }

    /** Traffic of each worker, empty without --workers. */
    public List<RemoteDevice.Traffic> workerTraffic() {
        return cluster == null ? List.of() : cluster.workers().stream().map(RemoteDevice::traffic).toList();
    }

    /**
     * Adds the load fields (imbalance_score_mean, imbalance_score_max, device_load, ...) to a bench record;
     * a no-op for dense models.
     */
    public ObjectNode addLoadFields(ObjectNode n) {
        if (stats == null) return n;
        LoadReport.addTo(n, stats.snapshot(), routerName());
        n.put("load_unit", dispatcher == null ? "group" : "device");
        return n;
    }

    @Override
    public void close() {
        model.close(); // closes the dispatcher, its device teams and worker channels
        loaded.close();
    }
}
