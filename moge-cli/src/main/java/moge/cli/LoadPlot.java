package moge.cli;

import moge.MogeException;
import moge.moe.LoadStats;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.CombinedDomainXYPlot;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYStepRenderer;
import org.jfree.chart.title.TextTitle;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * A PNG of expert load over time: each device's share of the expert computations of every forward pass
 * (x = tokens processed, so a prompt chunk is as wide as its tokens), MoGE above global top-k, and the
 * imbalance score of each pass for both routers below.
 */
final class LoadPlot {
    private LoadPlot() {
    }

    static void write(Path file, String title, LoadStats.Snapshot moge, LoadStats.Snapshot topk) {
        System.setProperty("java.awt.headless", "true");
        NumberAxis x = new NumberAxis("tokens processed");
        CombinedDomainXYPlot plot = new CombinedDomainXYPlot(x);
        plot.setGap(12);
        plot.add(sharePlot("MoGE: share per device (%)", moge, true), 3);
        plot.add(sharePlot("top-k: share per device (%)", topk, false), 3);
        XYSeriesCollection is = new XYSeriesCollection();
        is.addSeries(isSeries("MoGE", moge));
        is.addSeries(isSeries("top-k", topk));
        XYStepRenderer r = new XYStepRenderer();
        r.setSeriesPaint(0, Color.BLACK);
        r.setSeriesPaint(1, new Color(0xd62728));
        r.setSeriesStroke(0, new BasicStroke(2f));
        XYPlot isPlot = new XYPlot(is, null, new NumberAxis("IS per pass (mean over layers)"), r);
        plot.add(isPlot, 2);
        JFreeChart chart = new JFreeChart(title, new Font(Font.SANS_SERIF, Font.BOLD, 15), plot, true);
        chart.addSubtitle(new TextTitle("IS = (max_i T_i - min_i T_i) / tokens, T_i = expert computations on device i;"
                + " under MoGE every device holds exactly 1/N, so its lines coincide"));
        chart.setBackgroundPaint(Color.WHITE);
        try {
            ChartUtils.saveChartAsPNG(file.toFile(), chart, 1200, 900);
        } catch (IOException e) {
            throw new MogeException(file + ": cannot write the plot (" + e.getMessage() + ")");
        }
    }

    private static final Color[] PALETTE = {new Color(0x1f77b4), new Color(0xff7f0e), new Color(0x2ca02c), new Color(0x9467bd),
            new Color(0x8c564b), new Color(0xe377c2), new Color(0x7f7f7f), new Color(0xbcbd22), new Color(0x17becf), new Color(0xd62728)};

    private static XYPlot sharePlot(String label, LoadStats.Snapshot s, boolean legend) {
        XYSeriesCollection data = new XYSeriesCollection();
        int devices = s.devices();
        List<LoadStats.Batch> h = s.history();
        for (int d = 0; d < devices; d++) {
            XYSeries ser = new XYSeries("device " + d, false, true);
            long tokens = 0;
            for (LoadStats.Batch b : h) {
                long total = 0;
                for (long v : b.deviceLoad()) total += v;
                ser.add(tokens, total == 0 ? 0 : 100.0 * b.deviceLoad()[d] / total);
                tokens += b.tokens();
            }
            if (!h.isEmpty()) ser.add(tokens, ser.getY(ser.getItemCount() - 1));
            data.addSeries(ser);
        }
        XYStepRenderer r = new XYStepRenderer();
        for (int d = 0; d < devices; d++) {
            r.setSeriesStroke(d, new BasicStroke(1.2f));
            r.setSeriesPaint(d, PALETTE[d % PALETTE.length]);
            r.setSeriesVisibleInLegend(d, legend);
        }
        NumberAxis y = new NumberAxis(label);
        y.setAutoRangeIncludesZero(true);
        XYPlot p = new XYPlot(data, null, y, r);
        p.setBackgroundPaint(Color.WHITE);
        p.setRangeGridlinePaint(Color.LIGHT_GRAY);
        return p;
    }

    private static XYSeries isSeries(String name, LoadStats.Snapshot s) {
        XYSeries ser = new XYSeries(name, false, true);
        long tokens = 0;
        for (LoadStats.Batch b : s.history()) {
            ser.add(tokens, b.isMean());
            tokens += b.tokens();
        }
        return ser;
    }
}
