package moge.train;

import com.fasterxml.jackson.databind.JsonNode;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.CombinedDomainXYPlot;
import org.jfree.chart.plot.ValueMarker;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.chart.ui.RectangleAnchor;
import org.jfree.chart.ui.TextAnchor;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * A PNG of a training run from its log records: the loss with the stage boundaries marked, and for MoE
 * models the share of routed tokens per expert group (flat at 1/groups under MoGE, by construction) and per
 * expert (what the auxiliary loss balances), averaged over layers.
 */
public final class TrainingPlot {
    private TrainingPlot() {
    }

    public static void write(Path png, List<JsonNode> records, String title) throws IOException {
        System.setProperty("java.awt.headless", "true");
        NumberAxis stepAxis = new NumberAxis("step");
        CombinedDomainXYPlot plot = new CombinedDomainXYPlot(stepAxis);
        XYSeries loss = new XYSeries("cross-entropy loss");
        for (JsonNode r : records) loss.add(r.path("step").asDouble(), r.path("loss").asDouble());
        XYPlot lossPlot = plot(new XYSeriesCollection(loss), "loss");
        String stage = null;
        for (JsonNode r : records) {
            String s = r.path("stage").asText();
            if (!s.equals(stage)) {
                ValueMarker m = new ValueMarker(r.path("step").asDouble() - r.path("interval").asDouble(0));
                m.setPaint(Color.GRAY);
                m.setLabel(s);
                m.setLabelAnchor(RectangleAnchor.TOP_RIGHT);
                m.setLabelTextAnchor(TextAnchor.TOP_LEFT);
                lossPlot.addDomainMarker(m);
                stage = s;
            }
        }
        plot.add(lossPlot, 2);
        JsonNode first = records.isEmpty() ? null : records.getFirst();
        if (first != null && first.path("group_load").isArray()) {
            XYPlot groups = plot(series(records, "group_load", "group "), "group load share");
            // MoGE puts exactly 1/groups of the routed tokens on every group; a fixed axis shows it as a flat line
            groups.getRangeAxis().setRange(0, 1);
            plot.add(groups, 1);
            plot.add(plot(series(records, "expert_load", "expert "), "expert load share"), 1);
        }
        JFreeChart chart = new JFreeChart(title, JFreeChart.DEFAULT_TITLE_FONT, plot, true);
        chart.setBackgroundPaint(Color.WHITE);
        ChartUtils.saveChartAsPNG(png.toFile(), chart, 1000, 800);
    }

    private static XYSeriesCollection series(List<JsonNode> records, String key, String label) {
        XYSeriesCollection c = new XYSeriesCollection();
        int n = records.getFirst().path(key).size();
        for (int i = 0; i < n; i++) {
            XYSeries s = new XYSeries(label + i);
            for (JsonNode r : records) s.add(r.path("step").asDouble(), r.path(key).path(i).asDouble());
            c.addSeries(s);
        }
        return c;
    }

    private static XYPlot plot(XYSeriesCollection data, String yLabel) {
        NumberAxis y = new NumberAxis(yLabel);
        y.setAutoRangeIncludesZero(false);
        XYLineAndShapeRenderer r = new XYLineAndShapeRenderer(true, false);
        for (int i = 0; i < data.getSeriesCount(); i++) r.setSeriesStroke(i, new BasicStroke(1.2f));
        XYPlot p = new XYPlot(data, null, y, r);
        p.setBackgroundPaint(Color.WHITE);
        p.setDomainGridlinePaint(Color.LIGHT_GRAY);
        p.setRangeGridlinePaint(Color.LIGHT_GRAY);
        return p;
    }
}
