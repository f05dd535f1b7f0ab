// The web UI (served at /): sign-in and first-boot setup, then the telescope's live dashboard and manual control,
// over the public API only (app/client on /v1/ws/*, REST for the session).
import htm from "htm";
import { h, render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { SkynodeClient, type Frame } from "../client";
import { drawFits, type ShownImage } from "./image-view";
import { session, type Me } from "./session";

const html = htm.bind(h);
type Snap = Record<string, any>;

function App() {
  const [state, setState] = useState<{ view: "loading" | "setup" | "login" | "dash"; me?: Me; telescope?: string | null; error?: string }>({ view: "loading" });
  const load = async () => {
    try {
      const telescope = await session.telescope();
      if ((await session.status()).setup_required) return setState({ view: "setup", telescope });
      const me = await session.me().catch(() => null);
      setState(me ? { view: "dash", me, telescope } : { view: "login", telescope });
    } catch (err) {
      setState({ view: "login", error: (err as Error).message });
    }
  };
  useEffect(() => void load(), []);
  if (state.view === "loading") return html`<p class="boot">Loading…</p>`;
  if (state.view === "setup") return html`<${SignIn} setup=${true} done=${load} />`;
  if (state.view === "login") return html`<${SignIn} setup=${false} done=${load} />`;
  return html`<${Dashboard} me=${state.me!} telescope=${state.telescope ?? "sim-1"} signedOut=${load} />`;
}

function SignIn({ setup, done }: { setup: boolean; done: () => void }) {
  const [error, setError] = useState("");
  const submit = async (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.target as HTMLFormElement);
    try {
      if (setup) await session.setup(String(f.get("code")), String(f.get("name")), String(f.get("password")));
      else await session.login(String(f.get("name")), String(f.get("password")));
      done();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return html`<section class="card">
    <h2>${setup ? "Set up this telescope" : "Sign in"}</h2>
    ${setup && html`<p class="why">No account exists yet. Enter the setup code the appliance printed when it started (also in its data dir, <code>setup-code</code>) and choose the admin's name and password.</p>`}
    <form onSubmit=${submit}>
      ${setup && html`<label>Setup code <input name="code" autocomplete="off" required /></label>`}
      <label>Name <input name="name" autocomplete="username" required /></label>
      <label>Password <input name="password" type="password" autocomplete=${setup ? "new-password" : "current-password"} required minlength=${setup ? 8 : 1} /></label>
      <p class="error" role="alert">${error}</p>
      <button class="primary" type="submit">${setup ? "Create admin and sign in" : "Sign in"}</button>
    </form>
  </section>`;
}

const deg = (v: unknown, digits = 3) => (typeof v === "number" ? `${v.toFixed(digits)}°` : "—");
const hms = (degrees: unknown) => {
  if (typeof degrees !== "number") return "—";
  const h = (((degrees / 15) % 24) + 24) % 24;
  return `${Math.floor(h)}h ${Math.floor((h * 60) % 60)}m ${((h * 3600) % 60).toFixed(1)}s`;
};

function Dashboard({ me, telescope, signedOut }: { me: Me; telescope: string; signedOut: () => void }) {
  const [client, setClient] = useState<SkynodeClient | null>(null);
  const [link, setLink] = useState("connecting");
  const [tel, setTel] = useState<Snap>({});
  const [devices, setDevices] = useState<Record<string, Snap>>({});
  const [status, setStatus] = useState<Snap>({});
  const [logs, setLogs] = useState<Snap[]>([]);
  const [busy, setBusy] = useState<string>("");
  const [message, setMessage] = useState("");
  const [night, setNight] = useState(localStorage.getItem("night") === "1");
  const [now, setNow] = useState(Date.now());

  useEffect(() => {
    document.body.classList.toggle("night", night);
    localStorage.setItem("night", night ? "1" : "0");
  }, [night]);
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(t);
  }, []);
  useEffect(() => {
    let c: SkynodeClient | null = null;
    let closed = false;
    (async () => {
      c = await SkynodeClient.connect({});
      if (closed) return c.close();
      c.onConnection((s) => setLink(s));
      await c.subscribe({ filter: { telescope_uid: telescope } }, (e: Frame) => {
        if (e.kind === "event_telescope_snapshot") setTel(e.snapshot as Snap);
        else if (e.kind === "event_device_snapshot") setDevices((d) => ({ ...d, [String(e.device_uid)]: e.snapshot as Snap }));
        else if (e.kind === "event_constraint_status_snapshot") setStatus(e.snapshot as Snap);
        else if (e.kind === "event_telescope_log") setLogs((l) => [...l.slice(-199), e.entry as Snap]);
      });
      setLink("open");
      setClient(c);
    })().catch((err) => setLink(`failed: ${(err as Error).message}`));
    return () => {
      closed = true;
      c?.close();
    };
  }, [telescope]);

  const lease = tel.lease as { lease_id: string; holder: string; expires_at: string } | null | undefined;
  const mine = lease?.holder === me.name;
  const owner = me.role === "owner" || me.role === "admin";
  const canCommand = me.role !== "viewer" && (mine || owner);
  const why = me.role === "viewer" ? "viewers cannot command" : lease && !mine ? `the lease is held by ${lease.holder}` : "acquire the lease first";
  const run = async (label: string, command: Record<string, unknown>) => {
    if (!client) return null;
    setBusy(label);
    setMessage("");
    try {
      const r = await client.command(telescope, command as never);
      setMessage(r.status === "ok" ? `${label}: done` : `${label}: ${r.status} ${r.error?.message ?? ""}`);
      return r;
    } catch (err) {
      setMessage(`${label}: ${(err as Error).message}`);
      return null;
    } finally {
      setBusy("");
    }
  };
  const target = (text: string) => {
    const m = /^\s*([\d.]+)\s*[, ]\s*([-+]?[\d.]+)\s*$/.exec(text);
    return m ? { type: "equatorial", ra_deg: Number(m[1]), dec_deg: Number(m[2]) } : { type: "named", name: text.trim() };
  };
  const mount = devices.mount ?? {};
  const camera = devices.camera ?? {};
  const filters = (devices.filter_wheel?.filters as { id: string }[] | undefined) ?? [];
  const p = (tel.pointing ?? {}) as Snap;
  const exposure = camera.exposure as { started_at: string; duration_s: number } | null | undefined;
  const progress = exposure ? Math.min(1, (now - Date.parse(exposure.started_at)) / 1000 / Math.max(exposure.duration_s, 0.001)) : 0;
  const leaseLeft = lease ? Math.max(0, Math.round((Date.parse(lease.expires_at) - now) / 1000)) : 0;

  return html`<div>
    <header>
      <h1>skynode · ${telescope}</h1>
      <span class=${`badge ${link === "open" ? "ok" : "warn"}`} data-test="link">${link === "open" ? "live" : link}</span>
      <span class="muted">${me.name} (${me.role})</span>
      <button onClick=${() => setNight(!night)}>${night ? "Normal" : "Night"}</button>
      <button onClick=${async () => (await session.logout(), client?.close(), signedOut())}>Sign out</button>
    </header>
    <main>
      <div class="banner" data-test="lease">
        ${lease ? html`Manual control: <b>${lease.holder}</b> · ${Math.floor(leaseLeft / 60)}:${String(leaseLeft % 60).padStart(2, "0")} left` : html`No manual-control lease: ${tel.current_task ? `automation running ${tel.current_task.name ?? tel.current_task.task_id}` : "the telescope is free"}`}
        <span class="row">
          ${!lease && me.role !== "viewer" && html`<button class="primary" disabled=${!!busy} onClick=${() => run("acquire lease", { command_type: "manual_control_lease.acquire", duration_s: 1800, purpose: "web UI" })}>Acquire lease</button>`}
          ${lease && mine && html`<button onClick=${() => run("renew lease", { command_type: "manual_control_lease.renew", lease_id: lease.lease_id, duration_s: 1800 })}>Renew</button>
            <button onClick=${() => run("release lease", { command_type: "manual_control_lease.release", lease_id: lease.lease_id })}>Release</button>`}
        </span>
      </div>
      <section>
        <h2>Pointing</h2>
        <dl data-test="pointing">
          <dt>RA</dt><dd>${hms(p.ra_deg)}</dd><dt>Dec</dt><dd>${deg(p.dec_deg)}</dd>
          <dt>Alt / Az</dt><dd>${deg(p.alt_deg, 2)} / ${deg(p.az_deg, 2)}</dd>
          <dt>Mount</dt><dd data-test="mount-state">${mount.state ?? "—"}${mount.target?.name ? ` · ${mount.target.name}` : ""}</dd>
          <dt>Safe</dt><dd class=${tel.safe ? "ok" : "bad"}>${tel.safe === undefined ? "—" : tel.safe ? "safe" : "unsafe"}</dd>
        </dl>
        <form class="row" onSubmit=${(e: Event) => {
          e.preventDefault();
          const text = String(new FormData(e.target as HTMLFormElement).get("target"));
          void run("track", { command_type: "mount.track", target: target(text) });
        }}>
          <input name="target" placeholder="M31, Vega, Mars or RA,Dec°" disabled=${!canCommand} list="targets" />
          <datalist id="targets">${["M31", "M42", "M45", "M13", "Vega", "Arcturus", "Sirius", "Mars", "Jupiter", "Moon"].map((t) => html`<option value=${t} />`)}</datalist>
          <button class="primary" type="submit" disabled=${!canCommand || !!busy}>Track</button>
        </form>
        ${!canCommand && html`<p class="why">${why}</p>`}
      </section>
      <section>
        <h2>Camera</h2>
        <form class="row" onSubmit=${async (e: Event) => {
          e.preventDefault();
          const f = new FormData(e.target as HTMLFormElement);
          const filter = String(f.get("filter") ?? "");
          const r = await run("expose", { command_type: "camera.exposure.start", duration_s: Number(f.get("duration")), binning: Number(f.get("binning")), ...(filter ? { filter_id: filter } : {}) });
          if (r?.status === "ok" && r.data?.image_id) setShow(String(r.data.image_id));
        }}>
          <input name="duration" type="number" min="0.001" step="any" value="1" disabled=${!canCommand} aria-label="seconds" />
          <select name="binning" disabled=${!canCommand}>${((camera.binnings as number[]) ?? [1, 2]).map((b) => html`<option value=${b}>${b}×${b}</option>`)}</select>
          <select name="filter" disabled=${!canCommand}><option value="">filter</option>${filters.map((f) => html`<option value=${f.id}>${f.id}</option>`)}</select>
          <button class="primary" type="submit" disabled=${!canCommand || !!busy}>Expose</button>
        </form>
        <progress value=${progress} max="1" data-test="exposure-progress"></progress>
        <p class="muted">${camera.state ?? "—"} ${busy && `· ${busy}…`}</p>
        <p data-test="message">${message}</p>
      </section>
      <section>
        <h2>Conditions</h2>
        <ul data-test="constraints">${((status.constraints as Snap[]) ?? []).map((c) => html`<li class=${c.satisfied ? "ok" : "bad"}>${c.satisfied ? "✔" : "✘"} ${c.name}: ${String(c.value)} <span class="muted">(${c.limit})</span></li>`)}</ul>
        <dl>${Object.entries(devices).map(([uid, d]) => html`<dt>${uid}</dt><dd class=${d.connected === false ? "bad" : ""}>${d.connected === false ? "disconnected" : d.state ?? "—"}</dd>`)}</dl>
      </section>
      <${ImageViewer} client=${client} telescope=${telescope} imageId=${shown} />
      <section>
        <h2>Log</h2>
        <pre class="log">${logs.slice(-50).reverse().map((l) => `${String(l.ts).slice(11, 19)} ${l.level} ${l.msg}\n`)}</pre>
      </section>
    </main>
  </div>`;
}

// The image the viewer shows: set by a finished exposure, or "latest".
let setShow: (id: string) => void = () => {};
let shown = "latest";

function ImageViewer({ client, telescope }: { client: SkynodeClient | null; telescope: string; imageId: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [id, setId] = useState("latest");
  const [info, setInfo] = useState<ShownImage & { image_id: string } | null>(null);
  const [state, setState] = useState("");
  setShow = (next) => ((shown = next), setId(next));
  useEffect(() => {
    if (!client || !canvas.current) return;
    let stale = false;
    setState("loading…");
    client
      .request(telescope, "image.fetch", id === "latest" ? {} : { image_id: id }, { encoding: "binary", onProgress: (p) => !stale && setState(`loading ${Math.round((100 * p.received) / p.total)} %`) })
      .then((r) => {
        if (stale) return;
        const shownImage = drawFits(canvas.current!, r.bytes);
        setInfo({ ...shownImage, image_id: String(r.metadata.image_id) });
        setState("");
      })
      .catch((err) => !stale && setState(err.code === "not_found" ? "no image yet" : err.message));
    return () => void (stale = true);
  }, [client, id, telescope]);
  const max = info ? Math.max(...info.histogram.slice(1, 255), 1) : 1;
  return html`<section class="image">
    <h2>Image ${info ? html`<span class="muted">${info.image_id}</span>` : ""}</h2>
    <div class="row"><button onClick=${() => setShow("latest")}>Latest</button>${info && html`<a href=${`/v1/images/${info.image_id}.fits`} download>Download FITS</a>`}<span class="muted">${state}</span></div>
    <canvas ref=${canvas} data-test="image" width="1" height="1"></canvas>
    ${info && html`<svg viewBox="0 0 256 40" width="100%" height="40" data-test="histogram">${[...info.histogram].map((n, i) => html`<rect x=${i} width="1" y=${40 - Math.min(40, (40 * n) / max)} height=${Math.min(40, (40 * n) / max)} fill="currentColor" />`)}</svg>
      <details><summary>Header (${info.cards.length} cards)</summary><dl>${info.cards.map(([k, v]) => html`<dt>${k}</dt><dd>${String(v)}</dd>`)}</dl></details>`}
  </section>`;
}

render(html`<${App} />`, document.getElementById("app")!);
