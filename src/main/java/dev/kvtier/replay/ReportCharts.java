package dev.kvtier.replay;

import dev.kvtier.LatencySnapshot;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Paint;
import java.awt.geom.Ellipse2D;
import java.awt.geom.Rectangle2D;
import java.text.DecimalFormat;
import java.text.DecimalFormatSymbols;
import java.text.FieldPosition;
import java.text.NumberFormat;
import java.text.ParsePosition;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.AxisLocation;
import org.jfree.chart.axis.CategoryAxis;
import org.jfree.chart.axis.CategoryLabelPositions;
import org.jfree.chart.axis.LogarithmicAxis;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.block.BlockBorder;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.CombinedDomainCategoryPlot;
import org.jfree.chart.plot.Plot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.category.LineAndShapeRenderer;
import org.jfree.chart.renderer.category.StackedBarRenderer;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.chart.text.TextUtils;
import org.jfree.chart.title.LegendTitle;
import org.jfree.chart.title.TextTitle;
import org.jfree.chart.ui.RectangleEdge;
import org.jfree.chart.ui.RectangleInsets;
import org.jfree.data.Range;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;
import org.jfree.svg.SVGGraphics2D;
import org.jfree.svg.ViewBox;

/**
 * The replay report's charts: built with JFreeChart, drawn by JFreeSVG into an {@code <svg>}
 * element to inline in the page. Each chart gets its own id prefix for its SVG defs (clip
 * paths), so that several charts can share one HTML document.
 */
final class ReportCharts {
    static final String REFERENCE_LABEL = "Mooncake FAST'25 Fig. 9 (conversation)";
    static final String[] TIERS = {"DRAM", "SSD", "REMOTE"};
    /** Load-latency percentiles plotted, and their axis labels. */
    static final double[] PERCENTILES = {50, 75, 90, 95, 99, 99.9};
    static final String[] PERCENTILE_LABELS = {"p50", "p75", "p90", "p95", "p99", "p99.9"};
    /** Runs beyond which the latency chart shows only representative runs. */
    static final int MAX_LATENCY_SERIES = 10;

    static final int WIDTH = 960;
    static final int HEIGHT = 500;

    private static final Color[] PALETTE = {new Color(0x4e79a7), new Color(0xf28e2b), new Color(0xe15759),
            new Color(0x76b7b2), new Color(0x59a14f), new Color(0xedc948), new Color(0xb07aa1), new Color(0xff9da7),
            new Color(0x9c755f), new Color(0x6b6b6b)};
    private static final Color[] TIER_COLORS = {new Color(0x4e79a7), new Color(0xf28e2b), new Color(0x59a14f)};
    private static final Color GRID = new Color(0xdddddd);
    private static final Color LIGHT_GRID = new Color(0xececec);
    private static final Color REFERENCE_COLOR = new Color(0x333333);
    private static final Font TITLE_FONT = new Font(Font.SANS_SERIF, Font.BOLD, 16);
    private static final Font SUBTITLE_FONT = new Font(Font.SANS_SERIF, Font.PLAIN, 12);
    private static final Font LABEL_FONT = new Font(Font.SANS_SERIF, Font.PLAIN, 12);
    private static final Font TICK_FONT = new Font(Font.SANS_SERIF, Font.PLAIN, 11);

    private ReportCharts() {
    }

    /** One point of a published curve: capacity in blocks, hit rate (0..1). */
    record Point(double blocks, double hitRate) {
    }

    /** A chart as an inline {@code <svg>} element, and whether it is wider than the page. */
    record Svg(String element, int width) {
        boolean wide() {
            return width > 1100;
        }
    }

    // ---------------------------------------------------------------- 1. hit rate vs capacity

    static JFreeChart hitRateVsCapacity(List<ReplayResult> results, int blockTokens, List<Point> reference) {
        Map<String, XYSeries> byPolicy = new LinkedHashMap<>();
        double lo = Double.MAX_VALUE;
        double hi = 0;
        double top = 0;
        for (ReplayResult r : results) {
            double x = ReplayReport.totalCapacity(r);
            byPolicy.computeIfAbsent(r.policy(), p -> new XYSeries(p, true, true)).add(x, r.hitRate());
            lo = Math.min(lo, x);
            hi = Math.max(hi, x);
            top = Math.max(top, r.hitRate());
        }
        XYSeriesCollection data = new XYSeriesCollection();
        byPolicy.values().forEach(data::addSeries);
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, true);
        int i = 0;
        for (; i < data.getSeriesCount(); i++) {
            renderer.setSeriesPaint(i, PALETTE[i % PALETTE.length]);
            renderer.setSeriesStroke(i, new BasicStroke(2f));
            renderer.setSeriesShape(i, new Ellipse2D.Double(-4, -4, 8, 8));
        }
        if (reference != null && !reference.isEmpty()) {
            XYSeries ref = new XYSeries(REFERENCE_LABEL, true, true);
            for (Point p : reference) {
                ref.add(p.blocks(), p.hitRate());
                lo = Math.min(lo, p.blocks());
                hi = Math.max(hi, p.blocks());
                top = Math.max(top, p.hitRate());
            }
            data.addSeries(ref);
            renderer.setSeriesPaint(i, REFERENCE_COLOR);
            renderer.setSeriesStroke(i, new BasicStroke(1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f,
                    new float[] {6f, 4f}, 0f));
            renderer.setSeriesShape(i, new Rectangle2D.Double(-2.5, -2.5, 5, 5));
        }
        if (lo == hi) {
            lo /= 2;
            hi *= 2;
        } else {
            lo /= 1.5;
            hi *= 1.5;
        }
        LogarithmicAxis blocks = logAxis("Capacity, DRAM + SSD + REMOTE (blocks)");
        blocks.setRange(new Range(lo, hi));
        LogarithmicAxis tokens = logAxis("Capacity (tokens = blocks × " + blockTokens + ")");
        tokens.setRange(new Range(lo * blockTokens, hi * blockTokens));
        NumberAxis rate = percentAxis("Hit rate (token-weighted prefix hits)");
        rate.setRange(0, Math.min(1.0, Math.max(0.1, top * 1.15)));

        XYPlot plot = new XYPlot(data, blocks, rate, renderer);
        plot.setDomainAxis(1, tokens);
        plot.setDomainAxisLocation(1, AxisLocation.TOP_OR_LEFT);
        styleXY(plot);
        return chart("Hit rate against capacity, per policy",
                "Each point is one run; x is log-scale" + (reference != null && !reference.isEmpty()
                        ? "; dashed: published reference curve" : ""), plot, true);
    }

    // ---------------------------------------------------------------- 2. hits by tier

    static JFreeChart hitsByTier(List<ReplayResult> results, List<String> labels, boolean[] tiersShown) {
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        for (int t = 0; t < TIERS.length; t++) {
            if (!tiersShown[t]) {
                continue;
            }
            for (int k = 0; k < results.size(); k++) {
                data.addValue(results.get(k).hitRate(t), TIERS[t], labels.get(k));
            }
        }
        StackedBarRenderer renderer = new StackedBarRenderer();
        tierColors(renderer, data, tiersShown);
        NumberAxis rate = percentAxis("Hit rate (share of input tokens)");
        double top = results.stream().mapToDouble(ReplayResult::hitRate).max().orElse(0);
        rate.setRange(0, Math.min(1.0, Math.max(0.1, top * 1.15)));
        CategoryPlot plot = new CategoryPlot(data, categoryAxis("Run", results.size()), rate, renderer);
        styleCategory(plot);
        return chart("Hits by tier", "Where each run's prefix hits were loaded from (stacked: total = hit rate)",
                plot, true);
    }

    // ---------------------------------------------------------------- 3. writes

    static JFreeChart writes(List<ReplayResult> results, List<String> labels, boolean[] tiersShown) {
        long maxBytes = 0;
        for (ReplayResult r : results) {
            for (int t = 1; t < TIERS.length; t++) {
                maxBytes = Math.max(maxBytes, ReplayReport.at(r.bytesWritten(), t));
            }
        }
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
        int u = 0;
        double scale = 1;
        while (u < units.length - 1 && maxBytes / scale >= 1024 * 10) {
            scale *= 1024;
            u++;
        }
        DefaultCategoryDataset bytes = new DefaultCategoryDataset();
        DefaultCategoryDataset blocks = new DefaultCategoryDataset();
        boolean[] shown = {false, tiersShown[1], tiersShown[2]};
        boolean any = false;
        for (int t = 1; t < TIERS.length; t++) {
            if (!shown[t]) {
                continue;
            }
            any = true;
            for (int k = 0; k < results.size(); k++) {
                ReplayResult r = results.get(k);
                bytes.addValue(ReplayReport.at(r.bytesWritten(), t) / scale, TIERS[t], labels.get(k));
                blocks.addValue(ReplayReport.at(r.blocksWritten(), t), TIERS[t], labels.get(k));
            }
        }
        CombinedDomainCategoryPlot plot = new CombinedDomainCategoryPlot(categoryAxis("Run", results.size()));
        plot.setGap(14);
        BarRenderer bytesRenderer = new BarRenderer();
        tierColors(bytesRenderer, bytes, shown);
        NumberAxis bytesAxis = new NumberAxis("Bytes written (" + units[u] + ")");
        bytesAxis.setNumberFormatOverride(compact());
        bytesAxis.setStandardTickUnits(NumberAxis.createIntegerTickUnits()); // the unit keeps values >= 10
        CategoryPlot top = new CategoryPlot(bytes, null, bytesAxis, bytesRenderer);
        BarRenderer blocksRenderer = new BarRenderer();
        tierColors(blocksRenderer, blocks, shown);
        blocksRenderer.setDefaultSeriesVisibleInLegend(false); // the top plot's legend covers both
        NumberAxis blocksAxis = new NumberAxis("Blocks written");
        blocksAxis.setNumberFormatOverride(compact());
        blocksAxis.setStandardTickUnits(NumberAxis.createIntegerTickUnits());
        CategoryPlot bottom = new CategoryPlot(blocks, null, blocksAxis, blocksRenderer);
        for (CategoryPlot p : List.of(top, bottom)) {
            styleCategory(p);
            p.setNoDataMessage("No run has a tier below DRAM: nothing was written");
            p.setNoDataMessageFont(LABEL_FONT);
            plot.add(p, 1);
        }
        styleCategory(plot);
        return chart("Writes below DRAM", any ? "Encoded bytes (top) and blocks (bottom) written to SSD and REMOTE per run"
                : "No run has a tier below DRAM: nothing was written", plot, any);
    }

    // ---------------------------------------------------------------- 4. load latency

    /** The runs whose latency is plotted: all with load calls, or a few representative ones. */
    static List<Integer> latencyRuns(List<ReplayResult> results) {
        List<Integer> withData = new ArrayList<>();
        for (int k = 0; k < results.size(); k++) {
            LatencySnapshot h = results.get(k).loadLatency();
            if (h != null && h.count() > 0) {
                withData.add(k);
            }
        }
        if (withData.size() <= MAX_LATENCY_SERIES) {
            return withData;
        }
        // Per policy, its smallest and largest cache.
        Map<String, int[]> extremes = new LinkedHashMap<>();
        for (int k : withData) {
            ReplayResult r = results.get(k);
            int[] e = extremes.computeIfAbsent(r.policy(), p -> new int[] {k, k});
            if (ReplayReport.totalCapacity(r) < ReplayReport.totalCapacity(results.get(e[0]))) {
                e[0] = k;
            }
            if (ReplayReport.totalCapacity(r) > ReplayReport.totalCapacity(results.get(e[1]))) {
                e[1] = k;
            }
        }
        List<Integer> chosen = new ArrayList<>();
        for (int[] e : extremes.values()) {
            for (int k : e) {
                if (!chosen.contains(k) && chosen.size() < MAX_LATENCY_SERIES) {
                    chosen.add(k);
                }
            }
        }
        chosen.sort(null);
        return chosen;
    }

    static JFreeChart latency(List<ReplayResult> results, List<String> labels, List<Integer> shown, int empty) {
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        double lo = Double.MAX_VALUE;
        double hi = 0;
        for (int k : shown) {
            LatencySnapshot h = results.get(k).loadLatency();
            for (int p = 0; p < PERCENTILES.length; p++) {
                double micros = Math.max(1, h.percentileNanos(PERCENTILES[p])) / 1000.0;
                data.addValue(micros, labels.get(k), PERCENTILE_LABELS[p]);
                lo = Math.min(lo, micros);
                hi = Math.max(hi, micros);
            }
        }
        LineAndShapeRenderer renderer = new LineAndShapeRenderer(true, true);
        for (int s = 0; s < shown.size(); s++) {
            renderer.setSeriesPaint(s, PALETTE[s % PALETTE.length]);
            renderer.setSeriesStroke(s, new BasicStroke(2f));
            renderer.setSeriesShape(s, new Ellipse2D.Double(-3.5, -3.5, 7, 7));
        }
        LogarithmicAxis micros = logAxis("Load latency per load call (µs)");
        if (hi > 0) {
            micros.setRange(lo == hi ? new Range(lo / 2, hi * 2) : new Range(lo / 1.5, hi * 1.5));
        } else {
            micros.setRange(new Range(1, 1000));
        }
        CategoryAxis percentiles = new CategoryAxis("Percentile");
        CategoryPlot plot = new CategoryPlot(data, percentiles, micros, renderer);
        plot.setNoDataMessage("No run recorded a load call");
        plot.setNoDataMessageFont(LABEL_FONT);
        styleCategory(plot);
        String sub;
        if (shown.isEmpty()) {
            sub = "No run recorded a load call";
        } else {
            int with = results.size() - empty;
            sub = (shown.size() < with ? "Representative runs (" + shown.size() + " of " + with
                    + " with load calls: smallest and largest cache per policy)" : "Every run with load calls")
                    + (empty > 0 ? "; " + empty + " run(s) without load calls left out" : "")
                    + "; y is log-scale";
        }
        return chart("Load latency percentiles", sub, plot, !shown.isEmpty());
    }

    // ---------------------------------------------------------------- rendering

    /**
     * Draws {@code chart} as an {@code <svg>} element with id {@code id}, whose defs ids (clip
     * paths) start with {@code id} too. Coordinates are rounded to 0.01 px. The element's
     * namespace declarations are dropped: the HTML parser puts an inline {@code <svg>} in the SVG
     * namespace by itself, and the page then names no URL at all.
     */
    static Svg svg(JFreeChart chart, String id, int width, int height) {
        SVGGraphics2D g2 = new SVGGraphics2D(width, height);
        g2.setDefsKeyPrefix(id + "-");
        g2.setGeomDoubleConverter(ReportCharts::round2);
        g2.setTransformDoubleConverter(ReportCharts::round4);
        synchronized (ReportCharts.class) {
            // JFreeChart draws rotated text (vertical axis labels, slanted category labels) through
            // TextLayout by default, which JFreeSVG can only emit as glyph outlines: ~20 kB of
            // path per label. Drawn with drawString under a rotation it stays <text>.
            boolean workaround = TextUtils.isUseDrawRotatedStringWorkaround();
            TextUtils.setUseDrawRotatedStringWorkaround(false);
            try {
                chart.draw(g2, new Rectangle2D.Double(0, 0, width, height));
            } finally {
                TextUtils.setUseDrawRotatedStringWorkaround(workaround);
            }
        }
        String element = g2.getSVGElement(id, true, new ViewBox(0, 0, width, height), null, null);
        int open = element.indexOf('>');
        String tag = element.substring(0, open).replaceAll("\\s+xmlns(:\\w+)?=(['\"])[^'\"]*\\2", "");
        return new Svg(tag + element.substring(open), width);
    }

    private static String round2(double v) {
        return trim(Math.round(v * 100) / 100.0);
    }

    private static String round4(double v) {
        return trim(Math.round(v * 10_000) / 10_000.0);
    }

    private static String trim(double v) {
        if (v == Math.rint(v) && Math.abs(v) < 1e15) {
            return Long.toString((long) v);
        }
        return Double.toString(v);
    }

    /** The width a category chart of {@code runs} bars needs. */
    static int widthFor(int runs) {
        return Math.max(WIDTH, 180 + 34 * runs);
    }

    // ---------------------------------------------------------------- styling

    private static JFreeChart chart(String title, String subtitle, Plot plot, boolean legend) {
        JFreeChart chart = new JFreeChart(title, TITLE_FONT, plot, legend);
        chart.setBackgroundPaint(Color.WHITE);
        chart.setPadding(new RectangleInsets(8, 8, 8, 16));
        chart.addSubtitle(new TextTitle(subtitle, SUBTITLE_FONT, Color.DARK_GRAY, RectangleEdge.TOP,
                org.jfree.chart.ui.HorizontalAlignment.CENTER, org.jfree.chart.ui.VerticalAlignment.CENTER,
                new RectangleInsets(2, 0, 6, 0)));
        LegendTitle l = chart.getLegend();
        if (l != null) {
            l.setItemFont(LABEL_FONT);
            l.setFrame(BlockBorder.NONE);
            l.setPosition(RectangleEdge.BOTTOM);
        }
        return chart;
    }

    private static void styleXY(XYPlot plot) {
        plot.setBackgroundPaint(Color.WHITE);
        plot.setOutlinePaint(Color.GRAY);
        plot.setDomainGridlinePaint(LIGHT_GRID); // a log axis has a gridline at every 1..9 × 10^k
        plot.setRangeGridlinePaint(GRID);
        plot.setDomainGridlineStroke(new BasicStroke(1f));
        plot.setRangeGridlineStroke(new BasicStroke(1f));
        plot.setDomainMinorGridlinesVisible(false);
        plot.setOrientation(PlotOrientation.VERTICAL);
        for (int i = 0; i < plot.getDomainAxisCount(); i++) {
            styleAxis(plot.getDomainAxis(i));
        }
        styleAxis(plot.getRangeAxis());
    }

    private static void styleCategory(CategoryPlot plot) {
        plot.setBackgroundPaint(Color.WHITE);
        plot.setOutlinePaint(Color.GRAY);
        plot.setRangeGridlinePaint(GRID);
        plot.setRangeGridlineStroke(new BasicStroke(1f));
        plot.setDomainGridlinesVisible(false);
        if (plot.getDomainAxis() != null) {
            styleAxis(plot.getDomainAxis());
        }
        if (plot.getRangeAxis() != null) {
            styleAxis(plot.getRangeAxis());
        }
        if (plot.getRenderer() instanceof BarRenderer b) {
            b.setBarPainter(new StandardBarPainter());
            b.setShadowVisible(false);
            b.setDrawBarOutline(false);
            b.setMaximumBarWidth(0.08);
            b.setItemMargin(0.02);
        }
    }

    private static void styleAxis(org.jfree.chart.axis.Axis a) {
        a.setLabelFont(LABEL_FONT);
        a.setTickLabelFont(TICK_FONT);
        a.setLabelPaint(Color.DARK_GRAY);
        a.setTickLabelPaint(Color.DARK_GRAY);
        a.setAxisLinePaint(Color.GRAY);
    }

    private static void tierColors(BarRenderer renderer, DefaultCategoryDataset data, boolean[] shown) {
        for (int t = 0; t < TIERS.length; t++) {
            if (shown[t]) {
                int row = data.getRowIndex(TIERS[t]);
                if (row >= 0) {
                    renderer.setSeriesPaint(row, (Paint) TIER_COLORS[t]);
                }
            }
        }
    }

    private static CategoryAxis categoryAxis(String label, int categories) {
        CategoryAxis a = new CategoryAxis(label);
        a.setCategoryMargin(0.15);
        a.setLowerMargin(0.01);
        a.setUpperMargin(0.01);
        a.setMaximumCategoryLabelLines(2);
        if (categories > 6) {
            a.setCategoryLabelPositions(CategoryLabelPositions.UP_45);
        }
        return a;
    }

    /**
     * A log-10 axis. JFreeChart's {@code LogarithmicAxis}, not {@code LogAxis}: the latter's tick
     * labels are attributed strings, which reach SVG only as glyph outlines, not as text.
     */
    private static LogarithmicAxis logAxis(String label) {
        LogarithmicAxis a = new CompactLogAxis(label);
        a.setStrictValuesFlag(false);
        return a;
    }

    /** A log axis whose tick labels read 1k, 10k, 2M rather than 1000, 10000, 2000000. */
    private static final class CompactLogAxis extends LogarithmicAxis {
        private static final long serialVersionUID = 1L;

        CompactLogAxis(String label) {
            super(label);
        }

        @Override
        protected String makeTickLabel(double value, boolean forceFormat) {
            return compact().format(value);
        }

        @Override
        protected String makeTickLabel(double value) {
            return compact().format(value);
        }
    }

    private static NumberAxis percentAxis(String label) {
        NumberAxis a = new NumberAxis(label);
        NumberFormat pct = NumberFormat.getPercentInstance(Locale.ROOT);
        pct.setMaximumFractionDigits(1);
        a.setNumberFormatOverride(pct);
        return a;
    }

    /** 1500 → 1.5k, 2000000 → 2M, 0.25 → 0.25. */
    static NumberFormat compact() {
        return new CompactFormat();
    }

    private static final class CompactFormat extends NumberFormat {
        private static final long serialVersionUID = 1L;
        private final DecimalFormat small = new DecimalFormat("0.###", DecimalFormatSymbols.getInstance(Locale.ROOT));
        private final DecimalFormat big = new DecimalFormat("0.#", DecimalFormatSymbols.getInstance(Locale.ROOT));

        @Override
        public StringBuffer format(double v, StringBuffer to, FieldPosition pos) {
            double a = Math.abs(v);
            String[] suffix = {"", "k", "M", "G", "T", "P"};
            int s = 0;
            while (a >= 1000 && s < suffix.length - 1) {
                a /= 1000;
                v /= 1000;
                s++;
            }
            return to.append(s == 0 ? small.format(v) : big.format(v) + suffix[s]);
        }

        @Override
        public StringBuffer format(long v, StringBuffer to, FieldPosition pos) {
            return format((double) v, to, pos);
        }

        @Override
        public Number parse(String source, ParsePosition pos) {
            return small.parse(source, pos);
        }
    }
}
