package moge.cli;

import moge.MogeException;
import moge.thinking.ThinkingEval;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.labels.ItemLabelAnchor;
import org.jfree.chart.labels.ItemLabelPosition;
import org.jfree.chart.labels.StandardXYItemLabelGenerator;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.chart.ui.TextAnchor;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

import java.awt.Color;
import java.awt.Font;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** PNG of accuracy against mean generated tokens, one labelled point per thinking mode (drawn headless). */
final class AccuracyPlot {
    /** One fixed colour per mode (slow, fast, auto, cascade), so plots compare at a glance. */
    private static final Color[] COLORS = {new Color(0xC0392B), new Color(0x2471A3), new Color(0x229954), new Color(0x8E44AD)};

    private AccuracyPlot() {
    }

    static void write(Path file, List<ThinkingEval.ModeResult> results, String title) {
        System.setProperty("java.awt.headless", "true");
        XYSeriesCollection data = new XYSeriesCollection();
        for (ThinkingEval.ModeResult r : results) {
            XYSeries s = new XYSeries(r.mode().label());
            s.add(r.overall().meanTokens(), 100 * r.overall().accuracy());
            data.addSeries(s);
        }
        NumberAxis x = new NumberAxis("mean generated tokens per prompt");
        NumberAxis y = new NumberAxis("accuracy (%)");
        x.setAutoRangeIncludesZero(true);
        // room for the point labels at the right edge
        x.setUpperMargin(0.2);
        y.setRange(0, 105);
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(false, true);
        renderer.setDefaultItemLabelGenerator(new StandardXYItemLabelGenerator("{0}: {2}% at {1}",
                new java.text.DecimalFormat("0"), new java.text.DecimalFormat("0.0")));
        renderer.setDefaultItemLabelsVisible(true);
        double maxTokens = results.stream().mapToDouble(r -> r.overall().meanTokens()).max().orElse(1);
        for (int i = 0; i < results.size(); i++) {
            renderer.setSeriesPaint(i, COLORS[results.get(i).mode().ordinal() % COLORS.length]);
            renderer.setSeriesShape(i, new java.awt.geom.Ellipse2D.Double(-5, -5, 10, 10));
            ThinkingEval.Stats a = results.get(i).overall();
            // a point at the left edge gets its label on its right, where it is not cut off by the axis
            if (a.meanTokens() < 0.15 * maxTokens) {
                renderer.setSeriesPositiveItemLabelPosition(i, new ItemLabelPosition(ItemLabelAnchor.OUTSIDE3, TextAnchor.CENTER_LEFT));
            }
            // a point next to an earlier one gets its label below, so the two labels do not overprint
            for (int j = 0; j < i; j++) {
                ThinkingEval.Stats b = results.get(j).overall();
                if (Math.abs(a.meanTokens() - b.meanTokens()) < 0.25 * maxTokens && Math.abs(a.accuracy() - b.accuracy()) < 0.08) {
                    renderer.setSeriesPositiveItemLabelPosition(i, new ItemLabelPosition(ItemLabelAnchor.OUTSIDE6, TextAnchor.TOP_CENTER));
                }
            }
        }
        renderer.setDefaultItemLabelFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        XYPlot plot = new XYPlot(data, x, y, renderer);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        JFreeChart chart = new JFreeChart(title, JFreeChart.DEFAULT_TITLE_FONT, plot, true);
        chart.setBackgroundPaint(Color.WHITE);
        try {
            ChartUtils.saveChartAsPNG(file.toFile(), chart, 720, 480);
        } catch (IOException e) {
            throw new MogeException(file + ": cannot write the plot: " + e.getMessage(), e);
        }
    }
}
