import { useState } from "preact/hooks";
import { AutofocusPlot, type FocusPoint } from "./autofocus-plot";
import { html, type Snap } from "./html";

type Run = (label: string, command: Record<string, unknown>) => Promise<{ status: string; data?: Record<string, unknown> } | null>;
export interface ControlProps {
  run: Run;
  can: boolean;
  why: string;
  busy: boolean;
}

const deg = (v: unknown, digits = 3) => (typeof v === "number" ? `${v.toFixed(digits)}°` : "—");
const hms = (degrees: unknown) => {
  if (typeof degrees !== "number") return "—";
  const h = (((degrees / 15) % 24) + 24) % 24;
  return `${Math.floor(h)}h ${Math.floor((h * 60) % 60)}m ${((h * 3600) % 60).toFixed(1)}s`;
};
const submitted = (e: Event) => (e.preventDefault(), new FormData(e.target as HTMLFormElement));
const Why = ({ can, why }: { can: boolean; why: string }) => (can ? null : html`<p class="why">${why}</p>`);

/** "M31", "Vega", "Mars" (the catalog, searched as you type) or "RA,Dec" in degrees. */
function targetOf(text: string) {
  const m = /^\s*([\d.]+)\s*[, ]\s*([-+]?[\d.]+)\s*$/.exec(text);
  return m ? { type: "equatorial", ra_deg: Number(m[1]), dec_deg: Number(m[2]) } : { type: "named", name: text.trim() };
}

export function PointingPanel({ tel, mount, run, can, why, busy }: ControlProps & { tel: Snap; mount: Snap }) {
  const [matches, setMatches] = useState<{ name: string; kind: string }[]>([]);
  const p = (tel.pointing ?? {}) as Snap;
  const search = async (q: string) => {
    if (!q.trim()) return setMatches([]);
    const res = await fetch(`/v1/catalog?q=${encodeURIComponent(q)}&limit=8`);
    if (res.ok) setMatches((await res.json()).matches);
  };
  const go = (kind: "mount.track" | "mount.point") => (e: Event) => {
    const form = (e.target as HTMLElement).closest("form")!;
    const text = String(new FormData(form).get("target") ?? "");
    if (text.trim()) run(kind === "mount.track" ? "track" : "slew", { command_type: kind, target: targetOf(text) }).catch(console.error);
  };
  return html`<section>
    <h2>Pointing</h2>
    <dl data-test="pointing">
      <dt>RA / Dec</dt><dd>${hms(p.ra_deg)} / ${deg(p.dec_deg)}</dd>
      <dt>Alt / Az</dt><dd>${deg(p.alt_deg, 2)} / ${deg(p.az_deg, 2)}</dd>
      <dt>Pier side</dt><dd>${tel.pier_side ?? "—"}</dd>
      <dt>Mount</dt><dd data-test="mount-state">${mount.state ?? "—"}${mount.target?.name ? ` · ${mount.target.name}` : ""}</dd>
      <dt>Safe</dt><dd class=${tel.safe ? "ok" : "bad"}>${tel.safe === undefined ? "—" : tel.safe ? "safe" : "unsafe"}</dd>
    </dl>
    <form class="row" onSubmit=${(e: Event) => (e.preventDefault(), go("mount.track")(e))}>
      <input name="target" placeholder="M31, Vega, Mars or RA,Dec°" disabled=${!can} list="targets" autocomplete="off" onInput=${(e: Event) => void search((e.target as HTMLInputElement).value).catch(() => setMatches([]))} />
      <datalist id="targets">${matches.map((m) => html`<option value=${m.name}>${m.kind.replace("_", " ")}</option>`)}</datalist>
      <button class="primary" type="submit" disabled=${!can || busy}>Track</button>
      <button type="button" disabled=${!can || busy} onClick=${go("mount.point")}>Slew</button>
    </form>
    <${Why} can=${can} why=${why} />
  </section>`;
}

export function CameraPanel({ camera, filters, now, run, can, why, busy, onImage }: ControlProps & { camera: Snap; filters: { id: string }[]; now: number; onImage: (id: string) => void }) {
  const exposure = camera.exposure as { started_at: string; duration_s: number } | null | undefined;
  const progress = exposure ? Math.min(1, (now - Date.parse(exposure.started_at)) / 1000 / Math.max(exposure.duration_s, 0.001)) : 0;
  return html`<section>
    <h2>Camera</h2>
    <form class="row" onSubmit=${async (e: Event) => {
      const f = submitted(e);
      const filter = String(f.get("filter") ?? "");
      const r = await run("expose", { command_type: "camera.exposure.start", duration_s: Number(f.get("duration")), binning: Number(f.get("binning")), ...(filter ? { filter_id: filter } : {}) });
      if (r?.status === "ok" && r.data?.image_id) onImage(String(r.data.image_id));
    }}>
      <input name="duration" type="number" min="0.001" step="any" value="1" disabled=${!can} aria-label="exposure seconds" />
      <select name="binning" disabled=${!can} aria-label="binning">${((camera.binnings as number[]) ?? [1, 2]).map((b) => html`<option value=${b}>${b}×${b}</option>`)}</select>
      <select name="filter" disabled=${!can} aria-label="filter"><option value="">current filter</option>${filters.map((f) => html`<option value=${f.id}>${f.id}</option>`)}</select>
      <button class="primary" type="submit" disabled=${!can || busy}>Expose</button>
    </form>
    <progress value=${progress} max="1" data-test="exposure-progress"></progress>
    <p class="muted">${camera.state ?? "—"}${camera.temperature_c !== undefined ? ` · ${camera.temperature_c} °C` : ""}</p>
    <${Why} can=${can} why=${why} />
  </section>`;
}

export function FocusPanel({ devices, filters, logs, run, can, why, busy }: ControlProps & { devices: Record<string, Snap>; filters: { id: string }[]; logs: Snap[] }) {
  const [result, setResult] = useState("");
  const fw = devices.filter_wheel ?? {};
  const fo = devices.focuser ?? {};
  const ro = devices.rotator ?? {};
  // The samples of the latest autofocus run (in progress or finished), as the SkyNode logs them.
  const latest = logs.findLast((l) => l.autofocus_sample)?.command_id;
  const points: FocusPoint[] = logs.filter((l) => l.autofocus_sample && l.command_id === latest).map((l) => l.autofocus_sample);
  return html`<section>
    <h2>Filter · focus · rotator</h2>
    <form class="row" onSubmit=${(e: Event) => run("filter", { command_type: "filter_wheel.set_option", filter_wheel_position_id: String(submitted(e).get("filter")) }).catch(console.error)}>
      <select name="filter" disabled=${!can} aria-label="filter wheel">${filters.map((f) => html`<option value=${f.id} selected=${fw.filter_id === f.id}>${f.id}</option>`)}</select>
      <button type="submit" disabled=${!can || busy}>Set filter</button><span class="muted">${fw.filter_id ?? "—"} (${fw.state ?? "—"})</span>
    </form>
    <form class="row" onSubmit=${(e: Event) => run("focus", { command_type: "focuser.move_absolute", position_um: Number(submitted(e).get("position")) }).catch(console.error)}>
      <input name="position" type="number" step="any" disabled=${!can} aria-label="focuser position" placeholder=${String(fo.position_um ?? "µm")} />
      <button type="submit" disabled=${!can || busy}>Focus</button>
      <button type="button" disabled=${!can || busy} onClick=${() => run("focus −", { command_type: "focuser.move_relative", delta_um: -50 })}>−50</button>
      <button type="button" disabled=${!can || busy} onClick=${() => run("focus +", { command_type: "focuser.move_relative", delta_um: 50 })}>+50</button>
      <span class="muted" data-test="focuser">${fo.position_um ?? "—"} µm</span>
    </form>
    <form class="row" onSubmit=${(e: Event) => run("rotate", { command_type: "rotator.move_absolute", angle_deg: Number(submitted(e).get("angle")) }).catch(console.error)}>
      <input name="angle" type="number" step="any" disabled=${!can} aria-label="rotator angle" placeholder=${String(ro.angle_deg ?? "°")} />
      <button type="submit" disabled=${!can || busy}>Rotate</button><span class="muted">${ro.angle_deg ?? "—"}°</span>
    </form>
    <form class="row" onSubmit=${async (e: Event) => {
      const f = submitted(e);
      setResult("");
      const r = await run("autofocus", { command_type: "imager.autofocus", filter_id: String(f.get("filter")), strategy: String(f.get("strategy")) });
      if (r?.status === "ok") setResult(`best focus ${r.data?.best_position_um} µm, now at ${r.data?.final_position_um} µm`);
    }}>
      <select name="filter" disabled=${!can} aria-label="autofocus filter">${filters.map((f) => html`<option value=${f.id}>${f.id}</option>`)}</select>
      <select name="strategy" disabled=${!can} aria-label="strategy"><option value="vcurve">V-curve</option><option value="parabolic">parabola</option></select>
      <button class="primary" type="submit" disabled=${!can || busy}>Autofocus</button>
    </form>
    <${AutofocusPlot} points=${points} />
    <p class="muted" data-test="autofocus-result">${result}</p>
    <${Why} can=${can} why=${why} />
  </section>`;
}
