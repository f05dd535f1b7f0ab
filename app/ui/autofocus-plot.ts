import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { html } from "./html";

export type FocusPoint = { position_um: number; hfr_px: number };

/** The V-curve as it fills: half-flux radius against focuser position, one point per sample (uPlot). */
export function AutofocusPlot({ points }: { points: FocusPoint[] }) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    if (!host.current) return;
    plot.current = new uPlot(
      {
        width: Math.max(260, host.current.clientWidth),
        height: 180,
        scales: { x: { time: false } },
        axes: [{ label: "focuser µm", stroke: "#8b949e" }, { label: "HFR px", stroke: "#8b949e" }],
        series: [{}, { label: "HFR", stroke: "#58a6ff", width: 0, points: { show: true, size: 7, fill: "#58a6ff" }, paths: () => null }],
        legend: { show: false },
      },
      [[], []],
      host.current,
    );
    return () => plot.current?.destroy();
  }, []);
  useEffect(() => {
    const sorted = [...points].sort((a, b) => a.position_um - b.position_um);
    plot.current?.setData([sorted.map((p) => p.position_um), sorted.map((p) => p.hfr_px)]);
  }, [points]);
  return html`<div ref=${host} data-test="vcurve" data-points=${points.length}></div>`;
}
