import { useEffect, useRef, useState } from "preact/hooks";
import type { SkynodeClient } from "../client";
import { html } from "./html";
import { drawFits, type ShownImage } from "./image-view";

/** The latest or a past image: fetched by binary direct transfer, decoded and stretched in the page; wheel or
 * buttons zoom, dragging pans; histogram of the stretch, header cards, download link. */
export function ImageViewer({ client, telescope, imageId, latestId, choose }: { client: SkynodeClient | null; telescope: string; imageId: string; latestId: string | null; choose: (id: string) => void }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [info, setInfo] = useState<(ShownImage & { image_id: string }) | null>(null);
  const [state, setState] = useState("");
  const [past, setPast] = useState<{ image_id: string; created_at: string; object?: string }[]>([]);
  const [view, setView] = useState({ zoom: 1, x: 0, y: 0 });
  const drag = useRef<{ x: number; y: number } | null>(null);

  useEffect(() => {
    if (!client || !canvas.current) return;
    let stale = false;
    setState("loading…");
    client
      .request(telescope, "image.fetch", imageId === "latest" ? {} : { image_id: imageId }, {
        encoding: "binary",
        onProgress: (p) => !stale && setState(`loading ${Math.round((100 * p.received) / p.total)} %`),
      })
      .then((r) => {
        if (stale) return;
        setInfo({ ...drawFits(canvas.current!, r.bytes), image_id: String(r.metadata.image_id) });
        setView({ zoom: 1, x: 0, y: 0 });
        setState("");
      })
      .catch((err) => !stale && setState(err.code === "not_found" ? "no image yet" : err.message));
    client
      .request(telescope, "image.list", { limit: 30 }, { encoding: "binary" })
      .then((r) => !stale && setPast(JSON.parse(new TextDecoder().decode(r.bytes)).images))
      .catch(() => {});
    return () => void (stale = true);
    // Showing "latest": a new image (the camera snapshot's last_image_id) is fetched as it is taken.
  }, [client, imageId, telescope, imageId === "latest" ? latestId : null]);

  const zoomBy = (f: number) => setView((v) => ({ ...v, zoom: Math.min(16, Math.max(1, v.zoom * f)) }));
  const max = info ? Math.max(...info.histogram.slice(1, 255), 1) : 1;
  return html`<section class="image">
    <h2>Image ${info ? html`<span class="muted">${info.image_id}</span>` : ""}</h2>
    <div class="row">
      <select aria-label="image" onChange=${(e: Event) => choose((e.target as HTMLSelectElement).value)}>
        <option value="latest">latest</option>
        ${past.map((p) => html`<option value=${p.image_id} selected=${p.image_id === imageId}>${p.created_at.slice(5, 19).replace("T", " ")} ${p.object ?? ""}</option>`)}
      </select>
      <button onClick=${() => zoomBy(1.5)} aria-label="zoom in">+</button><button onClick=${() => zoomBy(1 / 1.5)} aria-label="zoom out">−</button>
      ${info && html`<a href=${`/v1/images/${info.image_id}.fits`} download>Download FITS</a>`}
      <span class="muted">${state}</span>
    </div>
    <div class="frame"
      onWheel=${(e: WheelEvent) => (e.preventDefault(), zoomBy(e.deltaY < 0 ? 1.25 : 0.8))}
      onPointerDown=${(e: PointerEvent) => (drag.current = { x: e.clientX, y: e.clientY })}
      onPointerMove=${(e: PointerEvent) => {
        if (!drag.current) return;
        const d = { x: e.clientX - drag.current.x, y: e.clientY - drag.current.y };
        drag.current = { x: e.clientX, y: e.clientY };
        setView((v) => ({ ...v, x: v.x + d.x, y: v.y + d.y }));
      }}
      onPointerUp=${() => (drag.current = null)} onPointerLeave=${() => (drag.current = null)}>
      <canvas ref=${canvas} data-test="image" width="1" height="1" style=${`transform: translate(${view.x}px, ${view.y}px) scale(${view.zoom})`}></canvas>
    </div>
    ${info && html`<svg viewBox="0 0 256 40" width="100%" height="40" data-test="histogram">${[...info.histogram].map((n, i) => html`<rect x=${i} width="1" y=${40 - Math.min(40, (40 * n) / max)} height=${Math.min(40, (40 * n) / max)} fill="currentColor" />`)}</svg>
      <details><summary>Header (${info.cards.length} cards)</summary><dl>${info.cards.map(([k, v]) => html`<dt>${k}</dt><dd>${String(v)}</dd>`)}</dl></details>`}
  </section>`;
}
